//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/qualify"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// cloudHSMRules is SoftHSM2 as CloudHSM would behave: on top of the real
// token it enforces the rules AWS documents for the Client SDK 5 PKCS#11
// library (cited in cloudhsm.go): it refuses an AES-GCM IV buffer that is
// not zeroed and writes its own IV into it, refuses CKD_NULL for
// CKM_ECDH1_DERIVE, refuses CKA_PRIVATE=false in public-key templates and
// refuses the *_RECOVER attributes.
type cloudHSMRules struct{ api }

func (c cloudHSMRules) GenerateKeyPair(s p11.SessionHandle, m []*p11.Mechanism, pub, priv []*p11.Attribute) (p11.ObjectHandle, p11.ObjectHandle, error) {
	for _, a := range pub {
		if a.Type == p11.CKA_PRIVATE && (len(a.Value) == 0 || a.Value[0] == 0) {
			return 0, 0, p11.Error(p11.CKR_ATTRIBUTE_VALUE_INVALID)
		}
	}
	for _, a := range append(pub[:len(pub):len(pub)], priv...) {
		if a.Type == p11.CKA_SIGN_RECOVER || a.Type == p11.CKA_VERIFY_RECOVER {
			return 0, 0, p11.Error(p11.CKR_ATTRIBUTE_TYPE_INVALID)
		}
	}
	return c.api.GenerateKeyPair(s, m, pub, priv)
}

func (c cloudHSMRules) EncryptInit(s p11.SessionHandle, m []*p11.Mechanism, o p11.ObjectHandle) error {
	if m[0].Mechanism == p11.CKM_AES_GCM {
		iv := gcmIVBuffer(m[0])
		if len(iv) != gcmIVSize || !bytes.Equal(iv, make([]byte, gcmIVSize)) {
			return p11.Error(p11.CKR_MECHANISM_PARAM_INVALID)
		}
		// The HSM's IV, in the buffer the application reads back.
		rand.Read(iv)
	}
	return c.api.EncryptInit(s, m, o)
}

func (c cloudHSMRules) DeriveKey(s p11.SessionHandle, m []*p11.Mechanism, base p11.ObjectHandle, a []*p11.Attribute) (p11.ObjectHandle, error) {
	if m[0].Mechanism == p11.CKM_ECDH1_DERIVE {
		if p, ok := generator(m[0]).(*p11.ECDH1DeriveParams); !ok || p.KDF == p11.CKD_NULL {
			return 0, p11.Error(p11.CKR_MECHANISM_PARAM_INVALID)
		}
	}
	return c.api.DeriveKey(s, m, base, a)
}

// generator is the parameter object miekg/pkcs11 keeps unexported in a
// Mechanism until the C call; the wrapper reads it as the HSM would read
// the C structure.
func generator(m *p11.Mechanism) any {
	f := reflect.ValueOf(m).Elem().FieldByName("generator")
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
}

// gcmIVBuffer is the IV buffer of a CKM_AES_GCM mechanism: the memory
// C_EncryptInit's pIv points at, shared with the caller.
func gcmIVBuffer(m *p11.Mechanism) []byte {
	p, ok := generator(m).(*p11.GCMParams)
	if !ok {
		return nil
	}
	f := reflect.ValueOf(p).Elem().FieldByName("iv")
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().([]byte)
}

func openCloudHSM(t *testing.T, cfg Config, vendor string) *Backend {
	t.Helper()
	cfg.Vendor = vendor
	b := openTest(t, cfg)
	b.api = cloudHSMRules{b.api}
	return b
}

