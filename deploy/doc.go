// Package deploy holds keygate's deployment definitions — a hardened
// systemd unit, a container image, Kubernetes manifests — and the tests
// that check them with the tools that read them (systemd-analyze, the
// server's own strict config parser, the Kubernetes API types).
package deploy
