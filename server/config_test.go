package server

import (
	"strings"
	"testing"
)

const goodConfig = `
listen: 127.0.0.1:7443
account: "111122223333"
region: eu-west-1
tls: {cert: s.pem, key: s-key.pem, client_ca: ca.pem}
principals:
  - {identity: "spiffe://x/acs", arn: "arn:aws:iam::111122223333:role/acs"}
admins: [arn:aws:iam::111122223333:role/admin]
store: {driver: sqlite, dsn: /tmp/k.db}
audit: {context_secret_file: /etc/keygate/audit-secret}
backends:
  - name: hsm
    type: pkcs11
    config: {module: /usr/lib/softhsm/libsofthsm2.so}
`

func TestConfigAccepts(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultBackend != "hsm" || c.KeyARN("k") != "arn:aws:kms:eu-west-1:111122223333:key/k" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigRejectsUnknownKeys(t *testing.T) {
	_, err := ParseConfig([]byte(goodConfig + "listne: x\n"))
	if err == nil || !strings.Contains(err.Error(), "listne") {
		t.Fatalf("unknown key: %v", err)
	}
}

// Every problem is reported at once, so an operator fixes the file in one go.
func TestConfigReportsEveryProblem(t *testing.T) {
	bad := strings.NewReplacer(`"111122223333"`, `"12"`, "eu-west-1", "mars", "driver: sqlite", "driver: oracle",
		"arn:aws:iam::111122223333:role/acs", "acs", "client_ca: ca.pem", "client_ca: ''").Replace(goodConfig)
	_, err := ParseConfig([]byte(bad))
	if err == nil {
		t.Fatal("accepted a bad config")
	}
	for _, want := range []string{"account", "region", "store.driver", "principals[0].arn", "tls.client_ca"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}
