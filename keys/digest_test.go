package keys

import (
	"testing"
	"time"
)

// A version's origin and token attributes are part of its row's digest,
// and a row from before they were kept digests as it always did.
func TestRowDigestCoversOrigin(t *testing.T) {
	created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	k := &Key{Name: "k", Spec: SymmetricDefault, Usage: EncryptDecrypt, Backend: "hsm", State: Enabled, CreatedAt: created, Revision: 3,
		Versions: []Version{{Number: 1, State: VersionActive, BackendKeyID: "01", CreatedAt: created}}}
	// The digest of this row as keygate recorded it before origins were
	// kept (computed with that release's RowDigest).
	const legacy = "revision 3 sha256:ff1daea101439052fc6602bdccf8f83ef07664c0b6a0aea4eae929ed0cfc7b8d"
	old := RowDigest(k)
	if old != legacy {
		t.Fatalf("a row without origin digests to %q, not %q as it did", old, legacy)
	}
	seen := map[string]string{old: "no origin"}
	for name, change := range map[string]func(v *Version){
		"origin":                func(v *Version) { v.Origin = OriginAdopted },
		"token attributes":      func(v *Version) { v.Token = &TokenAttrs{} },
		"CKA_LOCAL":             func(v *Version) { v.Token = &TokenAttrs{Local: true} },
		"CKA_NEVER_EXTRACTABLE": func(v *Version) { v.Token = &TokenAttrs{NeverExtractable: true} },
		"CKA_ALWAYS_SENSITIVE":  func(v *Version) { v.Token = &TokenAttrs{AlwaysSensitive: true} },
	} {
		c := k.Clone()
		change(&c.Versions[0])
		d := RowDigest(c)
		if prev, dup := seen[d]; dup {
			t.Errorf("%s: same digest as %s", name, prev)
		}
		seen[d] = name
	}
}

// Imported material is what came from outside the backend: imported by
// BYOK, or adopted from a token that did not generate it.
func TestVersionImported(t *testing.T) {
	for _, c := range []struct {
		v    Version
		want bool
	}{
		{Version{Origin: OriginGenerated, Token: &TokenAttrs{Local: true}}, false},
		{Version{Origin: OriginExternal}, true},
		{Version{Origin: OriginAdopted}, false}, // KMS: its own Origin says
		{Version{Origin: OriginAdopted, Token: &TokenAttrs{Local: true, NeverExtractable: true, AlwaysSensitive: true}}, false},
		{Version{Origin: OriginAdopted, Token: &TokenAttrs{NeverExtractable: true, AlwaysSensitive: true}}, true},
		{Version{}, false},
	} {
		if got := c.v.Imported(); got != c.want {
			t.Errorf("%+v: Imported() = %t", c.v, got)
		}
	}
}
