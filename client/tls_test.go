package client

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/devca"
)

// A renewed client certificate is picked up at the next handshake, and a
// half-written renewal keeps the last good one.
func TestFileCredsReload(t *testing.T) {
	ca, err := devca.New("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := devca.WriteFiles(dir, "ca", ca.Cert, ca.Key); err != nil {
		t.Fatal(err)
	}
	issue := func(name string, at time.Time) {
		c, err := ca.Client(name, "spiffe://keygate.test/acs")
		if err != nil {
			t.Fatal(err)
		}
		if err := devca.WriteFiles(dir, "acs", c.Cert, c.Key); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"acs.pem", "acs-key.pem"} {
			if err := os.Chtimes(filepath.Join(dir, f), at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	served := func(fc *fileCreds) string {
		kp, err := fc.config().GetClientCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return kp.Leaf.Subject.CommonName
	}
	t0 := time.Now().Add(-time.Hour)
	issue("first", t0)
	fc, err := newFileCreds(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "acs.pem"), filepath.Join(dir, "acs-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if got := served(fc); got != "first" {
		t.Fatalf("served %q", got)
	}
	issue("renewed", t0.Add(time.Minute))
	if got := served(fc); got != "renewed" {
		t.Fatalf("after renewal served %q", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "acs.pem"), []byte("-----BEGIN CERT"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := served(fc); got != "renewed" {
		t.Fatalf("a half-written file replaced the good certificate: %q", got)
	}
}
