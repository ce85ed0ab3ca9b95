package server

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// auditService implements AuditService over the server's audit log.
type auditService struct {
	pb.UnimplementedAuditServiceServer
	s *Server
}

// open returns the audit log (the pipeline authorized the read).
func (as *auditService) open(context.Context) (*audit.Log, error) {
	if as.s.chain == nil {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the audit log is disabled on this server")
	}
	return as.s.chain.log, nil
}

func (as *auditService) ListEvents(ctx context.Context, req *pb.ListEventsRequest) (*pb.ListEventsResponse, error) {
	l, err := as.open(ctx)
	if err != nil {
		return nil, err
	}
	if err := validFilter(req.Filter); err != nil {
		return nil, err
	}
	if err := as.checkNamed(ctx, req.Filter); err != nil {
		return nil, err
	}
	q := query(req.Filter)
	switch {
	case req.PageSize == 0:
		q.Limit = 100
	case req.PageSize > 1000:
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "page_size must be at most 1000")
	default:
		q.Limit = int(req.PageSize)
	}
	page, err := pageOf(ctx, as.s.auditStore, req.PageToken)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListEventsResponse{}
	if page.through == 0 {
		return resp, nil // an empty log: ThroughSeq 0 would mean no bound
	}
	q.AfterSeq, q.ThroughSeq = page.after, page.through
	evs, next, err := listEvents(ctx, l, q, contextMatch(req.Filter))
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
	}
	for _, e := range evs {
		resp.Events = append(resp.Events, eventProto(e))
	}
	if next != 0 && next < page.through { // a page ending at the pin is the last
		resp.NextPageToken = eventPage{next, page.through}.String()
	}
	return resp, nil
}

func (as *auditService) TailEvents(req *pb.TailEventsRequest, stream pb.AuditService_TailEventsServer) error {
	ctx := stream.Context()
	l, err := as.open(ctx)
	if err != nil {
		return err
	}
	if err := validFilter(req.Filter); err != nil {
		return err
	}
	if err := as.checkNamed(ctx, req.Filter); err != nil {
		return err
	}
	if err := as.recordOpen(ctx, "tail opened"); err != nil {
		return err
	}
	q := query(req.Filter)
	q.AfterSeq = req.AfterSeq
	if q.AfterSeq == 0 {
		last, err := l.Events(ctx, audit.Query{Desc: true, Limit: 1})
		if err != nil {
			return kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
		}
		if len(last) == 1 {
			q.AfterSeq = last[0].Seq
		}
	}
	match := contextMatch(req.Filter)
	err = l.Follow(ctx, q, time.Second, func(e *audit.Event) error {
		if match != nil && !match(e) {
			return nil
		}
		return stream.Send(&pb.TailEventsResponse{Event: eventProto(e)})
	})
	if ctx.Err() != nil {
		return nil // the follower hung up: a normal end of a tail
	}
	return err
}

func (as *auditService) VerifyLog(ctx context.Context, _ *pb.VerifyLogRequest) (*pb.VerifyLogResponse, error) {
	if _, err := as.open(ctx); err != nil {
		return nil, err
	}
	v, err := audit.NewVerifier(as.s.chain.signerPublic())
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "checkpoint key")
	}
	r, err := audit.VerifyWith(ctx, as.s.auditStore, v, audit.VerifyOptions{Witnesses: as.s.chain.readers, MaxAge: as.s.chain.maxAge, Now: as.s.now})
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
	}
	rows, err := RegistryProblems(ctx, as.s.keyStore, as.s.auditStore)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Unavailable, err, "key registry unavailable")
	}
	r.Problems = append(r.Problems, rows...)
	return VerifyLogResponse(r), nil
}

func (as *auditService) GetCheckpointKey(ctx context.Context, _ *pb.GetCheckpointKeyRequest) (*pb.GetCheckpointKeyResponse, error) {
	l, err := as.open(ctx)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(as.s.chain.signerPublic())
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "checkpoint key")
	}
	return &pb.GetCheckpointKeyResponse{PublicKeyPem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), KeyId: l.KeyID()}, nil
}

