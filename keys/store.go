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

// EachKey calls f with every key in s, a page at a time, and stops at the
// first error f or the store returns.
func EachKey(ctx context.Context, s Store, f func(*Key) error) error {
	const page = 100
	for after := ""; ; {
		ks, err := s.ListKeys(ctx, after, page)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if err := f(k); err != nil {
				return err
			}
		}
		if len(ks) < page {
			return nil
		}
		after = ks[len(ks)-1].Name
	}
}
