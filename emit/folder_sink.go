package emit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FolderSink writes each batch as one NDJSON file into a directory that
// sfbridge's files source watches. A file appears complete or not at all:
// it is written under a temporary name beginning with "." in the same
// directory, fsync'ed, then renamed to "<UTC time>-<seq>.ndjson"
// (20240501T120000.123456789Z-000001.ndjson), and the rename is fsync'ed
// before Send returns. Files are created with mode 0640.
//
// A FolderSink never rejects an event; a failed write (a full disk, a
// missing permission) is an outage, retried.
type FolderSink struct {
	dir string
	mu  sync.Mutex
	seq uint64
}

// NewFolderSink returns a sink writing into dir, creating it if missing.
func NewFolderSink(dir string) (*FolderSink, error) {
	if dir == "" {
		return nil, fmt.Errorf("emit: folder sink: the directory is required")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("emit: folder sink: %w", err)
	}
	return &FolderSink{dir: dir}, nil
}

// Dir returns the directory the sink writes into.
func (s *FolderSink) Dir() string { return s.dir }

// Send writes batch as one file (see FolderSink).
func (s *FolderSink) Send(ctx context.Context, batch []Message) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	s.seq++
	name := fmt.Sprintf("%s-%06d.ndjson", time.Now().UTC().Format("20060102T150405.000000000Z"), s.seq)
	s.mu.Unlock()
	if err := s.write(name, batch); err != nil {
		return Result{}, fmt.Errorf("emit: folder sink: write %s: %w", filepath.Join(s.dir, name), err)
	}
	return Result{}, nil
}

func (s *FolderSink) write(name string, batch []Message) (err error) {
	tmp, err := os.CreateTemp(s.dir, ".emit-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	size := 0
	for _, m := range batch {
		size += len(m.JSON) + 1
	}
	buf := make([]byte, 0, size)
	for _, m := range batch {
		buf = append(buf, m.JSON...)
		buf = append(buf, '\n')
	}
	if _, err = tmp.Write(buf); err != nil {
		return err
	}
	if err = tmp.Chmod(0o640); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(s.dir, name)); err != nil {
		return err
	}
	return syncDir(s.dir)
}

var _ Sink = (*FolderSink)(nil)
