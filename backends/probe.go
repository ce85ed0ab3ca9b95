package backends

import "context"

// Prober is implemented by backends that can tell cheaply whether they can
// serve (a PKCS#11 token: a session and its info), without using a key:
// keygated probes a backend it found unavailable, so a replica that a load
// balancer stopped sending traffic to still notices the backend's return.
type Prober interface {
	Probe(ctx context.Context) error
}
