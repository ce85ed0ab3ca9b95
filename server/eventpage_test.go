package server

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// listAll pages through ListEvents as a client does, calling between after
// each page (traffic committed while the listing runs); it fails rather
// than hang if the listing never ends.
func listAll(t *testing.T, c pb.AuditServiceClient, req *pb.ListEventsRequest, between func()) []uint64 {
	t.Helper()
	var seqs []uint64
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatalf("ListEvents: still paging after %d pages (%d events): the listing chases the log", pages, len(seqs))
		}
		resp, err := c.ListEvents(context.Background(), req)
		must(t, err)
		for _, e := range resp.Events {
			seqs = append(seqs, e.Seq)
		}
		if resp.NextPageToken == "" {
			return seqs
		}
		req.PageToken = resp.NextPageToken
		between()
	}
}

// Issue 16: `audit events --page-size 1` never finished. Each page read
// the live log, and each page's own audit.read event (recorded after the
// page) was one more event to read: a listing now returns exactly the
// events that existed when its first page was read, whatever is committed
// while it pages.
func TestListEventsIsASnapshot(t *testing.T) {
	e := startEnv(t, "")
	e.createKey("paged", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", policyDoc(nil))
	crypto, audit := e.crypto("admin"), pb.NewAuditServiceClient(e.as("admin"))
	encrypt := func(t *testing.T, id string) {
		_, err := crypto.Encrypt(context.Background(), &pb.EncryptRequest{KeyId: "paged", Plaintext: []byte("p"),
			EncryptionContext: map[string]string{"acsTransID": id}})
		must(t, err)
	}
	for _, id := range []string{"42", "7", "42", "7", "7", "42"} {
		encrypt(t, id)
	}
	hashes, err := audit.HashContext(context.Background(), &pb.HashContextRequest{EncryptionContext: map[string]string{"acsTransID": "42"}})
	must(t, err)
	byContext := &pb.EventFilter{Action: "kms:Encrypt", EncryptionContext: hashes.EncryptionContext}

	// What the log holds now, in one page.
	snapshot := func(t *testing.T, f *pb.EventFilter) []uint64 {
		resp, err := audit.ListEvents(context.Background(), &pb.ListEventsRequest{Filter: f, PageSize: 1000})
		must(t, err)
		if resp.NextPageToken != "" {
			t.Fatalf("a listing of %d events came back with a token", len(resp.Events))
		}
		var seqs []uint64
		for _, e := range resp.Events {
			seqs = append(seqs, e.Seq)
		}
		return seqs
	}

	t.Run("page size 1", func(t *testing.T) {
		want := snapshot(t, nil)
		got := listAll(t, audit, &pb.ListEventsRequest{PageSize: 1}, func() {})
		// The snapshot's own audit.read event is in the listing: it was
		// committed before the listing began.
		if want = append(want, want[len(want)-1]+1); !slices.Equal(got, want) {
			t.Errorf("page size 1 listed seqs %v, want %v", got, want)
		}
	})
	t.Run("matching traffic while paging", func(t *testing.T) {
		want := snapshot(t, byContext)
		if len(want) != 3 {
			t.Fatalf("the context filter matches %v, want 3 events", want)
		}
		got := listAll(t, audit, &pb.ListEventsRequest{Filter: byContext, PageSize: 1}, func() { encrypt(t, "42") })
		if !slices.Equal(got, want) {
			t.Errorf("listed %v while matching events were committed, want the %v there were", got, want)
		}
	})
	t.Run("short context pages", func(t *testing.T) {
		// A scan that reads few events per call: pages come back short
		// (even empty) with a token, and the listing still ends at the pin.
		want := snapshot(t, byContext)
		defer func(n int) { maxScan = n }(maxScan)
		maxScan = 2
		short := 0
		req := &pb.ListEventsRequest{Filter: byContext, PageSize: 2}
		var got []uint64
		for pages := 0; ; pages++ {
			if pages > 500 {
				t.Fatalf("still paging after %d pages", pages)
			}
			resp, err := audit.ListEvents(context.Background(), req)
			must(t, err)
			for _, e := range resp.Events {
				got = append(got, e.Seq)
			}
			if resp.NextPageToken == "" {
				break
			}
			if len(resp.Events) < 2 {
				short++
			}
			req.PageToken = resp.NextPageToken
			encrypt(t, "42")
		}
		if !slices.Equal(got, want) || short == 0 {
			t.Errorf("short pages (%d) listed %v, want %v", short, got, want)
		}
	})
	t.Run("token", func(t *testing.T) {
		for _, bad := range []string{"12", "5-5", "9-3", "x-9", "1-2-3"} {
			_, err := audit.ListEvents(context.Background(), &pb.ListEventsRequest{PageToken: bad})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("page_token %q: %v, want InvalidArgument", bad, err)
			}
		}
	})
}
