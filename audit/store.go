package audit

import (
	"context"
	"errors"
	"time"
)

// ErrCheckpointRace is AddCheckpoint's answer when another writer stored
// the next chained checkpoint first: read the newest one and sign again.
var ErrCheckpointRace = errors.New("audit: another writer chained a checkpoint first")

// Head is a point in the chain: event Seq and its hash. The empty chain's
// head is {0, zero hash}.
type Head struct {
	Seq  uint64
	Hash [32]byte
}

// Record is an event as a store keeps it: the canonical encoding (the only
// thing that is hashed), its hash, and copies of the fields queries filter
// on. Verify checks that the copies agree with the encoding.
type Record struct {
	Seq       uint64
	TimeNs    int64
	Kind      Kind
	Principal string
	Action    string
	KeyName   string
	Result    string
	Hash      [32]byte
	Body      []byte
}

// Query selects records; zero fields do not filter. Results come in seq
// order; page with AfterSeq (the last seq of the previous page) and Limit.
type Query struct {
	Since, Until time.Time // Since <= time < Until
	KeyName      string
	Principal    string
	Action       string
	Result       string
	Kind         Kind
	AfterSeq     uint64 // only seq > AfterSeq
	Desc         bool   // newest first; AfterSeq then means seq < AfterSeq when non-zero
	Limit        int    // at most this many; 0 means DefaultLimit
	// LinksOnly lets the store fill only Seq, Hash and Body (the
	// checkpointer's chain walk needs no more).
	LinksOnly bool
	// Results and Kinds: an event matches any one of them (and Result and
	// Kind as well, when set).
	Results []string
	Kinds   []Kind
	// ThroughSeq, when non-zero, is the last seq a query sees: a listing
	// paged over a live log pins the head it began at, so the events
	// committed while it pages (its own reads among them) do not extend it.
	ThroughSeq uint64
}

// DefaultLimit and MaxLimit bound one page of a query.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Store keeps the chain. Implementations (package audit/sqlstore: SQLite
// and PostgreSQL) pass the suite in audit/storetest.
type Store interface {
	// Append runs one transaction: it locks and reads the chain head, calls
	// link with it, inserts the records link returns (which continue the
	// chain from that head), advances the head to the last of them and
	// commits. Several writers (several Logs, several processes sharing a
	// database) may call Append concurrently; the lock serializes them.
	Append(ctx context.Context, link func(head Head) ([]Record, error)) (Head, error)
	// Bounds returns the base (the last pruned event, zero if none) and the
	// head recorded in the store.
	Bounds(ctx context.Context) (base, head Head, err error)
	// Records returns one page of records matching q.
	Records(ctx context.Context, q Query) ([]Record, error)
	// AddCheckpoint stores a signed checkpoint. A chained one (Counter
	// >= 1) is stored only if the newest stored checkpoint's Counter is
	// c.Counter-1, checked in the transaction that inserts it; otherwise it
	// returns ErrCheckpointRace (another writer chained one first).
	AddCheckpoint(ctx context.Context, c Checkpoint) error
	// LastCheckpoint returns the checkpoint with the highest Counter (the
	// newest chained one), or the zero Checkpoint if there is none.
	LastCheckpoint(ctx context.Context) (Checkpoint, error)
	// Checkpoints returns the checkpoints with from <= Seq <= to, in seq
	// order (then time order).
	Checkpoints(ctx context.Context, from, to uint64) ([]Checkpoint, error)
	// Prune deletes the events with seq <= through.Seq and the checkpoints
	// before it, and makes through the new base, in one transaction. It
	// fails unless the event at through.Seq has hash through.Hash and a
	// checkpoint at through.Seq exists. Callers use audit.Prune, which
	// first checks an archive.
	Prune(ctx context.Context, through Head) error
	Close() error
}
