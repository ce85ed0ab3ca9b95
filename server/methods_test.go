package server

import (
	"context"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
	_ "github.com/keygate/keygate/proto/keygate/v1"
)

// Every keygate RPC must have a descriptor: a method without one is
// refused at run time, so a new RPC that was not given one fails here
// first. Each descriptor's key locator and facts must also accept the
// method's own request type, and every action must be a policy action.
func TestEveryMethodHasADescriptor(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("keygate.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				m := svc.Methods().Get(j)
				full := "/" + string(svc.FullName()) + "/" + string(m.Name())
				n++
				d, ok := methods[full]
				if !ok {
					t.Errorf("%s has no descriptor in server.methods", full)
					continue
				}
				checkDescriptor(t, full, d, m)
			}
		}
		return true
	})
	if n == 0 {
		t.Fatal("no keygate.v1 services registered")
	}
	if n != len(methods) {
		t.Errorf("%d descriptors for %d methods: a descriptor names a method that does not exist", len(methods), n)
	}
}

func checkDescriptor(t *testing.T, full string, d rpc, m protoreflect.MethodDescriptor) {
	t.Helper()
	if d.action == "" {
		t.Errorf("%s: no action", full)
	}
	if m.IsStreamingServer() || m.IsStreamingClient() {
		if d.key != nil {
			t.Errorf("%s: a streaming method cannot name a key (its request arrives after the policy)", full)
		}
		return
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Input().FullName())
	if err != nil {
		t.Fatalf("%s: %v", full, err)
	}
	req := mt.New().Interface()
	if d.key != nil {
		s := &Server{cfg: &Config{ThreeDS: ThreeDSConfig{SessionKey: "3ds-sessions"}}}
		if _, _, err := d.key(context.Background(), s, req); kgerr.KindOf(err) == kgerr.Internal && err != nil {
			t.Errorf("%s: key locator does not fit %T: %v", full, req, err)
		}
	}
	if d.facts != nil {
		for _, k := range []*keys.Key{{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}, {Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt}} {
			d.facts(&Call{}, req, k) // panics if it does not fit the request type
		}
	}
	if (d.crypto || d.usage != "") && d.key == nil {
		t.Errorf("%s: a crypto call or a usage needs a key", full)
	}
	if d.newOutput && !d.crypto {
		t.Errorf("%s: newOutput without crypto means nothing", full)
	}
}

// Every action a descriptor (or actionOf) names is one a policy document
// can spell, so a statement can grant or deny it.
func TestDescriptorActionsAreKnown(t *testing.T) {
	known := map[string]bool{}
	for _, a := range append(policy.KMSActions(), policy.KeygateActions()...) {
		known[a] = true
	}
	for m, d := range methods {
		if !known[d.action] {
			t.Errorf("%s: action %q is not a policy action", m, d.action)
		}
	}
	for a := range accountActions {
		if !known[a] {
			t.Errorf("account action %q is not a policy action", a)
		}
	}
}

// The walk above covers the keygate.v1 package; this one covers what the
// running server really registered, whatever package it came from.
func TestEveryRegisteredMethodHasADescriptor(t *testing.T) {
	e := startEnv(t, "")
	n := 0
	for svc, info := range e.srv.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			full := "/" + svc + "/" + m.Name
			if isInfra(full) {
				continue
			}
			n++
			if _, ok := methods[full]; !ok {
				t.Errorf("registered method %s has no descriptor", full)
			}
		}
	}
	if n != len(methods) {
		t.Errorf("the server registers %d keygate methods; %d descriptors", n, len(methods))
	}
}
