package threeds

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// ErrCountersChanged is what SessionStore.Update returns (possibly wrapped)
// when the stored counters are not the old ones: another request used the
// session in between.
var ErrCountersChanged = errors.New("threeds: session counters changed concurrently")

// SessionRecord is a session as stored: the sealed state, the key that
// sealed it, the counters with their MAC (countermac.go) and the expiry
// (for DeleteExpired; the sealed expiry is the one enforced).
type SessionRecord struct {
	ID          string
	SealKeyID   string
	Sealed      []byte
	Counters    Counters
	CountersMAC []byte
	Expiry      time.Time
}

// SessionStore keeps sessions where every keygated replica sees them. The
// counters are the replay protection, so Update must be an atomic
// compare-and-swap (SQL: UPDATE … WHERE id = ? AND sdk_counter = ? AND
// acs_counter = ?, then check one row changed).
type SessionStore interface {
	// Create stores a new record; keys.AlreadyExists if the id is taken.
	Create(ctx context.Context, rec SessionRecord) error
	// Get returns the record; kgerr.NotFound if there is none.
	Get(ctx context.Context, id string) (SessionRecord, error)
	// Update sets the counters to next, and their MAC to mac, if they are
	// still old, else returns ErrCountersChanged; kgerr.NotFound if the
	// record is gone.
	Update(ctx context.Context, id string, old, next Counters, mac []byte) error
	// DeleteExpired removes records whose expiry is not after now and
	// reports how many.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// MemoryStore is a SessionStore in process memory, for tests and a single
// replica. The zero value is ready to use.
type MemoryStore struct {
	mu   sync.Mutex
	recs map[string]SessionRecord
}

var _ SessionStore = (*MemoryStore)(nil)

func (m *MemoryStore) Create(ctx context.Context, rec SessionRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]SessionRecord{}
	}
	if _, ok := m.recs[rec.ID]; ok {
		return kgerr.Errorf(kgerr.AlreadyExists, "challenge session %q exists", rec.ID)
	}
	rec.Sealed = append([]byte(nil), rec.Sealed...)
	rec.CountersMAC = append([]byte(nil), rec.CountersMAC...)
	m.recs[rec.ID] = rec
	return nil
}

func (m *MemoryStore) Get(ctx context.Context, id string) (SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.recs[id]
	if !ok {
		return SessionRecord{}, kgerr.Errorf(kgerr.NotFound, "challenge session not found")
	}
	rec.Sealed = append([]byte(nil), rec.Sealed...)
	rec.CountersMAC = append([]byte(nil), rec.CountersMAC...)
	return rec, nil
}

func (m *MemoryStore) Update(ctx context.Context, id string, old, next Counters, mac []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.recs[id]
	if !ok {
		return kgerr.Errorf(kgerr.NotFound, "challenge session not found")
	}
	if rec.Counters != old {
		return ErrCountersChanged
	}
	rec.Counters = next
	rec.CountersMAC = append([]byte(nil), mac...)
	m.recs[id] = rec
	return nil
}

func (m *MemoryStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, rec := range m.recs {
		if !rec.Expiry.After(now) {
			delete(m.recs, id)
			n++
		}
	}
	return n, nil
}
