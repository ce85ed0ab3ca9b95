package backendtest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/keygate/keygate/keys"
)

// testConcurrent runs signing, encryption and MACs from many goroutines at
// once and checks every result, so a backend that shares per-call state
// (a PKCS#11 session, a buffer) fails here, and under -race.
func (s *suite) testConcurrent(t *testing.T) {
	const workers, rounds = 16, 8
	ctx := context.Background()
	ec := s.keys[keyCase{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}]
	aes := s.keys[keyCase{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt}]
	mac := s.keys[keyCase{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}]
	wantMAC, err := mac.MAC(ctx, keys.HMACSHA256, []byte("shared"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				msg := []byte(fmt.Sprintf("worker %d round %d", w, r))
				digest := digestOf(keys.ECDSASHA256, msg)
				sig, err := ec.Sign(ctx, keys.ECDSASHA256, digest)
				if err != nil || !verify(ec, keys.ECDSASHA256, digest, sig) {
					errs <- fmt.Errorf("worker %d: Sign: bad signature or %v", w, err)
				}
				encCtx := map[string]string{"worker": fmt.Sprint(w)}
				blob, err := aes.Encrypt(ctx, keys.SymmetricDefaultAlg, msg, encCtx)
				if err == nil {
					var got []byte
					got, err = aes.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, encCtx)
					if err == nil && !bytes.Equal(got, msg) {
						err = fmt.Errorf("round trip gave another plaintext")
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d: AES: %v", w, err)
				}
				if m, err := mac.MAC(ctx, keys.HMACSHA256, []byte("shared")); err != nil || !bytes.Equal(m, wantMAC) {
					errs <- fmt.Errorf("worker %d: MAC differs or failed: %v", w, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
