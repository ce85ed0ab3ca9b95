package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
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
	if req.RotationPeriodInDays == nil && req.CryptoperiodDays == nil && req.DualControl == nil {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "set rotation_period_in_days, cryptoperiod_days or dual_control")
	}
	var rot, cp *time.Duration
	if req.RotationPeriodInDays != nil {
		d := days(*req.RotationPeriodInDays)
		rot = &d
	}
	if req.CryptoperiodDays != nil {
		d := days(*req.CryptoperiodDays)
		cp = &d
	}
	e := c.Key
	if rot != nil || cp != nil {
		var err error
		if e, err = as.s.keys.SetPeriods(ctx, req.KeyId, rot, cp); err != nil {
			return nil, err
		}
	}
	if req.DualControl != nil {
		var err error
		if e, err = as.setDualControl(ctx, c, req.KeyId, req.DualControl); err != nil {
			return nil, err
		}
	}
	c.Key = e
	return &pb.UpdateKeyRotationResponse{Key: as.s.metadata(ctx, e)}, nil
}

// setDualControl changes which operations on a key need a second admin.
// It needs kms:PutKeyPolicy too, and while the key's policy changes are
// under dual control no operation may leave the list: one admin alone
// must not be able to switch a second admin off.
func (as *adminService) setDualControl(ctx context.Context, c *Call, name string, dc *pb.DualControl) (*keyring.Entry, error) {
	if err := checkDualOps(dc.Operations); err != nil {
		return nil, err
	}
	if err := as.s.authz.authorizeAlso(c, "kms:PutKeyPolicy"); err != nil {
		return nil, err
	}
	return as.s.keys.Update(ctx, name, func(k *keys.Key) error {
		next := slices.Clone(dc.Operations)
		if dc.UseDefault {
			next = nil
		} else if next == nil {
			next = []string{} // none, rather than the default
		}
		was, will := as.s.dualControlOf(k), as.s.dualControlOf(&keys.Key{DualControl: next})
		if slices.Contains(was, "PutKeyPolicy") {
			for _, op := range was {
				if !slices.Contains(will, op) {
					return kgerr.Errorf(kgerr.FailedPrecondition,
						"key %q: %s cannot leave dual control while PutKeyPolicy is under it", name, op)
				}
			}
		}
		k.DualControl = next
		return nil
	})
}

// lifecycleHealth is the health service name that turns NOT_SERVING while
// a key's cryptoperiod is overdue: the server still serves, but operators
// and monitors must hear of it.
const lifecycleHealth = "keygate.v1.KeyLifecycle"

// rotationLease is the store lease of the replica that rotates keys.
const rotationLease = "automatic-rotation"

// Tick does the lifecycle's periodic work once: if this replica holds the
// rotation lease, it rotates the keys due for automatic rotation and
// destroys the versions whose deletion waiting period is over; every
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
		c := &Call{Start: s.now(), Method: "keygated/automatic-rotation", Action: "keygate:CreateKeyVersion",
			Principal: Principal{ARN: "keygated:" + s.cfg.Audit.Replica}}
		rotated, err := s.keys.RotateDue(context.WithValue(ctx, callKey{}, c))
		for _, name := range rotated {
			s.log.Info("key rotated automatically", "key", name)
		}
		if err != nil {
			s.log.Error("automatic rotation", "err", err)
		}
		d := &Call{Start: s.now(), Method: "keygated/scheduled-destruction", Action: "keygate:DestroyKeyVersion",
			Principal: c.Principal}
		destroyed, err := s.keys.DestroyDue(context.WithValue(ctx, callKey{}, d))
		for _, v := range destroyed {
			s.log.Info("key version destroyed at the end of its waiting period", "version", v)
		}
		if err != nil {
			s.log.Error("scheduled destruction", "err", err)
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
	err := s.keys.Each(ctx, func(k *keys.Key) error {
		for i := range k.Versions {
			if due, ok := s.due(k, &k.Versions[i]); ok && !now.Before(due) && k.State == keys.Enabled {
				out = append(out, k.Name)
				break
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("cryptoperiod check", "err", err)
	}
	return out
}

// lifecycleLoop runs Tick until ctx ends.
func (s *Server) lifecycleLoop(ctx context.Context) {
	tick := func() { s.Tick(ctx) }
	tick()
	every(ctx, s.cfg.Lifecycle.RotationCheck, tick)
}

// newHolder names this process in leases: its replica name and a random
// suffix, as two processes may share a host name.
func newHolder(replica string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return replica + "/" + hex.EncodeToString(b)
}
