package server

import (
	"strings"
	"testing"
	"time"
)

func TestReconcileConfig(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig + "reconcile: {every: 1h, trail_s3: \"s3://trail-bucket/org\", keygate_roles: [arn:aws:iam::111122223333:role/keygated]}\n"))
	if err != nil || c.Reconcile.Every != time.Hour || c.Reconcile.TrailS3 != "s3://trail-bucket/org" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"reconcile: {every: 1h}", "exactly one of"},
		{"reconcile: {every: 1h, lookup: true, trail_dir: /x}", "exactly one of"},
		{"reconcile: {every: 10s, lookup: true}", "reconcile.every 10s"},
		{"reconcile: {every: 1h, trail_s3: bucket/x}", "reconcile.trail_s3"},
		{"reconcile: {every: 1h, lookup: true, bogus: 1}", "bogus"},
	} {
		if _, err := ParseConfig([]byte(goodConfig + tc.yaml + "\n")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
