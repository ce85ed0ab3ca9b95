package server

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// GetInventory lists the key registry for an auditor: reconciliation needs
// each version's backend key and whether its backend has CloudTrail, the
// evidence pack the policies and the principals they are evaluated for.
func (as *auditService) GetInventory(ctx context.Context, _ *pb.GetInventoryRequest) (*pb.GetInventoryResponse, error) {
	types, fips := map[string]string{}, map[string]string{}
	for _, b := range as.s.cfg.Backends {
		types[b.Name], fips[b.Name] = b.Type, fipsLevel(b)
	}
	resp := &pb.GetInventoryResponse{Admins: as.s.cfg.Admins, Auditors: as.s.cfg.Auditors}
	for _, p := range as.s.cfg.Principals {
		resp.Principals = append(resp.Principals, p.ARN)
	}
	err := as.s.keys.Each(ctx, func(k *keys.Key) error {
		resp.Keys = append(resp.Keys, &pb.InventoryKey{Key: as.s.keyMetadata(k, nil), BackendType: types[k.Backend],
			Policy: string(k.Policy), FipsLevel: fips[k.Backend], OwnKey: as.s.authz.own[k.Name]})
		return nil
	})
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Unavailable, err, "key registry unavailable")
	}
	return resp, nil
}

// fipsLevel is what keygate knows of a backend's FIPS 140 validation: AWS
// KMS's HSMs and CloudHSM are FIPS 140-3 Level 3; SoftHSM2 is software
// for development; another PKCS#11 module is whatever its certificate says.
func fipsLevel(b BackendConfig) string {
	if b.Type == "kms" {
		return "FIPS 140-3 Level 3 (AWS KMS)"
	}
	var c struct {
		Module string `yaml:"module"`
	}
	_ = b.Config.Decode(&c)
	switch m := strings.ToLower(c.Module); {
	case strings.Contains(m, "cloudhsm"):
		return "FIPS 140-3 Level 3 (AWS CloudHSM)"
	case strings.Contains(m, "softhsm"):
		return "none: SoftHSM2 (development only)"
	case c.Module != "":
		return "per the certificate of " + filepath.Base(c.Module)
	}
	return "unknown"
}
