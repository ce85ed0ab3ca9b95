package security

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/keygate/keygate/keys"
	_ "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// badCase is one hostile request and the answer it must get.
type badCase struct {
	name   string
	as     string // identity calling
	method string // full gRPC method name
	req    proto.Message
	code   codes.Code
	says   string // the status message must contain this
}

// minimum is how many bad inputs each service must be tried with.
const minimum = 50

func TestHostileInputs(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	env.CreateKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC")
	env.CreateKey("ds-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT")
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	before := snapshot(t, env)

	cases := append(generated(t), handWritten()...)
	perService := map[string]int{}
	for _, c := range cases {
		perService[strings.Split(c.method, "/")[1]]++
	}
	for _, svc := range []string{"keygate.v1.CryptoService", "keygate.v1.KeyAdminService", "keygate.v1.AuditService",
		"keygate.v1.PolicyService", "keygate.v1.ThreeDSService"} {
		if perService[svc] < minimum {
			t.Errorf("%s is tried with %d bad inputs; want at least %d", svc, perService[svc], minimum)
		}
	}
	conns := map[string]*grpc.ClientConn{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := conns[c.as]
			if conn == nil {
				conn = env.Conn(c.as)
				conns[c.as] = conn
			}
			err := call(conn, c.method, c.req)
			st := status.Convert(err)
			if st.Code() != c.code || !strings.Contains(st.Message(), c.says) {
				t.Errorf("got %s %q; want %s containing %q", st.Code(), st.Message(), c.code, c.says)
			}
			if len(st.Message()) > 512 {
				t.Errorf("the message is %d bytes: a refusal must not echo the input", len(st.Message()))
			}
			if after := snapshot(t, env); !reflect.DeepEqual(before, after) {
				t.Fatalf("the key registry changed")
			}
		})
	}
	t.Logf("bad inputs per service: %v", perService)
}

// call invokes a unary or server-streaming method and returns its status.
func call(conn *grpc.ClientConn, method string, req proto.Message) error {
	md := methodDesc(method)
	resp := newMessage(md.Output())
	ctx := context.Background()
	if !md.IsStreamingServer() {
		return conn.Invoke(ctx, method, req, resp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		return err
	}
	if err := s.SendMsg(req); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(resp)
}

// snapshot is the key registry as stored: every key, its policy, state,
// versions and certificate chains.
func snapshot(t *testing.T, env *harness.Env) []*keys.Key {
	t.Helper()
	ks, err := env.Server.Keyring().List(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func methodDesc(full string) protoreflect.MethodDescriptor {
	parts := strings.Split(strings.TrimPrefix(full, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(parts[0]))
	if err != nil {
		panic(err)
	}
	return d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(parts[1]))
}

func newMessage(md protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		panic(err)
	}
	return mt.New().Interface()
}

// caller is who a generated case calls as: a principal that may reach the
// method, so a refusal comes from validation rather than the policy.
func caller(method string) string {
	if strings.Contains(method, "CryptoService") || strings.Contains(method, "ThreeDSService") {
		return "acs"
	}
	return "admin"
}

// hostile values for a string field: what each must be refused for.
var oddValues = []struct {
	name, value string
	document    bool // refused in a policy or PEM document too
}{
	{"an ANSI escape", "a\x1b[2Jb", true},
	{"a bidi override", "a\u202eb", true},
	{"a NUL", "a\x00b", true},
	{"a newline", "a\nb", false},
}

// documents may hold newlines; free text may hold spaces.
var documents = map[protoreflect.Name]bool{"policy": true, "chain_pem": true, "root_pem": true}

// generated makes, for every string and bytes field of every request (and
// of the messages and maps inside it), an oversized value and each odd
// value: the API's own descriptors say what to attack, so a new field is
// attacked as soon as it exists.
func generated(t *testing.T) []badCase {
	var out []badCase
	protoregistry.GlobalFiles.RangeFilesByPackage("keygate.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				m := svc.Methods().Get(j)
				full := "/" + string(svc.FullName()) + "/" + string(m.Name())
				out = append(out, fieldCases(full, m.Input(), nil)...)
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no keygate.v1 methods found")
	}
	return out
}

// fieldCases attacks each field of md; path leads from the request to md.
func fieldCases(method string, md protoreflect.MessageDescriptor, path []protoreflect.FieldDescriptor) []badCase {
	var out []badCase
	add := func(what string, fd protoreflect.FieldDescriptor, set func(protoreflect.Message), says string) {
		req := newMessage(methodDesc(method).Input())
		set(descend(req.ProtoReflect(), path))
		out = append(out, badCase{name: fmt.Sprintf("%s %s %s", method[1:], fieldPath(path, fd), what), as: caller(method),
			method: method, req: req, code: codes.InvalidArgument, says: says})
	}
	huge := strings.Repeat("x", 400<<10) // over every field limit, under the message limit (a 2.3.1 CRes and 16 KiB)
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		name := fieldPath(path, fd)
		switch {
		case fd.IsMap():
			add("with an oversized key", fd, func(m protoreflect.Message) {
				m.Mutable(fd).Map().Set(protoreflect.ValueOfString(huge).MapKey(), protoreflect.ValueOfString("v"))
			}, name+" key")
			add("with an oversized value", fd, func(m protoreflect.Message) {
				m.Mutable(fd).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString(huge))
			}, name+" value")
			for _, v := range oddValues {
				add("key with "+v.name, fd, func(m protoreflect.Message) {
					m.Mutable(fd).Map().Set(protoreflect.ValueOfString(v.value).MapKey(), protoreflect.ValueOfString("v"))
				}, name+" key")
			}
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList():
			if fd.Message().FullName().Parent() == "keygate.v1" {
				out = append(out, fieldCases(method, fd.Message(), append(append([]protoreflect.FieldDescriptor{}, path...), fd))...)
			}
		case fd.Kind() == protoreflect.StringKind && !fd.IsList():
			add("oversized", fd, func(m protoreflect.Message) { m.Set(fd, protoreflect.ValueOfString(huge)) }, name+" is")
			for _, v := range oddValues {
				if documents[fd.Name()] && !v.document {
					continue
				}
				add("with "+v.name, fd, func(m protoreflect.Message) { m.Set(fd, protoreflect.ValueOfString(v.value)) }, name)
			}
		case fd.Kind() == protoreflect.BytesKind && !fd.IsList():
			add("oversized", fd, func(m protoreflect.Message) { m.Set(fd, protoreflect.ValueOfBytes(make([]byte, 400<<10))) }, name+" is")
		}
	}
	return out
}

func descend(m protoreflect.Message, path []protoreflect.FieldDescriptor) protoreflect.Message {
	for _, fd := range path {
		m = m.Mutable(fd).Message()
	}
	return m
}

func fieldPath(path []protoreflect.FieldDescriptor, fd protoreflect.FieldDescriptor) string {
	var parts []string
	for _, p := range path {
		parts = append(parts, string(p.Name()))
	}
	return strings.Join(append(parts, string(fd.Name())), ".")
}
