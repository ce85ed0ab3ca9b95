//go:build keygate_testclock

package server

import (
	"net/http"
	"time"
)

// testClock is the one clock of a test build's process, which
// /debug/clock sets: test/faults builds keygated with -tags
// keygate_testclock to make its clock jump under load.
var testClock clock

func newClock() *clock { return &testClock }

// debugHandlers serves /debug/clock on the loopback pprof listener:
// POST /debug/clock?offset=-1h sets the clock's offset from the real time.
func debugHandlers(mux *http.ServeMux) {
	mux.HandleFunc("/debug/clock", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST /debug/clock?offset=DURATION", http.StatusMethodNotAllowed)
			return
		}
		d, err := time.ParseDuration(r.URL.Query().Get("offset"))
		if err != nil {
			http.Error(w, "offset: "+err.Error(), http.StatusBadRequest)
			return
		}
		testClock.offset.Store(int64(d))
		w.WriteHeader(http.StatusNoContent)
	})
}
