package server

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/keygate/keygate/proto/keygate/v1"
)

// Every keygate RPC must have an action: a method without one is refused
// at run time, so a new RPC that was not given one fails here first.
func TestEveryMethodHasAnAction(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("keygate.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				full := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(j).Name())
				n++
				if actions[full] == "" {
					t.Errorf("%s has no action in server.actions", full)
				}
			}
		}
		return true
	})
	if n == 0 {
		t.Fatal("no keygate.v1 services registered")
	}
}