func (as *auditService) ExportArchive(req *pb.ExportArchiveRequest, stream pb.AuditService_ExportArchiveServer) error {
	ctx := stream.Context()
	if _, err := as.open(ctx); err != nil {
		return err
	}
	if req.Until == nil {
		return kgerr.Errorf(kgerr.InvalidArgument, "until is required")
	}
	if err := as.recordOpen(ctx, "archive export opened"); err != nil {
		return err
	}
	v, err := audit.NewVerifier(as.s.chain.signerPublic())
	if err != nil {
		return kgerr.Wrap(kgerr.Internal, err, "checkpoint key")
	}
	callOf(ctx).Detail = "archive until " + req.Until.AsTime().UTC().Format(time.RFC3339)
	if err := as.s.anchorRegistry(ctx, "registry anchored before an archive until "+req.Until.AsTime().UTC().Format(time.RFC3339)); err != nil {
		return kgerr.Wrap(kgerr.Unavailable, err, "key registry digests could not be carried past the archive")
	}
	w := &chunkWriter{send: func(b []byte) error { return stream.Send(&pb.ExportArchiveResponse{Data: b}) }}
	if _, err := audit.Export(ctx, as.s.auditStore, v, req.Until.AsTime(), w); err != nil {
		return kgerr.Wrap(kgerr.FailedPrecondition, err, "archive could not be exported: "+err.Error())
	}
	return w.flush()
}

// recordOpen records a stream's read of the log when it starts, not only
// when it ends: a tail can run for hours, and reading the audit log is an
// act the log must show (PCI DSS 10.2.1.3). The call's own event follows
// when the stream ends.
func (as *auditService) recordOpen(ctx context.Context, detail string) error {
	c := *callOf(ctx)
	c.Detail, c.Latency = detail, time.Since(c.Start)
	if err := as.s.rec.Record(context.WithoutCancel(ctx), &c); err != nil {
		return kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
	}
	return nil
}

// chunkWriter sends an archive in 64 KiB messages.
type chunkWriter struct {
	buf  []byte
	send func([]byte) error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for len(w.buf) >= 64<<10 {
		if err := w.send(w.buf[:64<<10]); err != nil {
			return 0, err
		}
		w.buf = append(w.buf[:0], w.buf[64<<10:]...)
	}
	return len(p), nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	return w.send(w.buf)
}

func eventProto(e *audit.Event) *pb.AuditEvent {
	p := &pb.AuditEvent{
		Seq: e.Seq, PrevHash: e.PrevHash[:], Hash: e.Hash[:], Time: timestamppb.New(e.Time), Kind: string(e.Kind),
		Replica: e.Replica, Principal: e.Principal, CertSubject: e.CertSubject, CertSerial: e.CertSerial, CertUri: e.CertURI,
		Peer: e.Peer, Action: e.Action, KeyName: e.KeyName, KeyVersion: e.KeyVersion, BackendKeyId: e.BackendKeyID,
		BackendRequestId: e.BackendRequestID, Algorithm: e.Algorithm, Decision: e.Decision, Sid: e.Sid, Result: e.Result,
		Error: e.Error, Latency: durationpb.New(e.Latency), CorrelationId: e.Correlation, Detail: e.Detail,
	}
	for _, f := range e.Context {
		p.EncryptionContext = append(p.EncryptionContext, &pb.ContextField{Key: f.Key, ValueHmac: hex.EncodeToString(f.ValueMAC[:])})
	}
	return p
}

// VerifyLogResponse is an audit verification report in the API's shape;
// the CLI's offline verification prints through it too.
func VerifyLogResponse(r *audit.Report) *pb.VerifyLogResponse {
	resp := &pb.VerifyLogResponse{Ok: r.OK(), Events: r.Events, Checkpoints: uint32(r.Checkpoints), Protected: r.Protected,
		Unprotected: r.Unprotected, HeadSeq: r.Head.Seq, HeadHash: r.Head.Hash[:]}
	for _, p := range r.Problems {
		resp.Problems = append(resp.Problems, &pb.VerifyProblem{Kind: string(p.Kind), Seq: p.Seq, Message: p.Msg})
	}
	return resp
}
