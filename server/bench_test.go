package server

import (
	"context"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// BenchmarkCall measures one RPC class through the whole pipeline in one
// process: the client, gRPC over mutual TLS on loopback, identity,
// validation, policy, the memory backend, the durable audit log (SQLite,
// fsynced) and, for 3DS, the session store. 16 callers (8 per CPU on
// this 2-CPU machine, as `make bench` runs at c=16). It reports the
// process's CPU per call ("cpu-µs/op", client side included), which is
// steadier than wall time on a shared machine:
//
//	go test -run '^$' -bench Call -benchtime 4000x -count 3 ./server
func BenchmarkCall(b *testing.B) {
	ce := startChallenge(b, nil)
	ctx := context.Background()
	cs := ce.crypto("acs")
	health := healthpb.NewHealthClient(ce.as("acs"))
	cres := []byte(`{"acsTransID":"` + testTransID + `","messageType":"CRes","transStatus":"Y"}`)
	// sessions hands each caller a fresh session when its own is used up.
	sessions := func(b *testing.B) func() *sdkSession {
		pool := make(chan *sdkSession, b.N/256+64)
		for range cap(pool) {
			ss, err := ce.open()
			must(b, err)
			pool <- ss
		}
		return func() *sdkSession {
			select {
			case ss := <-pool:
				return ss
			default:
				b.Error("session pool empty")
				return nil
			}
		}
	}
	run := func(b *testing.B, caller func() func() error) {
		b.SetParallelism(8)
		cpu0 := cpuTime()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			call := caller()
			for pb.Next() {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	stateless := func(f func() error) func() func() error { return func() func() error { return f } }

	b.Run("Health", func(b *testing.B) {
		run(b, stateless(func() error { _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); return err }))
	})
	b.Run("GetPublicKey", func(b *testing.B) {
		req := &pb.GetPublicKeyRequest{KeyId: "acs-signing"}
		run(b, stateless(func() error { _, err := cs.GetPublicKey(ctx, req); return err }))
	})
	b.Run("Sign", func(b *testing.B) {
		req := &pb.SignRequest{KeyId: "acs-signing", Message: []byte("acs signed content"), SigningAlgorithm: "ECDSA_SHA_256"}
		run(b, stateless(func() error { _, err := cs.Sign(ctx, req); return err }))
	})
	b.Run("CreateAcsSession", func(b *testing.B) {
		run(b, stateless(func() error { _, err := ce.open(); return err }))
	})
	// perSession makes a caller that sends messages on one session, and
	// moves to the next session after 256 (each carries a counter).
	perSession := func(b *testing.B, send func(ss *sdkSession, n int) error) func() func() error {
		next := sessions(b)
		return func() func() error {
			ss, n := next(), 0
			return func() error {
				if n == 256 {
					ss, n = next(), 0
				}
				err := send(ss, n)
				n++
				return err
			}
		}
	}
	b.Run("DecryptChallengeRequest", func(b *testing.B) {
		run(b, perSession(b, func(ss *sdkSession, n int) error {
			_, err := ce.tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: ss.id, Jwe: ss.creq(n)})
			return err
		}))
	})
	b.Run("EncryptChallengeResponse", func(b *testing.B) {
		run(b, perSession(b, func(ss *sdkSession, _ int) error {
			_, err := ce.tds.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: ss.id, Cres: cres})
			return err
		}))
	})
}

// cpuTime is this process's CPU time, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
