package keys

import "context"

// Store keeps logical keys. Implementations return *kgerr.Error values:
// NotFound for a missing key, AlreadyExists for a duplicate name, and
// FailedPrecondition when an update lost a race with another replica.
type Store interface {
	CreateKey(ctx context.Context, k *Key) error
	GetKey(ctx context.Context, name string) (*Key, error)
	// ListKeys returns up to limit keys whose names sort after `after`.
	ListKeys(ctx context.Context, after string, limit int) ([]*Key, error)
	// UpdateKey stores k if the stored revision is still k.Revision, and
	// then increments k.Revision.
	UpdateKey(ctx context.Context, k *Key) error
}
