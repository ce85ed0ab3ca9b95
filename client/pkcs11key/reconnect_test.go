//go:build cgo

package pkcs11key

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/test/softhsm"
)

// A session lost under an open key (a card pulled and put back) is
// restored at the next signature, asking for the PIN again (the Key keeps
// none); a different key found under the same label is refused.
func TestSignAfterTheSessionIsLost(t *testing.T) {
	ctx := context.Background()
	tok := softhsm.New(t)
	asked := 0
	prompt := WithPINPrompt(func(context.Context, string) (string, error) { asked++; return tok.PIN, nil })
	uri := fmt.Sprintf("pkcs11:token=%s;object=alice?module-path=%s", tok.Label, tok.Module)
	g, err := Generate(ctx, uri, "ECC_NIST_P256", prompt)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	k, err := Open(ctx, uri, prompt)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	digest := sha256.Sum256([]byte("handshake"))
	sign := func() error {
		sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err == nil && !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig) {
			t.Fatal("the signature does not verify")
		}
		return err
	}
	if err := k.lib.CloseSession(k.session); err != nil {
		t.Fatal(err)
	}
	before := asked
	if err := sign(); err != nil {
		t.Fatalf("after the session was lost: %v", err)
	}
	if asked != before+1 {
		t.Fatalf("the PIN was asked %d times to restore the session, want once", asked-before)
	}

	// Another key under the same label: the session is lost again, and
	// the key found is not the one opened.
	s, err := k.lib.OpenSession(k.slotOf(t), p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.lib.DestroyObject(s, k.priv); err != nil {
		t.Fatal(err)
	}
	k.lib.CloseSession(s)
	other, err := Generate(ctx, uri, "ECC_NIST_P256", prompt)
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	k.lib.CloseSession(k.session)
	if err := sign(); err == nil || !strings.Contains(err.Error(), "is not the key opened") {
		t.Fatalf("a swapped key: %v", err)
	}
}

func (k *Key) slotOf(t *testing.T) uint {
	slot, _, err := k.slot()
	if err != nil {
		t.Fatal(err)
	}
	return slot
}
