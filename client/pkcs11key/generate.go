//go:build cgo

package pkcs11key

import (
	"context"
	"crypto/rand"
	"encoding/asn1"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// Specs are the key specs Generate makes, in keygate's (KMS's) names.
var Specs = []string{"ECC_NIST_P256", "ECC_NIST_P384", "RSA_2048", "RSA_3072"}

// Generate makes a key pair inside the token uri names, labelled with the
// URI's object (and id: given, else 16 random bytes), and opens it. The
// private key is sensitive and never extractable: it is born in the token
// and cannot leave it. A key that already has that label or id is refused.
func Generate(ctx context.Context, uri, spec string, opts ...Option) (*Key, error) {
	pubT, privT, mech, err := templates(spec)
	if err != nil {
		return nil, err
	}
	k, err := open(ctx, uri, true, opts)
	if err != nil {
		return nil, err
	}
	if k.uri.Object == "" {
		k.Close()
		return nil, fmt.Errorf("pkcs11: generate: the URI needs object= (the new key's label)")
	}
	id := k.uri.ID
	if id == nil {
		id = make([]byte, 16)
		rand.Read(id)
	}
	for _, sel := range []struct {
		label string
		id    []byte
	}{{k.uri.Object, nil}, {"", id}} {
		if hs, err := k.objects(p11.CKO_PRIVATE_KEY, sel.label, sel.id); err != nil || len(hs) > 0 {
			k.Close()
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("pkcs11: %s already has a private key with %s", k.uri.tokenName(), k.uri.selector())
		}
	}
	common := func(t []*p11.Attribute) []*p11.Attribute {
		return append(t, p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_LABEL, k.uri.Object), p11.NewAttribute(p11.CKA_ID, id))
	}
	k.mu.Lock()
	_, k.priv, err = k.lib.GenerateKeyPair(k.session, []*p11.Mechanism{mech}, common(pubT), common(privT))
	k.mu.Unlock()
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("pkcs11: %s: C_GenerateKeyPair %s: %w", k.uri.tokenName(), spec, err)
	}
	if k.pub, err = k.publicKey(); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// templates are the public and private templates and the mechanism for spec.
func templates(spec string) (pub, priv []*p11.Attribute, mech *p11.Mechanism, err error) {
	priv = []*p11.Attribute{
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_SIGN, true),
	}
	pub = []*p11.Attribute{p11.NewAttribute(p11.CKA_VERIFY, true)}
	switch spec {
	case "ECC_NIST_P256", "ECC_NIST_P384":
		oid := oidP256
		if spec == "ECC_NIST_P384" {
			oid = oidP384
		}
		params, _ := asn1.Marshal(oid)
		pub = append(pub, p11.NewAttribute(p11.CKA_EC_PARAMS, params))
		return pub, priv, p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil), nil
	case "RSA_2048", "RSA_3072":
		bits := 2048
		if spec == "RSA_3072" {
			bits = 3072
		}
		pub = append(pub, p11.NewAttribute(p11.CKA_MODULUS_BITS, bits), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		return pub, priv, p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil), nil
	}
	return nil, nil, nil, fmt.Errorf("pkcs11: key spec %q: want one of %v", spec, Specs)
}
