package witness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/keygate/keygate/audit"
)

// File appends each checkpoint as one JSON line (audit.MarshalCheckpoint)
// to a file that should live on other storage than the database and be
// append-only there (chattr +a, or a WORM mount). Latest reads only the
// file's last tailSize bytes, so it stays cheap as the file grows.
type File struct {
	path string
	mu   sync.Mutex
}

// tailSize is how much of the file Latest reads: some hundred checkpoints,
// enough that lines written out of order by replicas racing are all seen.
const tailSize = 256 << 10

var _ audit.WitnessReader = (*File)(nil)

// NewFile returns the witness for path; the file is created on the first
// Publish.
func NewFile(path string) *File { return &File{path: path} }

// Name implements audit.Witness.
func (f *File) Name() string { return "file " + f.path }

// Publish appends c and syncs the file.
func (f *File) Publish(_ context.Context, c audit.Checkpoint) error {
	line, err := audit.MarshalCheckpoint(c)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := fh.Write(append(line, '\n')); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// Latest returns the checkpoint with the highest counter among the file's
// last lines. A missing or empty file holds none.
func (f *File) Latest(_ context.Context) (audit.Checkpoint, bool, error) {
	fh, err := os.Open(f.path)
	if os.IsNotExist(err) {
		return audit.Checkpoint{}, false, nil
	}
	if err != nil {
		return audit.Checkpoint{}, false, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return audit.Checkpoint{}, false, err
	}
	off := max(0, st.Size()-tailSize)
	b, err := io.ReadAll(io.NewSectionReader(fh, off, st.Size()-off))
	if err != nil {
		return audit.Checkpoint{}, false, err
	}
	lines := bytes.Split(b, []byte("\n"))
	if off > 0 {
		lines = lines[1:] // starts mid-line
	}
	var best audit.Checkpoint
	found := false
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		c, err := audit.UnmarshalCheckpoint(l)
		if err != nil {
			if i == len(lines)-1 {
				continue // a line still being written (or torn by a crash)
			}
			return audit.Checkpoint{}, false, fmt.Errorf("%s: %w", f.Name(), err)
		}
		if !found || c.Counter > best.Counter {
			best, found = c, true
		}
	}
	return best, found, nil
}
