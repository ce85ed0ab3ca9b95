package keyring_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/pkcs11"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	"github.com/keygate/keygate/keys/sqlstore"
	"github.com/keygate/keygate/test/softhsm"
)

// While the store cannot be read, a replica serves its cached copy of a
// key only until it is MaxStale old; then the key fails closed with
// Unavailable instead of going on with a state and policy that may have
// changed elsewhere. Real parts: SQLite (closed to cut it off) and SoftHSM.
func TestCachedKeyFailsClosedWhenTheStoreStaysUnreachable(t *testing.T) {
	ctx := context.Background()
	tok := softhsm.New(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN), 0o600); err != nil {
		t.Fatal(err)
	}
	hsm, err := pkcs11.Open(ctx, "hsm", pkcs11.Config{Module: tok.Module, TokenLabel: tok.Label, PINFile: pinFile})
	if err != nil {
		t.Fatal(err)
	}
	defer hsm.Close()
	db, err := sqldb.Open(sqldb.SQLite, filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	kr := keyring.New(store, map[string]backends.Backend{"hsm": hsm},
		keyring.Options{Refresh: 5 * time.Second, MaxStale: 20 * time.Second, Now: clock})
	if _, err := kr.Create(ctx, keyring.CreateParams{Name: "av-mac", Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac, Backend: "hsm"}); err != nil {
		t.Fatal(err)
	}

	db.Close() // the store is now unreachable
	advance(6 * time.Second)
	if _, err := kr.Resolve(ctx, "av-mac"); err != nil {
		t.Fatalf("6s old, within max stale: %v", err)
	}
	advance(15 * time.Second) // 21s
	_, err = kr.Resolve(ctx, "av-mac")
	if kgerr.KindOf(err) != kgerr.Unavailable || !strings.Contains(err.Error(), "older than 20s") {
		t.Fatalf("21s old with the store down: %v, want Unavailable", err)
	}
}
