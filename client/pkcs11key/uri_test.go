package pkcs11key

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	u, err := ParseURI("pkcs11:token=admin%20team;object=alice;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634")
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "admin team" || u.Object != "alice" || string(u.ID) != "\x01\x02" || u.ModulePath != "/usr/lib/softhsm/libsofthsm2.so" {
		t.Fatalf("parsed %+v", u)
	}
	if pin, ok, err := u.PIN(); err != nil || !ok || pin != "12&34" {
		t.Fatalf("PIN: %q %v %v", pin, ok, err)
	}
	if s := u.String(); strings.Contains(s, "12&34") || strings.Contains(s, "12%2634") || !strings.Contains(s, "pin-value=redacted") ||
		!strings.Contains(s, "token=admin%20team") || !strings.Contains(s, "id=%01%02") {
		t.Fatalf("String: %s", s)
	}
	u, err = ParseURI("PKCS11:serial=0123;slot-id=3;object=a?module-path=/m.so")
	if err != nil || u.Serial != "0123" || u.SlotID == nil || *u.SlotID != 3 {
		t.Fatalf("%+v %v", u, err)
	}
	if _, ok, err := u.PIN(); ok || err != nil {
		t.Fatalf("a URI without a PIN gave one: %v %v", ok, err)
	}
}

func TestParseURIRefuses(t *testing.T) {
	const mod = "?module-path=/m.so"
	for uri, want := range map[string]string{
		"token=a;object=b" + mod:                                            "must start with",
		"pkcs11:token=a;object=b":                                           "module-path is required",
		"pkcs11:token=a" + mod:                                              "object (the key's label) or id is required",
		"pkcs11:object=b" + mod:                                             "token, serial or slot-id is required",
		"pkcs11:token=a;objet=b" + mod:                                      `unknown path attribute "objet"`,
		"pkcs11:token=a;object=b" + mod + "&pin=1":                          `unknown query attribute "pin"`,
		"pkcs11:token=a;object=b;object=c" + mod:                            `"object" is given twice`,
		"pkcs11:token=a;object=%zz" + mod:                                   "object: bad percent-encoding",
		"pkcs11:token=a;object=b;type=cert" + mod:                           "type=private",
		"pkcs11:token=a;object=b;slot-id=x" + mod:                           "slot-id",
		"pkcs11:token=a;object=b" + mod + "&module-name=softhsm2":           "module-name is not supported",
		"pkcs11:token=a;object=b" + mod + "&pin-value=1&pin-source=file:/p": "not both",
		"pkcs11:token=a;object" + mod:                                       "not name=value",
	} {
		_, err := ParseURI(uri)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", uri, err, want)
		}
	}
	// A PIN is in no error, however the URI is broken.
	for _, uri := range []string{
		"pkcs11:token=a;object=b" + mod + "&pin-value=s3cr%zz",
		"pkcs11:token=a;object=b;pin-value=s3cret" + mod,
	} {
		if _, err := ParseURI(uri); err == nil || strings.Contains(err.Error(), "s3cr") {
			t.Errorf("%s: %v", uri, err)
		}
	}
}

func TestPINSource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pin")
	if err := os.WriteFile(file, []byte("4321\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"file:" + file, "file://" + file, file} {
		u, err := ParseURI("pkcs11:token=a;object=b?module-path=/m.so&pin-source=" + src)
		if err != nil {
			t.Fatal(err)
		}
		if pin, ok, err := u.PIN(); err != nil || !ok || pin != "4321" {
			t.Errorf("%s: %q %v %v", src, pin, ok, err)
		}
	}
	for src, want := range map[string]string{
		"file:" + filepath.Join(dir, "none"): "no such file",
		"pin.txt":                            "want file:/absolute/path",
		"file://host/etc/pin":                "not a local file",
	} {
		u, err := ParseURI("pkcs11:token=a;object=b?module-path=/m.so&pin-source=" + src)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := u.PIN(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}
