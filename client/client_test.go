package client_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

func TestSignerRSA(t *testing.T) {
	ctx := context.Background()
	c := dial()
	defer c.Close()
	s, err := c.Signer(ctx, "acs-signing-rsa")
	if err != nil {
		t.Fatal(err)
	}
	// PS256 through go-jose: the PSS salt is the hash length, as in 3DS.
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.PS256, Key: cryptosigner.Opaque(s)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := js.Sign([]byte(`{"acsURL":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Verify(s.Public()); err != nil {
		t.Fatalf("PS256 JWS does not verify: %v", err)
	}
	// PKCS#1 v1.5 through crypto/x509.
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "acs.example"}, SignatureAlgorithm: x509.SHA256WithRSA}, s)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("RSA CSR: %v", err)
	}
}

func TestSignerRefusesWhatTheKeyCannotDoBeforeAnyCall(t *testing.T) {
	ctx := context.Background()
	c := dial()
	ec, err := c.Signer(ctx, "acs-signing")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Signer(ctx, "acs-signing-rsa")
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // any call now would fail with a connection error, not ours
	// A SHA-1-sized digest (computing one would panic under fips140=only).
	d1 := make([]byte, 20)
	d256 := sha256.Sum256([]byte("m"))
	for name, tc := range map[string]struct {
		s      *client.Signer
		digest []byte
		opts   crypto.SignerOpts
		want   string
	}{
		"SHA-1":                    {ec, d1[:], crypto.SHA1, "cannot sign with hash SHA-1"},
		"P-256 with SHA-384":       {ec, make([]byte, 48), crypto.SHA384, "cannot sign with ECDSA_SHA_384"},
		"PSS with a salt of 8":     {rs, d256[:], &rsa.PSSOptions{SaltLength: 8, Hash: crypto.SHA256}, "salt length 8"},
		"digest of the wrong size": {ec, d1[:], crypto.SHA256, "digest is 20 bytes"},
	} {
		_, err := tc.s.Sign(rand.Reader, tc.digest, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
	if _, err := c.Signer(ctx, "acs-signing"); err == nil {
		t.Fatal("a closed client made a Signer")
	}
}

func TestSignerNeedsASigningKey(t *testing.T) {
	c := dial()
	defer c.Close()
	if _, err := c.Signer(context.Background(), "pan-key"); err == nil {
		t.Fatal("a symmetric key became a Signer")
	}
	if _, err := c.Signer(context.Background(), "no-such-key"); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestDecrypterRSAOAEP(t *testing.T) {
	ctx := context.Background()
	c := dial()
	defer c.Close()
	d, err := c.Decrypter(ctx, "ds-enc")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"DV":"1.0","DD":{"C001":"Android"}}`)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, d.Public().(*rsa.PublicKey), msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dec crypto.Decrypter = d
	pt, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	if err != nil || string(pt) != string(msg) {
		t.Fatalf("decrypt: %q, %v", pt, err)
	}
	if _, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA1}); err == nil {
		t.Fatal("OAEP with SHA-1 accepted")
	}
	ct[10] ^= 1
	if _, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a damaged ciphertext: %v", err)
	}
	if _, err := c.Decrypter(ctx, "acs-signing-rsa"); err == nil {
		t.Fatal("a signing key became a Decrypter")
	}
}

func TestEnvelope(t *testing.T) {
	ctx := context.Background()
	c := dial()
	defer c.Close()
	ec := map[string]string{"tenant": "issuer-1"}
	sealed, err := c.Seal(ctx, "pan-key", []byte("4111111111111111"), ec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "4111111111111111") {
		t.Fatal("the envelope holds the plaintext")
	}
	if _, err := c.Open(ctx, sealed, map[string]string{"tenant": "issuer-2"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("another encryption context: %v", err)
	}
	for _, i := range []int{0, 7, len(sealed) - 20, len(sealed) - 1} {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 1
		if _, err := c.Open(ctx, bad, ec); err == nil {
			t.Fatalf("envelope changed at byte %d opened", i)
		}
	}
	if _, err := c.Open(ctx, sealed[:10], ec); err == nil {
		t.Fatal("a truncated envelope opened")
	}
}

func TestRequestIDReachesTheAuditLog(t *testing.T) {
	c := dial()
	defer c.Close()
	ctx := client.WithRequestID(context.Background(), "3ds-server-trans-42")
	if _, err := c.Crypto.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "acs-signing"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Crypto.GetPublicKey(context.Background(), &pb.GetPublicKeyRequest{KeyId: "acs-signing-rsa"}); err != nil {
		t.Fatal(err)
	}
	resp, err := pb.NewAuditServiceClient(env.Conn("admin")).ListEvents(context.Background(),
		&pb.ListEventsRequest{Filter: &pb.EventFilter{Action: "kms:GetPublicKey"}, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, e := range resp.Events {
		ids[e.KeyName] = e.CorrelationId
	}
	if ids["acs-signing"] != "3ds-server-trans-42" || len(ids["acs-signing-rsa"]) != 24 {
		t.Fatalf("correlation ids: %v", ids)
	}
}

func TestDialRefusesAServerFromAnotherCA(t *testing.T) {
	other, err := devca.New("not keygate's CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := devca.WriteFiles(dir, "ca", other.Cert, other.Key); err != nil {
		t.Fatal(err)
	}
	_, cert, key := env.TLSFiles("acs")
	c, err := client.Dial(context.Background(), env.Addr, client.WithTLSFiles(filepath.Join(dir, "ca.pem"), cert, key),
		client.WithTimeout(5*time.Second), client.WithMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Crypto.GetPublicKey(context.Background(), &pb.GetPublicKeyRequest{KeyId: "acs-signing"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("a server certificate from another CA: %v", err)
	}
}

func TestDialOptions(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string][]client.Option{
		"no TLS":             nil,
		"files and a config": {client.WithTLSFiles("a", "b", "c"), client.WithTLSConfig(nil)},
		"six attempts":       {client.WithTLSFiles(env.TLSFiles("acs")), client.WithMaxAttempts(6)},
		"missing files":      {client.WithTLSFiles("/nonexistent/ca.pem", "/nonexistent/c.pem", "/nonexistent/k.pem")},
	} {
		if _, err := client.Dial(ctx, env.Addr, opts...); err == nil {
			t.Errorf("%s: Dial succeeded", name)
		}
	}
}
