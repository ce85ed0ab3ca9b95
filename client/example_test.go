package client_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/keygate/keygate/client"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// An ACS signs its acsSignedContent (a JWS, ES256, x5c = the key's
// chain from the DS CA) with go-jose through a keygate key: the private key
// never leaves the HSM. go-jose takes any crypto.Signer through its
// cryptosigner package, which also turns the DER ECDSA signature into
// JOSE's r‖s.
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
	chain, err := c.Admin.GetCertificate(ctx, &pb.GetCertificateRequest{KeyId: "acs-signing"})
	if err != nil {
		panic(err)
	}
	var x5c []string // standard base64 DER, leaf first
	for rest := []byte(chain.ChainPem); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		x5c = append(x5c, base64.StdEncoding.EncodeToString(b.Bytes))
	}
	jws, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(signer)},
		(&jose.SignerOptions{}).WithHeader("x5c", x5c))
	if err != nil {
		panic(err)
	}
	obj, err := jws.Sign([]byte(`{"acsURL":"https://acs.example/challenge"}`))
	if err != nil {
		panic(err)
	}
	acsSignedContent, _ := obj.CompactSerialize()

	// The 3DS SDK checks x5c up to the DS CA, then the signature with the leaf.
	parsed, err := jose.ParseSigned(acsSignedContent, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		panic(err)
	}
	dsCA := x509.NewCertPool()
	dsCA.AddCert(env.CA.Cert) // the test CA plays the DS CA
	chains, err := parsed.Signatures[0].Protected.Certificates(x509.VerifyOptions{Roots: dsCA})
	if err != nil {
		panic(err)
	}
	leaf := chains[0][0]
	payload, err := parsed.Verify(leaf.PublicKey)
	fmt.Println(leaf.Subject.CommonName, string(payload), err)
	// Output: acs.example {"acsURL":"https://acs.example/challenge"} <nil>
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
