package backends

// SessionStats is a session pool's state, for metrics.
type SessionStats struct {
	InUse int    // sessions lent out now
	Max   int    // the pool's bound
	Waits uint64 // acquisitions that found every session busy and waited, since start
}

// SessionReporter is implemented by backends that pool sessions (PKCS#11);
// keygated exports what it reports as metrics.
type SessionReporter interface {
	Sessions() SessionStats
}