// TestCloudHSMRulesBreakTheGenericBackend: without the profile, keygate
// breaks CloudHSM's rules, and the wrapper catches it (so the next test
// proves something).
func TestCloudHSMRulesBreakTheGenericBackend(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openCloudHSM(t, cfg, vendorGeneric)
	ctx := context.Background()
	_, err := b.CreateKey(ctx, backends.CreateRequest{Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Label: "generic-ec"})
	if err == nil {
		t.Error("an EC key pair with CKA_PRIVATE=false on the public half passed the CloudHSM rules")
	}
	id, err := openTest(t, cfg).CreateKey(ctx, backends.CreateRequest{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt, Label: "generic-aes"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := b.Open(ctx, id, keys.SymmetricDefault, keys.EncryptDecrypt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("x"), nil); err == nil {
		t.Error("AES-GCM with an application IV passed the CloudHSM rules")
	}
}

// TestCloudHSMProfile runs the qualify suite on "SoftHSM2 as CloudHSM
// would behave" with vendor: cloudhsm: everything CloudHSM supports
// passes, EC KEY_AGREEMENT is refused with the reason and the way out.
func TestCloudHSMProfile(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openCloudHSM(t, cfg, vendorCloudHSM)
	ctx := context.Background()
	r := qualify.Run(ctx, b)
	var out bytes.Buffer
	r.Write(&out)
	t.Logf("qualify matrix:\n%s", out.String())
	if !r.Passed() {
		t.Fatal("qualify failed on SoftHSM2 with the CloudHSM rules")
	}
	for _, c := range r.Cells {
		want := qualify.OK
		if c.Kind.Usage == keys.KeyAgreement {
			want = qualify.Unsupported
		}
		if c.Outcome != want {
			t.Errorf("%s %s: %s (%s), want %s", c.Kind, c.Op, c.Outcome, c.Detail, want)
		}
	}

	// The IV is the token's: fresh and not zero, and the blob opens.
	id, err := b.CreateKey(ctx, backends.CreateRequest{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt, Label: "cloudhsm-aes"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := b.Open(ctx, id, keys.SymmetricDefault, keys.EncryptDecrypt)
	if err != nil {
		t.Fatal(err)
	}
	b1, err1 := k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("pan"), nil)
	b2, err2 := k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("pan"), nil)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if bytes.Equal(b1[:gcmIVSize], make([]byte, gcmIVSize)) || bytes.Equal(b1[:gcmIVSize], b2[:gcmIVSize]) {
		t.Errorf("GCM IVs %x and %x: not the token's fresh ones", b1[:gcmIVSize], b2[:gcmIVSize])
	}

	// An EC KEY_AGREEMENT key already on the token (adopted) is refused at
	// use too, saying why and what to use instead.
	ecID, err := openTest(t, cfg).CreateKey(ctx, backends.CreateRequest{Spec: keys.ECCNISTP256, Usage: keys.KeyAgreement, Label: "adopted-ecdh"})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := b.Open(ctx, ecID, keys.ECCNISTP256, keys.KeyAgreement)
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	_, err = ec.DeriveSharedSecret(ctx, peer.PublicKey())
	if kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("DeriveSharedSecret on CloudHSM: %v, want FailedPrecondition", err)
	}
	for _, want := range []string{"CKD_NULL", "X9.63", "Concat KDF", "RSA", "KMS"} {
		if !strings.Contains(kgerr.Message(err), want) {
			t.Errorf("refusal %q does not mention %s", kgerr.Message(err), want)
		}
	}
}

func TestCloudHSMDetection(t *testing.T) {
	aws := p11.TokenInfo{ManufacturerID: "Marvell Semiconductors, Inc.", Model: "CloudHSM", Label: "hsm1"}
	soft := p11.TokenInfo{ManufacturerID: "SoftHSM project", Model: "SoftHSM v2", Label: "cloudhsm-lookalike"}
	for _, tc := range []struct {
		vendor string
		info   p11.TokenInfo
		want   bool
	}{
		{"", aws, true}, {"", soft, false}, {"cloudhsm", soft, true}, {"generic", aws, false},
	} {
		if got := isCloudHSM(tc.vendor, tc.info); got != tc.want {
			t.Errorf("isCloudHSM(%q, %s) = %t", tc.vendor, tc.info.Model, got)
		}
	}
}

func TestVendorConfig(t *testing.T) {
	c := Config{Module: "m", TokenLabel: "t", PINEnv: "P", Vendor: "luna"}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), `vendor "luna"`) {
		t.Errorf("vendor luna: %v", err)
	}
}
