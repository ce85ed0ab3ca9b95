package report

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keys"
)

// The inventory shows each version's origin and PKCS#11 attributes, and
// marks what tells of material from outside or once extractable; keys.csv
// carries the same, one entry per version.
func TestInventoryShowsOrigins(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	in := Input{Since: now.Add(-time.Hour), Until: now, Generated: now, Keys: []Key{{
		Name: "pan-key", Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Backend: "hsm", BackendType: "pkcs11", State: "ENABLED", Created: now,
		Versions: []Version{
			{Number: 1, State: "RETIRED", Created: now, Origin: keys.OriginGenerated, Token: &keys.TokenAttrs{Local: true, NeverExtractable: true, AlwaysSensitive: true}},
			{Number: 2, State: "ACTIVE", Created: now, Origin: keys.OriginExternal, Token: &keys.TokenAttrs{}},
			{Number: 3, State: "PENDING_ACTIVATION", Created: now},
		}}}}
	d := NewBuilder(in).Data()
	var b bytes.Buffer
	if err := WriteHTML(&b, d); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		`v1 RETIRED <span class="muted">2026-11-30</span> GENERATED <span class="attr">CKA_LOCAL=true</span> <span class="attr">CKA_NEVER_EXTRACTABLE=true</span> <span class="attr">CKA_ALWAYS_SENSITIVE=true</span>`,
		`v2 ACTIVE <span class="muted">2026-11-30</span> <span class="bad">EXTERNAL</span> <span class="attr bad">CKA_LOCAL=false</span> <span class="attr bad">CKA_NEVER_EXTRACTABLE=false</span> <span class="attr bad">CKA_ALWAYS_SENSITIVE=false</span>`,
		`v3 PENDING_ACTIVATION <span class="muted">2026-11-30</span> <span class="bad">NOT-RECORDED</span></div>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if p := os.Getenv("KEYGATE_REPORT_SHOTS"); p != "" {
		os.WriteFile(p+"/origins.html", b.Bytes(), 0o644)
	}
	rows := csvTables(d)["keys.csv"]
	if got, want := rows[1][len(rows[1])-1], "v1 GENERATED CKA_LOCAL=true CKA_NEVER_EXTRACTABLE=true CKA_ALWAYS_SENSITIVE=true; "+
		"v2 EXTERNAL CKA_LOCAL=false CKA_NEVER_EXTRACTABLE=false CKA_ALWAYS_SENSITIVE=false; v3 NOT-RECORDED"; got != want || rows[0][len(rows[0])-1] != "origins" {
		t.Errorf("keys.csv origins: %q\nwant %q", got, want)
	}
}
