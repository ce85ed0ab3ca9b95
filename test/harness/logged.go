package harness

import (
	"context"
	"testing"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// LoggedCalls reads every page of the audit log through c and returns the
// correlation ids of the successful calls of the given actions: what a
// crash test compares the calls it was answered against.
func LoggedCalls(t testing.TB, c pb.AuditServiceClient, actions ...string) map[string]bool {
	t.Helper()
	logged := map[string]bool{}
	for _, action := range actions {
		token := ""
		for {
			resp, err := c.ListEvents(context.Background(), &pb.ListEventsRequest{
				Filter: &pb.EventFilter{Action: action, Result: "OK"}, PageSize: 1000, PageToken: token})
			must(t, err)
			for _, e := range resp.Events {
				logged[e.CorrelationId] = true
			}
			if token = resp.NextPageToken; token == "" {
				break
			}
		}
	}
	return logged
}
