package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/fips"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// The server.started event and the start log say which module and mode
// keygated's own cryptography runs in (make test runs this package in
// FIPS 140-3 mode as well as without it).
func TestStartRecordsFIPSStatus(t *testing.T) {
	e := startEnv(t, "")
	// A call answered means Serve has recorded server.started.
	if _, err := e.admin("admin").ListKeys(context.Background(), &pb.ListKeysRequest{}); err != nil {
		t.Fatal(err)
	}
	want := fips.Current().String()
	if ev := e.lastEvent("keygate:server.started"); !strings.HasSuffix(ev.Detail, "; "+want) {
		t.Fatalf("server.started detail %q, want it to end with %q", ev.Detail, want)
	}
	if !strings.Contains(e.log.String(), want) {
		t.Fatalf("the start log does not say %q:\n%s", want, e.log.String())
	}
}

// require_fips refuses to start with FIPS 140-3 mode off, naming the
// setting, and starts with it on.
func TestRequireFIPS(t *testing.T) {
	var log logBuffer
	err := checkFIPS(&Config{RequireFIPS: true}, slog.New(slog.NewTextHandler(&log, nil)))
	if fips.Current().On() {
		if err != nil {
			t.Fatalf("FIPS 140-3 mode is on (%s), yet: %v", fips.Current(), err)
		}
		return
	}
	if err == nil || !strings.HasPrefix(err.Error(), "require_fips: FIPS 140-3 mode off") {
		t.Fatalf("got %v, want a refusal naming require_fips and the mode", err)
	}
	if err := checkFIPS(&Config{}, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
		t.Fatalf("without require_fips: %v", err)
	}
}
