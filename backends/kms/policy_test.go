package kms

import (
	"context"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

func TestKeyPolicy(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.SymmetricDefault, keys.EncryptDecrypt)
	ctx, info := withInfo()
	doc, err := k.GetKeyPolicy(ctx)
	if err != nil || !strings.Contains(string(doc), `"kms:*"`) {
		t.Fatalf("GetKeyPolicy = %s, %v; want KMS's default policy", doc, err)
	}
	if recs := records(f.srv, "GetKeyPolicy"); len(recs) != 1 || recs[0].RequestID != info.RequestID {
		t.Fatalf("GetKeyPolicy request id %q does not match CloudTrail", info.RequestID)
	}
	// Only keygated's own role may use the key; the signing identity (user
	// keygate) would lose kms:PutKeyPolicy, so KMS refuses without bypass.
	mine := `{"Version":"2012-10-17","Statement":[{"Sid":"keygated","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::111122223333:role/keygated"},"Action":"kms:*","Resource":"*"}]}`
	err = k.PutKeyPolicy(context.Background(), []byte(mine), false)
	wantKind(t, err, kgerr.InvalidArgument)
	if strings.Contains(kgerr.Message(err), "keygated") {
		t.Fatalf("error message %q repeats the policy text", kgerr.Message(err))
	}
	if err := k.PutKeyPolicy(context.Background(), []byte(mine), true); err != nil {
		t.Fatal(err)
	}
	if doc, err := k.GetKeyPolicy(context.Background()); err != nil || string(doc) != mine {
		t.Fatalf("GetKeyPolicy after Put = %s, %v", doc, err)
	}
	err = k.PutKeyPolicy(context.Background(), []byte(`{"Statement":"nope"}`), true)
	wantKind(t, err, kgerr.InvalidArgument)
}
