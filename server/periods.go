package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

func days(n uint32) time.Duration { return time.Duration(n) * 24 * time.Hour }

func inDays(d time.Duration) uint32 { return uint32(d / (24 * time.Hour)) }

// due is when version v of k must be replaced: the ACTIVE version, a
// cryptoperiod after it was made.
func (s *Server) due(k *keys.Key, v *keys.Version) (time.Time, bool) {
	cp := s.cfg.cryptoperiod(k)
	if cp == 0 || v.State != keys.VersionActive {
		return time.Time{}, false
	}
	return v.CreatedAt.Add(cp), true
}

func (as *adminService) UpdateKeyRotation(ctx context.Context, req *pb.UpdateKeyRotationRequest) (*pb.UpdateKeyRotationResponse, error) {
	c := callOf(ctx)
	var rot, cp *time.Duration
	if req.RotationPeriodInDays != nil {
		d := days(*req.RotationPeriodInDays)
		rot = &d
	}
	if req.CryptoperiodDays != nil {
		d := days(*req.CryptoperiodDays)
		cp = &d
	}
	e, err := as.s.keys.SetPeriods(ctx, req.KeyId, rot, cp)
	if err != nil {
		return nil, err
	}
	c.Key = e
	return &pb.UpdateKeyRotationResponse{Key: as.s.metadata(ctx, e)}, nil
}

// lifecycleHealth is the health service name that turns NOT_SERVING while
// a key's cryptoperiod is overdue: the server still serves, but operators
// and monitors must hear of it.
const lifecycleHealth = "keygate.v1.KeyLifecycle"

// rotationLease is the store lease of the replica that rotates keys.
const rotationLease = "automatic-rotation"

// Tick does the lifecycle's periodic work once: if this replica holds the
// rotation lease, it rotates the keys due for automatic rotation; every
// replica then checks cryptoperiods, warns of overdue keys and reports
// them in health. keygated runs it every lifecycle.rotation_check; tests
// call it with a clock they move. It reports whether this replica held
// the rotation lease.
func (s *Server) Tick(ctx context.Context) (rotator bool) {
	now := s.keys.Now()
	held, err := s.keyStore.TakeLease(ctx, rotationLease, s.holder, now, 3*s.cfg.Lifecycle.RotationCheck)
	if err != nil {
		s.log.Error("automatic rotation: lease", "err", err)
	} else if held {
		// keygated's own changes are audited as calls of its own.
		c := &Call{Start: time.Now(), Method: "keygated/automatic-rotation", Action: "keygate:CreateKeyVersion",
			Principal: Principal{ARN: "keygated:" + s.cfg.Audit.Replica}}
		rotated, err := s.keys.RotateDue(context.WithValue(ctx, callKey{}, c))
		for _, name := range rotated {
			s.log.Info("key rotated automatically", "key", name)
		}
		if err != nil {
			s.log.Error("automatic rotation", "err", err)
		}
	}
	overdue := s.overdue(ctx, now)
	s.metrics.keysOverdue(len(overdue))
	for _, name := range overdue {
		s.log.Warn("key cryptoperiod overdue: rotate it", "key", name)
	}
	st := healthpb.HealthCheckResponse_SERVING
	if len(overdue) > 0 {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus(lifecycleHealth, st)
	return held
}

// overdue names the keys whose ACTIVE version has outlived its cryptoperiod.
func (s *Server) overdue(ctx context.Context, now time.Time) []string {
	var out []string
	after := ""
	for {
		page, err := s.keys.List(ctx, after, 100)
		if err != nil {
			s.log.Error("cryptoperiod check", "err", err)
			return out
		}
		for _, k := range page {
			for i := range k.Versions {
				if due, ok := s.due(k, &k.Versions[i]); ok && !now.Before(due) && k.State == keys.Enabled {
					out = append(out, k.Name)
					break
				}
			}
		}
		if len(page) < 100 {
			return out
		}
		after = page[len(page)-1].Name
	}
}

// lifecycleLoop runs Tick until ctx ends.
func (s *Server) lifecycleLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Lifecycle.RotationCheck)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// newHolder names this process in leases: its replica name and a random
// suffix, as two processes may share a host name.
func newHolder(replica string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return replica + "/" + hex.EncodeToString(b)
}
