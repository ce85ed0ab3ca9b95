package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/keygate/keygate/client"
)

// An ACS signs its acsSignedContent (a JWS, ES256) with go-jose through a
// keygate key: the private key never leaves the HSM. go-jose takes any
// crypto.Signer through its cryptosigner package, which also turns the
// DER ECDSA signature into JOSE's r‖s.
func ExampleClient_Signer() {
	ctx := context.Background()
	ca, cert, key := env.TLSFiles("acs") // the ACS's own mTLS files
	c, err := client.Dial(ctx, env.Addr, client.WithTLSFiles(ca, cert, key))
	if err != nil {
		panic(err)
	}
	defer c.Close()

	signer, err := c.Signer(ctx, "acs-signing")
	if err != nil {
		panic(err)
	}
	jws, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(signer)}, nil)
	if err != nil {
		panic(err)
	}
	obj, err := jws.Sign([]byte(`{"acsURL":"https://acs.example/challenge"}`))
	if err != nil {
		panic(err)
	}
	compact, _ := obj.CompactSerialize()

	// Anyone with the public key (or the key's certificate) verifies it.
	parsed, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		panic(err)
	}
	payload, err := parsed.Verify(signer.Public().(*ecdsa.PublicKey))
	fmt.Println(string(payload), err)
	// Output: {"acsURL":"https://acs.example/challenge"} <nil>
}

// A certificate signing request for the DS's CA, signed inside keygate,
// as `keygate keys csr` makes it.
func ExampleSigner_csr() {
	ctx := context.Background()
	c := dial()
	defer c.Close()
	signer, err := c.Signer(ctx, "acs-signing")
	if err != nil {
		panic(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "acs.example", Organization: []string{"Example Issuer"}},
	}, signer)
	if err != nil {
		panic(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	fmt.Println(csr.Subject, csr.CheckSignature())
	// Output: CN=acs.example,O=Example Issuer <nil>
}

// Envelope encryption for a PAN at rest: the data key is made by keygate,
// used locally and zeroed; only its wrapped copy is stored.
func ExampleClient_Seal() {
	ctx := context.Background()
	c := dial()
	defer c.Close()
	ec := map[string]string{"acsTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
	sealed, err := c.Seal(ctx, "pan-key", []byte("4111111111111111"), ec)
	if err != nil {
		panic(err)
	}
	pan, err := c.Open(ctx, sealed, ec)
	fmt.Println(string(pan), err)
	// Output: 4111111111111111 <nil>
}
