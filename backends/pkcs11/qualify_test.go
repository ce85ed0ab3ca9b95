//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends/qualify"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/test/opencryptoki"
	"github.com/keygate/keygate/test/softhsm"
)

// objects counts the token objects the backend's user can see.
func objects(t *testing.T, b *Backend) int {
	t.Helper()
	n := 0
	err := b.pool.withSession(context.Background(), func(s p11.SessionHandle) error {
		if err := b.api.FindObjectsInit(s, nil); err != nil {
			return err
		}
		defer b.api.FindObjectsFinal(s)
		found, _, err := b.api.FindObjects(s, 1000)
		n = len(found)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// qualifyToken runs qualify on a backend over tok and checks it left no
// object behind.
func qualifyToken(t *testing.T, tok softhsm.Token) *qualify.Report {
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN), 0o600); err != nil {
		t.Fatal(err)
	}
	b := openTest(t, Config{Module: tok.Module, TokenLabel: tok.Label, PINFile: pinFile})
	before := objects(t, b)
	r := qualify.Run(context.Background(), b)
	var out bytes.Buffer
	r.Write(&out)
	t.Logf("qualify matrix:\n%s", out.String())
	if after := objects(t, b); after != before || len(r.Left) != 0 {
		t.Errorf("qualify left objects behind: %d before, %d after, left %v", before, after, r.Left)
	}
	return r
}

// TestQualifySoftHSM: SoftHSM2 supports every kind and gets every one right.
func TestQualifySoftHSM(t *testing.T) {
	r := qualifyToken(t, softhsm.New(t))
	for _, c := range r.Cells {
		if c.Outcome != qualify.OK {
			t.Errorf("%s %s: %s %s", c.Kind, c.Op, c.Outcome, c.Detail)
		}
	}
	if !r.Passed() || len(r.Cells) < 30 {
		t.Errorf("passed %t with %d cells", r.Passed(), len(r.Cells))
	}
}

// TestQualifyOpencryptoki: opencryptoki's software token signs with RSA
// (all six algorithms), decrypts OAEP and MACs, and lacks EC and AES-GCM,
// which the matrix shows as unsupported, not as failures.
func TestQualifyOpencryptoki(t *testing.T) {
	r := qualifyToken(t, opencryptoki.New(t))
	if !r.Passed() {
		t.Error("qualify failed on opencryptoki")
	}
	for _, c := range r.Cells {
		want := qualify.OK
		if c.Kind.Spec.IsEC() || c.Kind.Spec == keys.SymmetricDefault {
			want = qualify.Unsupported
		}
		if c.Outcome != want {
			t.Errorf("%s %s: %s (%s), want %s", c.Kind, c.Op, c.Outcome, c.Detail, want)
		}
		if want == qualify.Unsupported && !strings.Contains(c.Detail, "CKM_EC_KEY_PAIR_GEN") && !strings.Contains(c.Detail, "CKM_AES_GCM") {
			t.Errorf("%s: %q does not name the missing mechanism", c.Kind, c.Detail)
		}
	}
}

// wrongSigAPI corrupts every signature, as a broken token would.
type wrongSigAPI struct{ api }

func (w wrongSigAPI) Sign(s p11.SessionHandle, msg []byte) ([]byte, error) {
	sig, err := w.api.Sign(s, msg)
	if len(sig) > 0 {
		sig[len(sig)-1] ^= 1
	}
	return sig, err
}

// TestQualifyFindsWrongResults: a token that answers wrongly fails qualify.
func TestQualifyFindsWrongResults(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openTest(t, cfg)
	b.api = wrongSigAPI{b.api}
	r := qualify.Run(context.Background(), b)
	if r.Passed() {
		t.Fatal("qualify passed a token whose signatures are wrong")
	}
	wrong := 0
	for _, c := range r.Cells {
		if c.Outcome == qualify.Wrong {
			wrong++
		}
	}
	// Every signing algorithm, plus HMAC (the corrupted MACs are still
	// deterministic and distinct, so only signatures are caught there).
	if wrong < 8 {
		t.Errorf("%d wrong results, want every signature", wrong)
	}
}
