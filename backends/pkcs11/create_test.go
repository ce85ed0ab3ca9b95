//go:build cgo

package pkcs11

import (
	"context"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
)

// TestCreatedKeyAttributes reads back what CreateKey asked the token for:
// a private, sensitive, non-extractable token object with a 16-byte
// CKA_ID, the label, and only the capabilities of its usage.
func TestCreatedKeyAttributes(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openTest(t, cfg)
	ctx := context.Background()
	for _, tc := range []struct {
		spec  keys.Spec
		usage keys.Usage
		on    []uint // capabilities that must be set
	}{
		{keys.ECCNISTP256, keys.SignVerify, []uint{p11.CKA_SIGN}},
		{keys.ECCNISTP256, keys.KeyAgreement, []uint{p11.CKA_DERIVE}},
		{keys.RSA2048, keys.EncryptDecrypt, []uint{p11.CKA_DECRYPT}},
		{keys.SymmetricDefault, keys.EncryptDecrypt, []uint{p11.CKA_ENCRYPT, p11.CKA_DECRYPT}},
		{keys.HMAC256, keys.GenerateVerifyMac, []uint{p11.CKA_SIGN, p11.CKA_VERIFY}},
	} {
		label := "attr-test/" + string(tc.spec) + "/" + string(tc.usage)
		id, err := b.CreateKey(ctx, backends.CreateRequest{Spec: tc.spec, Usage: tc.usage, Label: label})
		if err != nil {
			t.Fatal(err)
		}
		k, err := b.Open(ctx, id, tc.spec, tc.usage)
		if err != nil {
			t.Fatal(err)
		}
		key := k.(*Key)
		if len(key.rawID) != 16 {
			t.Errorf("%s: CKA_ID has %d bytes", label, len(key.rawID))
		}
		caps := []uint{p11.CKA_SIGN, p11.CKA_VERIFY, p11.CKA_ENCRYPT, p11.CKA_DECRYPT, p11.CKA_DERIVE,
			p11.CKA_WRAP, p11.CKA_UNWRAP, p11.CKA_SIGN_RECOVER}
		want := map[uint]bool{p11.CKA_TOKEN: true, p11.CKA_PRIVATE: true, p11.CKA_SENSITIVE: true,
			p11.CKA_EXTRACTABLE: false, p11.CKA_ALWAYS_SENSITIVE: true, p11.CKA_NEVER_EXTRACTABLE: true}
		for _, c := range caps {
			want[c] = false
		}
		for _, c := range tc.on {
			want[c] = true
		}
		err = b.pool.withSession(ctx, func(s p11.SessionHandle) error {
			h, err := key.handle(s)
			if err != nil {
				return err
			}
			got, err := b.api.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, nil)})
			if err != nil {
				return err
			}
			if string(got[0].Value) != label {
				t.Errorf("%s: CKA_LABEL %q", label, got[0].Value)
			}
			for a, w := range want {
				got, err := b.api.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(a, nil)})
				if rv(err) == p11.CKR_ATTRIBUTE_TYPE_INVALID {
					got, err = []*p11.Attribute{{Type: a}}, nil // not an attribute of this key type: not set
				}
				if err != nil {
					return err
				}
				if on := len(got[0].Value) > 0 && got[0].Value[0] != 0; on != w {
					t.Errorf("%s: attribute 0x%x is %v, want %v", label, a, on, w)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
	}
}

// TestConcurrentCreateOpenDestroy creates, opens and destroys keys from
// several goroutines on one token at once, as racing rotations do. Before
// token object writes were kept apart from each other and from searches
// (module.objects), SoftHSM2 failed some of them with CKR_GENERAL_ERROR.
func TestConcurrentCreateOpenDestroy(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openTest(t, cfg)
	ctx := context.Background()
	errs := make(chan error, 8)
	for g := 0; g < cap(errs); g++ {
		go func() {
			var err error
			for i := 0; i < 10 && err == nil; i++ {
				var id string
				if id, err = b.CreateKey(ctx, backends.CreateRequest{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac, Label: "race"}); err != nil {
					break
				}
				if _, err = b.Open(ctx, id, keys.HMAC256, keys.GenerateVerifyMac); err != nil {
					break
				}
				if i%2 == 0 {
					err = b.Destroy(ctx, id)
				}
			}
			errs <- err
		}()
	}
	for g := 0; g < cap(errs); g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
