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
}

type openEntry struct {
	sealKeyID string
	sealed    []byte
	s         Session // Counters zero: never read from here
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

// put remembers s (session id) as opened from rec. When full it drops
// expired entries, then, if none was, an arbitrary one.
func (c *OpenCache) put(id string, rec SessionRecord, s Session, now time.Time) {
	s.Counters = Counters{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok && len(c.m) >= c.size {
		for id, e := range c.m {
			if !now.Before(e.s.Expiry) {
				delete(c.m, id)
			}
		}
		for id := range c.m {
			if len(c.m) < c.size {
				break
			}
			delete(c.m, id)
		}
	}
	s.CEK = bytes.Clone(s.CEK) // the cache's own copy, which no caller zeroes
	c.m[id] = openEntry{sealKeyID: rec.SealKeyID, sealed: bytes.Clone(rec.Sealed), s: s}
}

// Len is the number of cached sessions.
func (c *OpenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
