package server

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
	keysql "github.com/keygate/keygate/keys/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// GetKeyPolicyHistory answers "who granted what on this key, when, and who
// approved it": each document in the history table with the audit event
// that set it. A document whose digest its event does not name was not
// written by keygated, and is refused rather than shown as history.
func (as *adminService) GetKeyPolicyHistory(ctx context.Context, req *pb.GetKeyPolicyHistoryRequest) (*pb.GetKeyPolicyHistoryResponse, error) {
	if as.s.auditStore == nil {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the policy history is kept with the audit log, which is disabled")
	}
	name := callOf(ctx).Key.Key.Name
	hist, err := as.s.keyStore.PolicyHistory(ctx, name)
	if err != nil {
		return nil, err
	}
	resp := &pb.GetKeyPolicyHistoryResponse{}
	for _, h := range hist {
		e, err := eventAt(ctx, as.s.auditStore, h.Seq)
		if err != nil {
			return nil, err
		}
		sum := keysql.PolicySHA256(h.Policy)
		if e == nil || e.KeyName != name || sum != h.SHA256 || !strings.Contains(e.Detail, "-> sha256:"+sum) {
			return nil, kgerr.Errorf(kgerr.Internal, "key %q: the policy history entry at seq %d does not match its audit event; it was changed outside keygate", name, h.Seq)
		}
		resp.Changes = append(resp.Changes, &pb.PolicyChange{Seq: e.Seq, Time: timestamppb.New(e.Time), Principal: e.Principal,
			Action: e.Action, Detail: e.Detail, PolicySha256: sum, Policy: string(h.Policy)})
	}
	return resp, nil
}

// eventAt reads the event at seq, or nil if the chain no longer holds it
// (pruned into an archive).
func eventAt(ctx context.Context, st audit.Store, seq uint64) (*audit.Event, error) {
	recs, err := st.Records(ctx, audit.Query{AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
	}
	if len(recs) == 0 || recs[0].Seq != seq {
		return nil, nil
	}
	e, err := audit.Decode(recs[0].Body)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, fmt.Sprintf("audit event %d does not decode", seq))
	}
	return e, nil
}
