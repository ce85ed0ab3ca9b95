package server

import (
	"context"
	"encoding/hex"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Finding events by an encryption-context value (issue 16, finding 8): the
// log holds each value only as an HMAC under the server's secret, so the
// server hashes a value for an auditor (HashContext) and matches a
// filter's HMACs on the decoded events, which the store cannot query.

// contextMatch is the filter's encryption-context condition (nil: none):
// the event's context holds every key with a value of that HMAC.
func contextMatch(f *pb.EventFilter) func(*audit.Event) bool {
	if f == nil || len(f.EncryptionContext) == 0 {
		return nil
	}
	want := map[string][32]byte{}
	for _, c := range f.EncryptionContext {
		var mac [32]byte
		hex.Decode(mac[:], []byte(c.ValueHmac)) // validFilter checked it
		want[c.Key] = mac
	}
	return func(e *audit.Event) bool {
		n := 0
		for _, c := range e.Context {
			if mac, ok := want[c.Key]; ok && mac == c.ValueMAC {
				n++
			}
		}
		return n == len(want)
	}
}

// maxScan bounds the events one ListEvents call reads to fill a page
// under a condition the store cannot query (an encryption context): the
// page may then be short, with a page token to go on.
var maxScan = 50_000 // a var: the paging test makes pages short

// listEvents reads one page of q's events that match (nil: all), and the
// seq the next page starts after (0: there is none).
func listEvents(ctx context.Context, l *audit.Log, q audit.Query, match func(*audit.Event) bool) ([]*audit.Event, uint64, error) {
	if match == nil {
		evs, err := l.Events(ctx, q)
		if err != nil || len(evs) < q.Limit {
			return evs, 0, err
		}
		return evs, evs[len(evs)-1].Seq, nil
	}
	var out []*audit.Event
	scan := q
	scan.Limit = min(audit.MaxLimit, maxScan)
	for scanned := 0; scanned < maxScan; {
		evs, err := l.Events(ctx, scan)
		if err != nil {
			return nil, 0, err
		}
		for _, e := range evs {
			scan.AfterSeq = e.Seq
			if match(e) {
				if out = append(out, e); len(out) == q.Limit {
					return out, e.Seq, nil
				}
			}
		}
		if len(evs) < scan.Limit {
			return out, 0, nil
		}
		scanned += len(evs)
	}
	return out, scan.AfterSeq, nil
}

// HashContext gives the HMAC the log stores for each encryption-context
// value, so an auditor can find events by a value it knows. The call's
// own event holds the keys and HMACs asked for, never the values.
func (as *auditService) HashContext(ctx context.Context, req *pb.HashContextRequest) (*pb.HashContextResponse, error) {
	l, err := as.open(ctx)
	if err != nil {
		return nil, err
	}
	if len(req.EncryptionContext) == 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "encryption_context is required")
	}
	if err := checkEncContext(req.EncryptionContext, keys.SymmetricDefaultAlg); err != nil {
		return nil, err
	}
	callOf(ctx).EncContext = req.EncryptionContext
	resp := &pb.HashContextResponse{}
	for _, f := range l.HashContext(req.EncryptionContext) {
		resp.EncryptionContext = append(resp.EncryptionContext, &pb.ContextField{Key: f.Key, ValueHmac: hex.EncodeToString(f.ValueMAC[:])})
	}
	return resp, nil
}
