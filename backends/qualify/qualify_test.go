package qualify

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// TestClassify: what the backend lacks is unsupported; an error where it
// claims support fails the run, and so does a wrong answer; an error on a
// kind it says it lacks does not.
func TestClassify(t *testing.T) {
	kind := backends.KeyKind{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}
	lacks := kgerr.Errorf(kgerr.FailedPrecondition, "token hsm lacks CKM_EC_KEY_PAIR_GEN: ECC_NIST_P256 keys cannot be created there")
	for _, tc := range []struct {
		err     error
		claimed bool
		want    Outcome
	}{
		{nil, true, OK},
		{lacks, true, Unsupported},
		{errors.New("CKR_MECHANISM_INVALID"), false, Unsupported},
		{errors.New("CKR_DEVICE_ERROR"), true, Failed},
		{fmt.Errorf("sign: %w", wrongf("the signature does not verify")), true, Wrong},
	} {
		r := &Report{Backend: "hsm"}
		r.add(kind, "create", tc.err, tc.claimed)
		if got := r.Cells[0].Outcome; got != tc.want {
			t.Errorf("add(%v, claimed %t) = %s, want %s", tc.err, tc.claimed, got, tc.want)
		}
		if passed := r.Passed(); passed != (tc.want == OK || tc.want == Unsupported) {
			t.Errorf("add(%v): Passed() = %t", tc.err, passed)
		}
	}
}

func TestWrite(t *testing.T) {
	r := &Report{Backend: "hsm", Left: []string{"00aa"}}
	r.add(backends.KeyKind{Spec: keys.RSA2048, Usage: keys.SignVerify}, "sign RSASSA_PSS_SHA_256", nil, true)
	r.add(backends.KeyKind{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}, "create",
		kgerr.Errorf(kgerr.FailedPrecondition, "token hsm lacks CKM_EC_KEY_PAIR_GEN"), false)
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RSA_2048/SIGN_VERIFY", "unsupported  token hsm lacks CKM_EC_KEY_PAIR_GEN",
		"backend hsm: PASSED: 1 ok, 1 unsupported, 0 wrong, 0 errors", "key 00aa could not be destroyed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
