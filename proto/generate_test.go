// Package proto_test checks that the committed Go code matches the .proto
// files: a change to an API that was not regenerated fails the build's
// tests, not a client in production.
package proto_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestGeneratedCodeIsFresh(t *testing.T) {
	buf, err := exec.LookPath("buf")
	if err != nil {
		t.Fatal("buf is not on PATH: run `make tools` (make test does)")
	}
	out := t.TempDir()
	cmd := exec.Command(buf, "generate", "--template", "buf.gen.yaml", "-o", out)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	fresh, _ := filepath.Glob(filepath.Join(out, "proto/keygate/v1/*.go"))
	committed, _ := filepath.Glob("keygate/v1/*.pb.go")
	if len(fresh) == 0 || len(fresh) != len(committed) {
		t.Fatalf("generated %d files, %d committed: run `make proto`", len(fresh), len(committed))
	}
	for _, f := range fresh {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join("keygate/v1", filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make proto` and commit the result", filepath.Base(f))
		}
	}
}
