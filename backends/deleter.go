package backends

import "context"

// Deleter is implemented by backends that can delete the keys they hold.
// keygate calls ScheduleDeletion when a key version enters its waiting
// period, CancelDeletion when the wait is cancelled, and Destroy when the
// wait is over, or at once for the orphan of a create that failed.
type Deleter interface {
	// ScheduleDeletion starts the backend's own waiting period of days
	// (KMS ScheduleKeyDeletion); a backend without one does nothing.
	ScheduleDeletion(ctx context.Context, id string, days int) error
	// CancelDeletion ends it, leaving the key usable again.
	CancelDeletion(ctx context.Context, id string) error
	// Destroy removes the key material (PKCS#11 C_DestroyObject; for KMS,
	// a deletion scheduled with the shortest wait if none is). A key that
	// is already gone is not an error, so a destruction can be retried.
	Destroy(ctx context.Context, id string) error
}
