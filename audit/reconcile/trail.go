package reconcile

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// Objects is where a trail's log files are: a local directory (DirObjects)
// or an S3 prefix (S3Objects). Names are slash-separated and relative to
// the trail's prefix.
type Objects interface {
	// List returns the entries directly under dir ("" is the top): files
	// by name, and subdirectories with a trailing slash.
	List(ctx context.Context, dir string) ([]string, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Name says where the files are, for the report.
	Name() string
}

// Trail reads KMS events from a trail's log files:
// AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz,
// each gzip JSON {"Records":[…]}, read one record at a time.
type Trail struct {
	objs Objects
	// Lag is how long after a call its record may still be delivered: a
	// window's files are those named from its start to its end plus Lag.
	Lag time.Duration
}

// NewTrail reads the trail under objs.
func NewTrail(objs Objects) *Trail { return &Trail{objs: objs, Lag: time.Hour} }

func (t *Trail) Name() string { return "trail files in " + t.objs.Name() }

// Check accepts any window: the files reach as far back as they are kept.
func (t *Trail) Check(since, until, now time.Time) error { return nil }

func (t *Trail) Events(ctx context.Context, since, until time.Time, fn func(*Event) error, bad func(Problem)) error {
	regions, err := t.regions(ctx)
	if err != nil {
		return err
	}
	last := until.Add(t.Lag)
	for _, region := range regions {
		for day := since.UTC().Truncate(24 * time.Hour); !day.After(last); day = day.Add(24 * time.Hour) {
			dir := region + day.Format("2006/01/02/")
			files, err := t.objs.List(ctx, dir)
			if err != nil {
				return err
			}
			for _, f := range files {
				if strings.HasSuffix(f, "/") {
					continue
				}
				if at, ok := deliveredAt(f); ok && (at.Before(since.Truncate(time.Minute)) || at.After(last)) {
					continue
				}
				if err := t.file(ctx, dir+f, since, until, fn, bad); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// regions lists AWSLogs/*/CloudTrail/*/ (every account and region of the
// trail; an organization trail has many).
func (t *Trail) regions(ctx context.Context) ([]string, error) {
	accounts, err := t.objs.List(ctx, "AWSLogs/")
	if err != nil {
		return nil, fmt.Errorf("%s: no AWSLogs/ prefix: %w", t.objs.Name(), err)
	}
	var out []string
	for _, a := range accounts {
		if !strings.HasSuffix(a, "/") {
			continue
		}
		regions, err := t.objs.List(ctx, "AWSLogs/"+a+"CloudTrail/")
		if err != nil {
			continue // an account prefix with no CloudTrail (e.g. only Config)
		}
		for _, r := range regions {
			if strings.HasSuffix(r, "/") {
				out = append(out, "AWSLogs/"+a+"CloudTrail/"+r)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no AWSLogs/ACCOUNT/CloudTrail/REGION/ under it: not a trail's prefix", t.objs.Name())
	}
	sort.Strings(out)
	return out, nil
}

// deliveredAt reads the delivery time from a log file's name
// (…_CloudTrail_REGION_20261129T2140Z_ID.json.gz).
func deliveredAt(name string) (time.Time, bool) {
	parts := strings.Split(path.Base(name), "_")
	if len(parts) < 5 {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T1504Z", parts[len(parts)-2])
	return t, err == nil
}

// file streams one log file's records; a file that is not gzip JSON is
// reported and skipped.
func (t *Trail) file(ctx context.Context, name string, since, until time.Time, fn func(*Event) error, bad func(Problem)) error {
	rc, err := t.objs.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		bad(Problem{Where: name, Why: "not gzip: " + err.Error()})
		return nil
	}
	dec := json.NewDecoder(zr)
	if err := recordsArray(dec); err != nil {
		bad(Problem{Where: name, Why: "not a CloudTrail log file: " + err.Error()})
		return nil
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			bad(Problem{Where: fmt.Sprintf("%s record %d", name, i), Why: err.Error()})
			return nil // the rest of the stream cannot be trusted to frame
		}
		ev, err := Parse(raw)
		if err != nil {
			bad(Problem{Where: fmt.Sprintf("%s record %d", name, i), Why: err.Error()})
			continue
		}
		if ev.Time.Before(since) || !ev.Time.Before(until) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// recordsArray moves dec to the first element of the top-level "Records".
func recordsArray(dec *json.Decoder) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("want a JSON object")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		if key == "Records" {
			if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
				return fmt.Errorf("Records is not an array")
			}
			return nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return fmt.Errorf("no Records")
}
