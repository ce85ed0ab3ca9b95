package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/softhsm"
)

// Finding 5 of issue 16: an admin's client key lives on a PKCS#11 token.
// The real CLI generates it in a SoftHSM token, the test CA certifies its
// request with the README's openssl command, and `keygate keys list`
// signs the mTLS handshake in the token. A wrong PIN, a missing object and
// a missing PIN fail clearly, and no PIN reaches the output.
func TestCLIClientKeyOnToken(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("issuer-cavv", "HMAC_256", "GENERATE_VERIFY_MAC")
	tok := softhsm.New(t) // the admin's own token, beside the server's
	bin, err := cliBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pin := filepath.Join(dir, "alice.pin")
	if err := os.WriteFile(pin, []byte(tok.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongPIN := filepath.Join(dir, "wrong.pin")
	if err := os.WriteFile(wrongPIN, []byte("87654321\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyURI := func(object, pinFile string) string {
		u := fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s", tok.Label, object, tok.Module)
		if pinFile != "" {
			u += "&pin-source=file:" + pinFile
		}
		return u
	}
	var allOut bytes.Buffer
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		// No controlling terminal: the CLI cannot ask for a PIN, as in a script.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		allOut.Write(out.Bytes())
		allOut.Write(errb.Bytes())
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}

	csr := filepath.Join(dir, "alice.csr")
	if _, stderr, code := cli("token", "keygen", keyURI("alice", pin), "--key-spec", "ECC_NIST_P256",
		"--subject", "CN=alice,O=keygate test", "--uri-san", "spiffe://keygate.test/admin", "--out", csr); code != 0 {
		t.Fatalf("token keygen: exit %d: %s", code, stderr)
	}
	ca, _, _ := env.TLSFiles("admin")
	caKey := filepath.Join(filepath.Dir(ca), "ca-key.pem")
	ext := filepath.Join(dir, "client.ext")
	if err := os.WriteFile(ext, []byte("extendedKeyUsage = clientAuth\nkeyUsage = critical, digitalSignature\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "alice.pem")
	if out, err := exec.Command("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-days", "365",
		"-copy_extensions", "copy", "-extfile", ext, "-out", cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl x509 -req: %v\n%s", err, out)
	}
	global := []string{"--addr", env.Addr, "--ca", ca, "--cert", cert}

	out, stderr, code := cli(append(global, "--client-key", keyURI("alice", pin), "keys", "list")...)
	if code != 0 || !strings.Contains(out, "issuer-cavv") {
		t.Fatalf("keys list with the token's key: exit %d\n%s%s", code, out, stderr)
	}
	evs := events(t, env, &pb.EventFilter{Action: "kms:ListKeys", Principal: harness.ARN("admin")})
	if len(evs) == 0 || !strings.Contains(evs[len(evs)-1].CertSubject, "CN=alice") {
		t.Fatalf("the audit log does not show alice's certificate: %v", evs)
	}

	_, stderr, code = cli(append(global, "--client-key", keyURI("alice", wrongPIN), "keys", "list")...)
	if code != 6 || !strings.Contains(stderr, "PIN is incorrect") || !strings.Contains(stderr, tok.Label) {
		t.Errorf("wrong PIN: exit %d: %s", code, stderr)
	}
	_, stderr, code = cli(append(global, "--client-key", keyURI("bob", pin), "keys", "list")...)
	if code != 2 || !strings.Contains(stderr, `no private key with object="bob"`) || !strings.Contains(stderr, tok.Label) {
		t.Errorf("missing object: exit %d: %s", code, stderr)
	}
	_, stderr, code = cli(append(global, "--client-key", keyURI("alice", ""), "keys", "list")...)
	if code != 2 || !strings.Contains(stderr, "no terminal") {
		t.Errorf("no PIN and no terminal: exit %d: %s", code, stderr)
	}
	// No PIN in the URI, on a terminal: the CLI asks for it there, without echo.
	term := newTerminal(t)
	cmd := exec.Command(bin, append(global, "--client-key", keyURI("alice", ""), "keys", "list")...)
	var termOut, termErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &termOut, &termErr
	term.attach(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	term.waitFor(t, fmt.Sprintf("PIN for token %q: ", tok.Label))
	if _, err := term.master.Write([]byte(tok.PIN + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(termOut.String(), "issuer-cavv") {
		t.Fatalf("keys list with the PIN typed on the terminal: %v\n%s%s", err, termOut.String(), termErr.String())
	}
	allOut.WriteString(term.String())
	allOut.Write(termErr.Bytes())
	// The token's key with someone else's certificate is refused before any call.
	_, adminCert, _ := env.TLSFiles("admin")
	_, stderr, code = cli("--addr", env.Addr, "--ca", ca, "--cert", adminCert, "--client-key", keyURI("alice", pin), "keys", "list")
	if code == 0 || !strings.Contains(stderr, "not for the client key") {
		t.Errorf("a certificate for another key: exit %d: %s", code, stderr)
	}
	for _, secret := range []string{tok.PIN, "87654321"} {
		if strings.Contains(allOut.String(), secret) {
			t.Fatalf("a PIN reached the CLI's output")
		}
	}
}
