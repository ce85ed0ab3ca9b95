package backends

import "context"

// CallInfo carries what a backend learns during a call that the audit
// record needs: for KMS the x-amzn-RequestId of the attempt that succeeded,
// which is CloudTrail's requestID.
type CallInfo struct {
	RequestID string
}

type callInfoKey struct{}

// WithCallInfo returns a context through which a backend reports to info.
func WithCallInfo(ctx context.Context, info *CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, info)
}

// SetRequestID records the backend's request id for the current call, if
// the caller asked for it. The first id wins: a call that makes several
// backend requests (CreateKey, then DescribeKey to open the key) is joined
// to CloudTrail by the request that did the call's work.
func SetRequestID(ctx context.Context, id string) {
	if info, ok := ctx.Value(callInfoKey{}).(*CallInfo); ok && info.RequestID == "" {
		info.RequestID = id
	}
}
