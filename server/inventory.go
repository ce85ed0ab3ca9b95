package server

import (
	"context"

	"github.com/keygate/keygate/internal/kgerr"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// GetInventory lists the key registry for an auditor: reconciliation needs
// each version's backend key and whether its backend has CloudTrail, the
// evidence pack the policies and the principals they are evaluated for.
func (as *auditService) GetInventory(ctx context.Context, _ *pb.GetInventoryRequest) (*pb.GetInventoryResponse, error) {
	types := map[string]string{}
	for _, b := range as.s.cfg.Backends {
		types[b.Name] = b.Type
	}
	resp := &pb.GetInventoryResponse{Admins: as.s.cfg.Admins, Auditors: as.s.cfg.Auditors}
	for _, p := range as.s.cfg.Principals {
		resp.Principals = append(resp.Principals, p.ARN)
	}
	const page = 500
	for after := ""; ; {
		ks, err := as.s.keys.List(ctx, after, page)
		if err != nil {
			return nil, kgerr.Wrap(kgerr.Unavailable, err, "key registry unavailable")
		}
		for _, k := range ks {
			resp.Keys = append(resp.Keys, &pb.InventoryKey{Key: as.s.keyMetadata(k, nil), BackendType: types[k.Backend], Policy: string(k.Policy)})
		}
		if len(ks) < page {
			return resp, nil
		}
		after = ks[len(ks)-1].Name
	}
}
