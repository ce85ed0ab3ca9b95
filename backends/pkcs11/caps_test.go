//go:build cgo

package pkcs11

import (
	"context"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// TestCapabilities reads SoftHSM2's mechanisms (it can do every kind), then
// takes mechanisms away as a lesser token would lack them: creating and
// using what needs them is FailedPrecondition naming the mechanism.
func TestCapabilities(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openTest(t, cfg)
	ctx := context.Background()
	for _, c := range b.Capabilities() {
		if c.Missing != "" {
			t.Errorf("SoftHSM2: %s reported unsupported (lacks %s)", c.Kind, c.Missing)
		}
	}
	open := func(spec keys.Spec, usage keys.Usage) backends.Key {
		id, err := b.CreateKey(ctx, backends.CreateRequest{Spec: spec, Usage: usage, Label: "caps/" + string(spec)})
		if err != nil {
			t.Fatal(err)
		}
		k, err := b.Open(ctx, id, spec, usage)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	aes, rsaKey := open(keys.SymmetricDefault, keys.EncryptDecrypt), open(keys.RSA2048, keys.SignVerify)

	delete(b.caps, p11.CKM_EC_KEY_PAIR_GEN)
	delete(b.caps, p11.CKM_AES_GCM)
	delete(b.caps, p11.CKM_RSA_PKCS_PSS)
	rsaGen := b.caps[p11.CKM_RSA_PKCS_KEY_PAIR_GEN]
	rsaGen.MaxKeySize = 3072
	b.caps[p11.CKM_RSA_PKCS_KEY_PAIR_GEN] = rsaGen

	refused := func(what string, err error, mech string) {
		t.Helper()
		if kgerr.KindOf(err) != kgerr.FailedPrecondition || !strings.Contains(kgerr.Message(err), mech) {
			t.Errorf("%s: %v (kind %s), want FailedPrecondition naming %s", what, err, kgerr.KindOf(err), mech)
		}
	}
	_, err := b.CreateKey(ctx, backends.CreateRequest{Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Label: "caps/ec"})
	refused("CreateKey(ECC_NIST_P256)", err, "lacks CKM_EC_KEY_PAIR_GEN")
	_, err = b.CreateKey(ctx, backends.CreateRequest{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt, Label: "caps/aes"})
	refused("CreateKey(SYMMETRIC_DEFAULT)", err, "lacks CKM_AES_GCM")
	_, err = b.CreateKey(ctx, backends.CreateRequest{Spec: keys.RSA4096, Usage: keys.SignVerify, Label: "caps/rsa4096"})
	refused("CreateKey(RSA_4096)", err, "4096-bit")
	_, err = aes.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("x"), nil)
	refused("Encrypt(AES)", err, "lacks CKM_AES_GCM")
	_, err = aes.Decrypt(ctx, keys.SymmetricDefaultAlg, make([]byte, 40), nil)
	refused("Decrypt(AES)", err, "lacks CKM_AES_GCM")
	_, err = rsaKey.Sign(ctx, keys.RSASSAPSSSHA256, make([]byte, 32))
	refused("Sign(PSS)", err, "lacks CKM_RSA_PKCS_PSS")
	if _, err := rsaKey.Sign(ctx, keys.RSASSAPKCS1V15SHA256, make([]byte, 32)); err != nil {
		t.Errorf("Sign(PKCS#1 v1.5) with CKM_RSA_PKCS still there: %v", err)
	}
	missing := map[backends.KeyKind]string{}
	for _, c := range b.Capabilities() {
		missing[c.Kind] = c.Missing
	}
	for kind, want := range map[backends.KeyKind]string{
		{Spec: keys.ECCNISTP256, Usage: keys.KeyAgreement}:        "CKM_EC_KEY_PAIR_GEN",
		{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt}: "CKM_AES_GCM",
		{Spec: keys.RSA4096, Usage: keys.EncryptDecrypt}:          "4096-bit",
		{Spec: keys.RSA2048, Usage: keys.SignVerify}:              "",
		{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}:       "",
	} {
		if got := missing[kind]; want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("Capabilities: %s lacks %q, want %q", kind, got, want)
		}
	}
}
