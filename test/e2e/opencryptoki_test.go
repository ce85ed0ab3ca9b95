package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/opencryptoki"
	"github.com/keygate/keygate/test/softhsm"
)

// TestOpencryptokiOnly runs keygated with opencryptoki's software token,
// which has no EC and no AES-GCM, as its only backend: it starts with an
// RSA checkpoint key, signs with RSA and MACs with HMAC, and refuses an EC
// key naming the missing mechanism.
func TestOpencryptokiOnly(t *testing.T) {
	tok := opencryptoki.New(t)
	var log ockStartLog
	env := harness.Start(t, harness.Options{Token: &tok, CheckpointKeySpec: "RSA_3072", Log: &log})
	ctx := context.Background()
	// The start log says what the token can and cannot do.
	for _, want := range []string{"backend capabilities", "RSA_2048/SIGN_VERIFY", "HMAC_256/GENERATE_VERIFY_MAC",
		"ECC_NIST_P256/SIGN_VERIFY (lacks CKM_EC_KEY_PAIR_GEN)", "SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT (lacks CKM_AES_GCM)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("start log lacks %q:\n%s", want, log.String())
		}
	}

	env.CreateKey("acs-signing-rsa", "RSA_2048", "SIGN_VERIFY")
	env.CreateKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC")
	cs := env.Crypto("acs")
	msg := []byte(`{"acsURL":"https://acs.example/challenge"}`)
	resp, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing-rsa", Message: msg, SigningAlgorithm: "RSASSA_PSS_SHA_256"})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	pk, err := cs.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "acs-signing-rsa"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(msg)
	if err := rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, d[:], resp.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		t.Fatalf("the PSS signature does not verify: %v", err)
	}
	mac, err := cs.GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "av-mac", Message: msg, MacAlgorithm: "HMAC_SHA_256"})
	if err != nil {
		t.Fatalf("GenerateMac: %v", err)
	}
	v, err := cs.VerifyMac(ctx, &pb.VerifyMacRequest{KeyId: "av-mac", Message: msg, MacAlgorithm: "HMAC_SHA_256", Mac: mac.Mac})
	if err != nil || !v.MacValid {
		t.Fatalf("VerifyMac: %+v %v", v, err)
	}

	_, err = env.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "acs-signing", KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "CKM_EC_KEY_PAIR_GEN") {
		t.Fatalf("CreateKey(ECC_NIST_P256) on opencryptoki: %v, want FailedPrecondition naming CKM_EC_KEY_PAIR_GEN", err)
	}
	_, err = env.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "data-key", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "CKM_AES_GCM") {
		t.Fatalf("CreateKey(SYMMETRIC_DEFAULT) on opencryptoki: %v, want FailedPrecondition naming CKM_AES_GCM", err)
	}

	// The RSA-signed checkpoints verify.
	lv, err := pb.NewAuditServiceClient(env.Conn("admin")).VerifyLog(ctx, &pb.VerifyLogRequest{})
	if err != nil || !lv.Ok {
		t.Fatalf("VerifyLog: %+v %v", lv, err)
	}

	// With the default checkpoint key spec, keygated refuses to start and
	// says what to set.
	cfg := *env.Config
	cfg.Audit.SigningKey, cfg.Audit.SigningKeySpec = "audit-checkpoint-ec", "ECC_NIST_P256"
	srv, err := server.New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err == nil {
		srv.Close()
		t.Fatal("keygated started with an ECC_NIST_P256 checkpoint key on a token without EC")
	}
	for _, want := range []string{"CKM_EC_KEY_PAIR_GEN", "audit.signing_key_spec", "RSA_3072"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not mention %s", err, want)
		}
	}
}

// ockStartLog is a log sink the server writes while the test reads.
type ockStartLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *ockStartLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *ockStartLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCheckpointKeyOnAnotherBackend: with opencryptoki as the default
// backend, the checkpoint key stays ECC_NIST_P256 on a second token named
// by audit.signing_key_backend.
func TestCheckpointKeyOnAnotherBackend(t *testing.T) {
	ock := opencryptoki.New(t)
	soft := softhsm.New(t)
	pin := filepath.Join(t.TempDir(), "soft-pin")
	if err := os.WriteFile(pin, []byte(soft.PIN), 0o600); err != nil {
		t.Fatal(err)
	}
	env := harness.Start(t, harness.Options{Token: &ock, CheckpointKeyBackend: "soft",
		ExtraBackends: fmt.Sprintf("  - {name: soft, type: pkcs11, config: {module: %q, token_label: %q, pin_file: %q}}\n", soft.Module, soft.Label, pin)})
	ctx := context.Background()
	av := pb.NewAuditServiceClient(env.Conn("admin"))
	key, err := av.GetCheckpointKey(ctx, &pb.GetCheckpointKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(key.PublicKeyPem))
	if blk == nil {
		t.Fatalf("checkpoint key PEM: %q", key.PublicKeyPem)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if ec, ok := pub.(*ecdsa.PublicKey); !ok || ec.Curve.Params().Name != "P-256" {
		t.Fatalf("checkpoint key is %T, want P-256 from the second token", pub)
	}
	env.CreateKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC") // on the default backend, opencryptoki
	if lv, err := av.VerifyLog(ctx, &pb.VerifyLogRequest{}); err != nil || !lv.Ok {
		t.Fatalf("VerifyLog: %+v %v", lv, err)
	}
}
