package server

import (
	"context"
	"strconv"
	"strings"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
)

// A listing of events is a snapshot: its first page pins the chain's head
// as it was, and every later page reads only up to that seq. Without the
// pin each page read the live log, so whatever was committed while a
// client paged extended the listing: above all each page's own audit.read
// event, recorded after the page was read, which at page size 1 kept the
// cursor exactly one event behind the head for ever (issue 16). Events
// committed since are for the next listing, or for `audit tail`.

// eventPage is where a page starts: after seq after, through seq through.
type eventPage struct{ after, through uint64 }

// String is the page token: "AFTER-THROUGH" (fields.go allows digits and
// hyphens in a page_token).
func (p eventPage) String() string {
	return strconv.FormatUint(p.after, 10) + "-" + strconv.FormatUint(p.through, 10)
}

// pageOf parses a page token, or pins the head for a listing's first page.
func pageOf(ctx context.Context, st audit.Store, token string) (eventPage, error) {
	if token == "" {
		_, head, err := st.Bounds(ctx)
		if err != nil {
			return eventPage{}, kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
		}
		return eventPage{through: head.Seq}, nil
	}
	a, t, ok := strings.Cut(token, "-")
	after, err1 := strconv.ParseUint(a, 10, 64)
	through, err2 := strconv.ParseUint(t, 10, 64)
	if !ok || err1 != nil || err2 != nil || after >= through {
		return eventPage{}, kgerr.Errorf(kgerr.InvalidArgument, "page_token is not valid: pass next_page_token as it was returned")
	}
	return eventPage{after, through}, nil
}
