package backendtest

import (
	"context"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
)

// testDelete checks backends.Deleter where a backend has it: a deletion
// scheduled and cancelled leaves the key working; once destroyed the key
// serves nothing; destroying again, or a key that never existed, is no
// error (a destruction can be retried).
func (s *suite) testDelete(t *testing.T, unknownID string) {
	d, ok := s.b.(backends.Deleter)
	if !ok {
		t.Skip("the backend cannot delete keys")
	}
	ctx := context.Background()
	id, err := s.b.CreateKey(ctx, backends.CreateRequest{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt, Label: "delete-me/v1"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.b.Open(ctx, id, keys.SymmetricDefault, keys.EncryptDecrypt)
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func() error {
		_, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("x"), nil)
		return err
	}
	if err := d.ScheduleDeletion(ctx, k.ID(), 7); err != nil {
		t.Fatalf("ScheduleDeletion: %v", err)
	}
	if err := d.ScheduleDeletion(ctx, k.ID(), 7); err != nil {
		t.Fatalf("ScheduleDeletion again (a retry): %v", err)
	}
	if err := d.CancelDeletion(ctx, k.ID()); err != nil {
		t.Fatalf("CancelDeletion: %v", err)
	}
	if err := encrypt(); err != nil {
		t.Fatalf("the key after its deletion was cancelled: %v", err)
	}
	if err := d.Destroy(ctx, k.ID()); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := encrypt(); err == nil {
		t.Fatal("a destroyed key still encrypts")
	}
	if err := d.Destroy(ctx, k.ID()); err != nil {
		t.Fatalf("Destroy again: %v", err)
	}
	if err := d.Destroy(ctx, unknownID); err != nil {
		t.Fatalf("Destroy of a key that does not exist: %v", err)
	}
}
