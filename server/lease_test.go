package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/sqldb"
)

// Two replicas on one store: one holds the lease until it expires; the
// holder may renew it. Times are given, not waited for.
func TestLease(t *testing.T) {
	db, err := sqldb.Open(sqldb.SQLite, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, b := &Server{db: db}, &Server{db: db}
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		s      *Server
		holder string
		at     time.Duration
		want   bool
	}{
		{a, "a", 0, true},
		{b, "b", time.Minute, false},     // a holds it for an hour
		{a, "a", 2 * time.Minute, true},  // the holder renews (to 2m+1h)
		{b, "b", time.Hour, false},       // not yet expired
		{b, "b", 63 * time.Minute, true}, // expired: b takes it
		{a, "a", 64 * time.Minute, false},
	} {
		got, err := step.s.lease(ctx, "job", step.holder, t0.Add(step.at), time.Hour)
		if err != nil || got != step.want {
			t.Fatalf("%s at %s: %v %v, want %v", step.holder, step.at, got, err, step.want)
		}
	}
}
