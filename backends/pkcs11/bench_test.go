//go:build cgo

package pkcs11

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
)

var createP256 = backends.CreateRequest{Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Label: "bench/v1"}

// BenchmarkSignECDSAP256 is the direct-PKCS#11 baseline for keygate's load
// benchmark: ECDSA_SHA_256 on SoftHSM2 through this backend, no gRPC, at
// 1, 16 and 64 concurrent callers (max_sessions 32).
//
//	go test -run '^$' -bench SignECDSAP256 ./backends/pkcs11/
func BenchmarkSignECDSAP256(b *testing.B) {
	cfg, _ := testConfig(b)
	be := openTest(b, cfg)
	ctx := context.Background()
	id, err := be.CreateKey(ctx, createP256)
	if err != nil {
		b.Fatal(err)
	}
	k, err := be.Open(ctx, id, keys.ECCNISTP256, keys.SignVerify)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("benchmark"))
	for _, conc := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("c%d", conc), func(b *testing.B) {
			// RunParallel runs parallelism*GOMAXPROCS goroutines.
			b.SetParallelism(max(1, conc/runtime.GOMAXPROCS(0)))
			if conc == 1 {
				b.SetParallelism(1)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := k.Sign(ctx, keys.ECDSASHA256, digest[:]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
