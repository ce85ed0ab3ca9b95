package e2e

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// cliBinary builds cmd/keygate once for the tests that run it as a user does.
var cliBinary = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "keygate-cli")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "keygate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/keygate")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build keygate: %v\n%s", err, out)
	}
	return bin, nil
})

// Secrets never leak (issue 11's attacker suite): the e2e flows run with
// keygated's log captured, the CLI's stderr captured, every error message
// kept and the audit store read raw, and none of them holds a plaintext,
// the PIN, a data key, a CEK, an encryption-context value or the audit
// context secret, raw, hex or base64.
func TestSecretsNeverLeak(t *testing.T) {
	// Once with the audit log (its store is read raw), once without it,
	// where keygated logs every call instead.
	for _, auditOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("audit-disabled=%t", auditOff), func(t *testing.T) {
			var logs harness.LogBuffer
			env := harness.Start(t, harness.Options{Log: &logs, AuditDisabled: auditOff})
			checkNoSecrets(t, env, &logs, !auditOff)
		})
	}
}

func checkNoSecrets(t *testing.T, env *harness.Env, logs *harness.LogBuffer, audited bool) {
	ctx := context.Background()
	acs := harness.ARN("acs")
	env.CreateKeyWithPolicy("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "AcsData", Principals: []string{acs}, Actions: []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}}))
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")

	pan := []byte("4111111111111111")
	ctxValue := "txn-5f2b9c1e-secret-context-value"
	var errs []string
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), status.Convert(err).Message())
		}
	}
	cs := env.Crypto("acs")
	enc, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: pan, EncryptionContext: map[string]string{"acsTransID": ctxValue}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"acsTransID": ctxValue + "x"}})
	keep(err)
	_, err = env.Crypto("3ds-server").Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"acsTransID": ctxValue}})
	keep(err)
	// Keys equal under case folding make kms:EncryptionContext:<name>
	// ambiguous: refused before anything else (issue 11 item 6).
	_, err = cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: pan, EncryptionContext: map[string]string{"t": ctxValue, "T": ctxValue}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "differ only in case") {
		t.Errorf("a context with case twins: %v, want InvalidArgument", err)
	}
	keep(err)
	dk, err := cs.GenerateDataKey(ctx, &pb.GenerateDataKeyRequest{KeyId: "data-key", EncryptionContext: map[string]string{"acsTransID": ctxValue}})
	if err != nil {
		t.Fatal(err)
	}

	// A 3DS challenge: the CEK and the CReq stay inside keygate.
	env.CertifyKey("acs-signing", "ACS")
	s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader)), enc: "A128GCM", kid: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
	tds := pb.NewThreeDSServiceClient(env.Conn("acs"))
	sess, err := tds.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: s.kid,
		AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: s.jwk(), SdkReferenceNumber: "3DS_LOA_SDK_PPFU_020100_00007", Enc: s.enc})
	if err != nil {
		t.Fatal(err)
	}
	s.agree(t, acsEphemKey(t, sess.AcsSignedContent), "3DS_LOA_SDK_PPFU_020100_00007")
	jwe, creq := s.creq(0)
	if _, err := tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: sess.SessionId, Jwe: jwe}); err != nil {
		t.Fatal(err)
	}
	_, err = tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: sess.SessionId, Jwe: jwe}) // replay
	keep(err)

	// The CLI, as an operator runs it: its stderr is kept.
	bin, err := cliBinary()
	if err != nil {
		t.Fatal(err)
	}
	ca, certFile, keyFile := env.TLSFiles("acs")
	dir := t.TempDir()
	ptFile, ctFile := filepath.Join(dir, "pan"), filepath.Join(dir, "ct")
	os.WriteFile(ptFile, pan, 0o600)
	var cliErr bytes.Buffer
	cli := func(args ...string) {
		cmd := exec.Command(bin, append([]string{"--addr", env.Addr, "--ca", ca, "--cert", certFile, "--client-key", keyFile}, args...)...)
		cmd.Stderr = &cliErr
		cmd.Run()
	}
	cli("encrypt", "data-key", "--plaintext-file", ptFile, "--encryption-context", "acsTransID="+ctxValue, "--out", ctFile)
	cli("decrypt", "--ciphertext-file", ctFile, "--encryption-context", "acsTransID=wrong-"+ctxValue, "--out", filepath.Join(dir, "out"))
	cli("generate-data-key", "data-key", "--encryption-context", "acsTransID="+ctxValue, "--out", filepath.Join(dir, "dk"), "--plaintext-out", filepath.Join(dir, "dk.pt"))
	if audited {
		_, adminCert, adminKey := env.TLSFiles("admin")
		certFile, keyFile = adminCert, adminKey
		cli("audit", "events", "--output", "json")
		// Finding events by the value: hashed by the server, never logged.
		cli("audit", "context-hash", "acsTransID="+ctxValue)
		cli("audit", "events", "--context", "acsTransID="+ctxValue, "--context", "t="+ctxValue, "--context", "T="+ctxValue)
		cli("audit", "context-hash", ctxValue)
		cli("audit", "events", "--context", ctxValue)
	}

	var audit bytes.Buffer
	for _, f := range []string{"keygate.db", "keygate.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(env.Dir, f))
		audit.Write(b)
	}
	if audited {
		for _, ev := range events(t, env, &pb.EventFilter{}) {
			fmt.Fprintf(&audit, "%v\n", ev)
		}
	}
	if len(errs) < 6 || cliErr.Len() == 0 || (audited && !strings.Contains(audit.String(), "kms:Decrypt")) ||
		(!audited && !strings.Contains(logs.String(), "kms:Decrypt")) {
		t.Fatalf("the flows did not run as meant: %d errors, CLI stderr %q, log %d bytes", len(errs), cliErr.String(), len(logs.String()))
	}

	dkCLI, _ := os.ReadFile(filepath.Join(dir, "dk.pt"))
	secrets := map[string][]byte{"PAN": pan, "encryption-context value": []byte(ctxValue), "token PIN": []byte(env.Token.PIN),
		"SO PIN": []byte(env.Token.SOPIN), "data key": dk.Plaintext, "CLI data key": dkCLI, "CEK": s.cek,
		"CReq": creq, "audit context secret": []byte("0123456789abcdef0123456789abcdef-test-only")}
	sinks := map[string]string{"keygated log": logs.String(), "error messages": strings.Join(errs, "\n"),
		"CLI stderr": cliErr.String(), "audit store": audit.String()}
	for sink, text := range sinks {
		for name, secret := range secrets {
			if len(secret) == 0 {
				t.Fatalf("%s is empty: the flow did not produce it", name)
			}
			for enc, needle := range map[string]string{"raw": string(secret), "hex": hex.EncodeToString(secret),
				"base64": base64.StdEncoding.EncodeToString(secret), "base64url": base64.RawURLEncoding.EncodeToString(secret)} {
				if strings.Contains(text, needle) {
					t.Errorf("the %s holds the %s (%s)", sink, name, enc)
				}
			}
		}
	}
}

// acsEphemKey reads the ACS ephemeral JWK out of the signed content.
func acsEphemKey(t *testing.T, jws string) []byte {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("acsSignedContent is not a compact JWS")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(payload, []byte(`"acsEphemPubKey":`))
	if i < 0 {
		t.Fatalf("no acsEphemPubKey in %s", payload)
	}
	rest := payload[i+len(`"acsEphemPubKey":`):]
	return rest[:bytes.IndexByte(rest, '}')+1]
}
