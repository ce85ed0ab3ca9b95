package server

import (
	"encoding/hex"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/audit"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Every filter of audit events refuses a value it would silently not
// match, naming the filter (issue 16, finding 8's done-when); the values
// events really hold pass.
func TestValidFilterRefusesWhatNoEventHas(t *testing.T) {
	now := time.Now()
	hmac := strings.Repeat("ab", 32)
	for _, c := range []struct {
		f    *pb.EventFilter
		want string // "" = valid
	}{
		{&pb.EventFilter{Kind: "call", Kinds: []string{"key.created", "audit.resumed"}}, ""},
		{&pb.EventFilter{Kind: "bogus"}, `filter.kind "bogus" is not an event kind`},
		{&pb.EventFilter{Kinds: []string{"call", "Call"}}, `filter.kind "Call" is not an event kind`},
		{&pb.EventFilter{Result: "OK", Results: []string{"PermissionDenied", "NotFound"}}, ""},
		{&pb.EventFilter{Results: []string{"denied"}}, `filter.result "denied" is not a result`},
		{&pb.EventFilter{Action: "kms:Sign"}, ""},
		{&pb.EventFilter{Action: "Sign"}, `filter.action "Sign" has no prefix`},
		{&pb.EventFilter{Principal: "arn:aws:iam::111122223333:role/acs"}, ""},
		{&pb.EventFilter{Principal: "keygated"}, ""},
		{&pb.EventFilter{Principal: "role/acs"}, `filter.principal "role/acs" is not a whole principal ARN`},
		{&pb.EventFilter{Since: timestamppb.New(now.Add(-time.Hour)), Until: timestamppb.New(now)}, ""},
		{&pb.EventFilter{Since: timestamppb.New(now), Until: timestamppb.New(now)}, "filter.since"},
		{&pb.EventFilter{EncryptionContext: []*pb.ContextField{{Key: "acsTransID", ValueHmac: hmac}, {Key: "tenant", ValueHmac: hmac}}}, ""},
		{&pb.EventFilter{EncryptionContext: []*pb.ContextField{{Key: "acsTransID", ValueHmac: "42"}}}, "filter.encryption_context[0].value_hmac is not an HMAC"},
		{&pb.EventFilter{EncryptionContext: []*pb.ContextField{{Key: "acsTransID", ValueHmac: strings.Repeat("zz", 32)}}}, "is not an HMAC"},
		{&pb.EventFilter{EncryptionContext: []*pb.ContextField{{Key: "keygate:key-name", ValueHmac: hmac}}}, "filter.encryption_context[0].key is empty or reserved"},
		{&pb.EventFilter{EncryptionContext: []*pb.ContextField{{Key: "", ValueHmac: hmac}}}, "is empty or reserved"},
		{&pb.EventFilter{EncryptionContext: []*pb.ContextField{{Key: "a", ValueHmac: hmac}, {Key: "a", ValueHmac: hmac}}}, "filter.encryption_context[1]: a key given twice"},
	} {
		err := validFilter(c.f)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: refused: %v", c.f, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want an error with %q", c.f, err, c.want)
		}
	}
}

// The encryption-context condition matches an event holding every pair
// asked for, whatever else its context holds.
func TestContextMatch(t *testing.T) {
	ev := &audit.Event{Context: []audit.ContextField{{Key: "acsTransID", ValueMAC: [32]byte{1}}, {Key: "tenant", ValueMAC: [32]byte{2}}}}
	hx := func(b byte) string { return hex.EncodeToString(append([]byte{b}, make([]byte, 31)...)) }
	for _, c := range []struct {
		want []*pb.ContextField
		ok   bool
	}{
		{[]*pb.ContextField{{Key: "acsTransID", ValueHmac: hx(1)}}, true},
		{[]*pb.ContextField{{Key: "acsTransID", ValueHmac: hx(1)}, {Key: "tenant", ValueHmac: hx(2)}}, true},
		{[]*pb.ContextField{{Key: "acsTransID", ValueHmac: hx(2)}}, false},
		{[]*pb.ContextField{{Key: "acsTransID", ValueHmac: hx(1)}, {Key: "region", ValueHmac: hx(2)}}, false},
	} {
		if got := contextMatch(&pb.EventFilter{EncryptionContext: c.want})(ev); got != c.ok {
			t.Errorf("%v: %t", c.want, got)
		}
	}
	if contextMatch(&pb.EventFilter{}) != nil {
		t.Error("a filter without a context has a context condition")
	}
}

// eventKinds lists every Kind audit/event.go declares: a kind missing here
// would make its events unfindable by --kind.
func TestEventKindsAreEveryKind(t *testing.T) {
	f, err := parser.ParseFile(gotoken.NewFileSet(), "../audit/event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || vs.Type == nil || len(vs.Values) != 1 {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		n++
		if k := audit.Kind(strings.Trim(lit.Value, `"`)); !slices.Contains(eventKinds, k) {
			t.Errorf("audit kind %q (%s) is not in eventKinds", k, vs.Names[0].Name)
		}
		return true
	})
	if n < 10 {
		t.Fatalf("found %d Kind constants in audit/event.go: the test no longer reads them", n)
	}
}
