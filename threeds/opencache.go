package threeds

import (
	"bytes"
	"sync"
	"time"
)

// DefaultOpenCacheSize bounds an OpenCache made with size 0: ten thousand
// open challenges at a few hundred bytes each.
const DefaultOpenCacheSize = 10000

// OpenCache keeps recently opened sessions' immutable state (CEK included)
// in process memory, so a challenge message costs no backend Decrypt of
// the sealed blob. It never holds counters: those are read from the
// SessionStore on every call and advanced there by compare-and-swap, so a
// counter moved by another replica is always seen. An entry is used only
// while the store still holds the very blob it was opened from, under the
// same seal key, and only until the session expires. Safe for concurrent
// use.
type OpenCache struct {
	size int
	mu   sync.Mutex
	m    map[string]openEntry
	// order holds the entries in the order they were put, oldest first,
	// for eviction in constant time: sessions live alike, so the oldest
	// are the first to expire. Entries since dropped stay in it until
	// reached (or compacted away); seq tells them from a newer entry under
	// the same id.
	order []orderRef
	seq   uint64
}

type openEntry struct {
	sealKeyID string
	sealed    []byte
	s         Session // Counters zero: never read from here
	seq       uint64  // its place in order
}

type orderRef struct {
	id  string
	seq uint64
}

// NewOpenCache makes a cache of at most size sessions (0: the default).
func NewOpenCache(size int) *OpenCache {
	if size <= 0 {
		size = DefaultOpenCacheSize
	}
	return &OpenCache{size: size, m: make(map[string]openEntry)}
}

// get returns session id as opened from rec, if cached and still current.
// It is keyed by the id asked for, never by what the store returned: the
// seal binds a blob to its id, and the cache must not loosen that.
func (c *OpenCache) get(id string, rec SessionRecord, now time.Time) (Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return Session{}, false
	}
	if e.sealKeyID != rec.SealKeyID || !bytes.Equal(e.sealed, rec.Sealed) || !now.Before(e.s.Expiry) {
		delete(c.m, id)
		return Session{}, false
	}
	s := e.s
	s.Counters = rec.Counters
	s.CEK = bytes.Clone(e.s.CEK) // the caller zeroes its copy after use
	return s, true
}

// put remembers s (session id) as opened from rec. When full it drops the
// oldest entry, which costs the same however large the cache is (a scan
// of the whole cache per put was a fifth of CreateAcsSession's CPU once
// ten thousand sessions were open).
func (c *OpenCache) put(id string, rec SessionRecord, s Session) {
	s.Counters = Counters{}
	s.CEK = bytes.Clone(s.CEK) // the cache's own copy, which no caller zeroes
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		for len(c.m) >= c.size && len(c.order) > 0 {
			c.dropOldest()
		}
		c.seq++
		e.seq = c.seq
		c.order = append(c.order, orderRef{id, e.seq})
		if len(c.order) > 2*c.size {
			c.compact()
		}
	}
	e.sealKeyID, e.sealed, e.s = rec.SealKeyID, bytes.Clone(rec.Sealed), s
	c.m[id] = e
}

// dropOldest drops the entry at the head of order, if it is still there.
func (c *OpenCache) dropOldest() {
	ref := c.order[0]
	c.order[0] = orderRef{}
	c.order = c.order[1:]
	if e, ok := c.m[ref.id]; ok && e.seq == ref.seq {
		delete(c.m, ref.id)
	}
}

// compact forgets the places of entries already dropped, so order stays
// within twice the cache's size.
func (c *OpenCache) compact() {
	live := make([]orderRef, 0, len(c.m))
	for _, ref := range c.order {
		if e, ok := c.m[ref.id]; ok && e.seq == ref.seq {
			live = append(live, ref)
		}
	}
	c.order = live
}

// Len is the number of cached sessions.
func (c *OpenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
