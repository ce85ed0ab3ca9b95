//go:build !keygate_testclock

package server

import "net/http"

// newClock is the production clock: no offset, and nothing can set one.
func newClock() *clock { return &clock{} }

// debugHandlers adds nothing to the pprof listener in a production build.
func debugHandlers(*http.ServeMux) {}
