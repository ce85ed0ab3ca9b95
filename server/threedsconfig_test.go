package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/devca"
)

// threeds: accept_dir_epk and sdk_server parse strictly, default the skew,
// and report an unreadable CA file and a bad skew together.
func TestThreeDSConfig(t *testing.T) {
	ca, err := devca.New("Test DS CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ds-cas.pem")
	if err := os.WriteFile(caFile, devca.CertPEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig([]byte(goodConfig + "threeds: {accept_dir_epk: true, sdk_server: {ca_file: " + caFile + ", principals: [arn:aws:iam::111122223333:role/ds]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.ThreeDS.AcceptDirEPK || c.ThreeDS.SdkServer.MaxSkew != 5*time.Minute || len(c.ThreeDS.SdkServer.Principals) != 1 {
		t.Fatalf("threeds = %+v", c.ThreeDS)
	}
	if tr, err := c.ThreeDS.SdkServer.trust(); err != nil || tr.Roots == nil {
		t.Fatalf("trust: %v", err)
	}
	_, err = ParseConfig([]byte(goodConfig + "threeds: {sdk_server: {ca_file: /nonexistent.pem, max_skew: 2h}}\n"))
	if err == nil || !strings.Contains(err.Error(), "threeds.sdk_server.ca_file") || !strings.Contains(err.Error(), "threeds.sdk_server.max_skew") {
		t.Fatalf("bad sdk_server: %v", err)
	}
	if _, err := ParseConfig([]byte(goodConfig + "threeds: {sdk_server: {ca_fiel: x}}\n")); err == nil {
		t.Fatal("an unknown key was accepted")
	}
}
