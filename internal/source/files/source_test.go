package files

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/retry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// New reports every problem at once, each naming what is wrong.
func TestNewChecksEverything(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Name: "x", Config: config.Files{
		Pattern:     "[",
		Settle:      -time.Second,
		After:       "archive",
		FileFormat:  config.FileFormat{Format: "xml", Compression: "auto"},
		EventFields: config.EventFields{MaxEventBytes: -1},
	}, Backoff: retry.Policy{Initial: time.Second, Max: time.Millisecond, Multiplier: 2}, BatchEvents: -1, BatchBytes: -1})
	require.Error(t, err)
	for _, want := range []string{
		"files: source x: queue is required",
		"files: source x: dlq is required",
		"files: source x: state is required",
		"files: source x: path is required",
		`files: source x: pattern "[": syntax error in pattern`,
		"files: source x: settle must not be negative, got -1s",
		"files: source x: rescan must be positive, got 0s",
		`files: source x: after "archive" is not move or delete`,
		"files: source x: quarantine_dir is required",
		`files: source x: format "xml" is not auto, ndjson, json or csv`,
		"files: source x: max_event_bytes must not be negative, got -1",
		"files: source x: event spec: the id field is required",
		"files: source x: event spec: the type field is required",
		"files: source x: backoff: max: 1ms is below initial 1s",
		"files: source x: batch events must not be negative, got -1",
		"files: source x: batch bytes must not be negative, got -1",
	} {
		require.Contains(t, err.Error(), want)
	}

	b := setup(t)
	_, err = New(b.options(b.config(func(c *config.Files) { c.ProcessedDir = b.dir + "/"; c.QuarantineDir = b.dir })))
	require.ErrorContains(t, err, "processed_dir "+b.dir+"/ is the watched folder itself; it must differ from path")
	require.ErrorContains(t, err, "quarantine_dir "+b.dir+" is the watched folder itself")
	_, err = New(b.options(b.config(func(c *config.Files) { c.ProcessedDir = "" })))
	require.ErrorContains(t, err, "processed_dir is required with after: move")
	_, err = New(Options{})
	require.ErrorContains(t, err, "files: name is required")
}

// Start fails for what configuration can fix, and creates the folders it
// moves files to.
func TestStartChecksFolders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	s := b.newSource(t, b.config(func(c *config.Files) { c.Path = filepath.Join(b.dir, "missing") }))
	require.ErrorContains(t, s.Start(ctx), "path "+filepath.Join(b.dir, "missing")+": no such folder (create it, or fix path)")

	file := filepath.Join(b.dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	s = b.newSource(t, b.config(func(c *config.Files) { c.Path = file }))
	require.ErrorContains(t, s.Start(ctx), "path "+file+": not a folder")

	s = b.newSource(t, b.config(func(c *config.Files) { c.QuarantineDir = filepath.Join(file, "q") }))
	require.ErrorContains(t, s.Start(ctx), "quarantine_dir "+filepath.Join(file, "q")+": mkdir")

	if other := otherFilesystem(t, b.dir); other != "" {
		s = b.newSource(t, b.config(func(c *config.Files) { c.ProcessedDir = other }))
		require.ErrorContains(t, s.Start(ctx), "processed_dir "+other+" is on another filesystem than path "+b.dir+"; files are moved there by rename, so it must be on the same one")
	}

	s = b.start(t, b.config())
	require.DirExists(t, b.processed)
	require.DirExists(t, b.quarantine)
	require.ErrorContains(t, s.Start(ctx), "Start called twice")
	require.True(t, s.Stats().Watching)
	require.Equal(t, srcName, s.Name())
	require.Equal(t, b.dir, s.Dir())
}

// otherFilesystem returns a new folder on another filesystem than dir, or
// "" when the machine has none at hand.
func otherFilesystem(t *testing.T, dir string) string {
	t.Helper()
	dev := func(p string) uint64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return uint64(fi.Sys().(*syscall.Stat_t).Dev)
	}
	for _, root := range []string{"/dev/shm", "/run", "/var/tmp"} {
		if d := dev(root); d != 0 && d != dev(dir) {
			other, err := os.MkdirTemp(root, "sfbridge-files-test-")
			if err != nil {
				continue
			}
			t.Cleanup(func() { _ = os.RemoveAll(other) })
			return other
		}
	}
	return ""
}

// The checkpoint's stored form is stable.
func TestCheckpointGolden(t *testing.T) {
	t.Parallel()
	cp := Checkpoint{
		File:    "orders-2024-05-01.ndjson.gz",
		Size:    1048576,
		MTime:   time.Date(2024, 5, 1, 11, 59, 58, 123456789, time.UTC),
		Inode:   4242,
		Items:   1500,
		Events:  1498,
		Updated: testNow,
	}
	got, err := cp.Marshal()
	require.NoError(t, err)
	path := filepath.Join("testdata", "checkpoint_v1.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./internal/source/files -run Golden -update")
	require.JSONEq(t, string(want), string(got))
	back, err := ParseCheckpoint([]byte(strings.TrimSpace(string(want))))
	require.NoError(t, err)
	require.Equal(t, cp, back)
	require.Equal(t, "files/spool/orders-2024-05-01.ndjson.gz", StateKey("spool", cp.File))
}

func TestParseCheckpointRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cp   Checkpoint
		want string
	}{
		{"no file", Checkpoint{Size: 1}, "files checkpoint: file: required"},
		{"negative size", Checkpoint{File: "a", Size: -1}, "files checkpoint: size -1: must not be negative"},
		{"more events than items", Checkpoint{File: "a", Items: 1, Events: 2}, "files checkpoint: items 1, events 2: not counts of settled items"},
	}
	for _, tt := range tests {
		v, err := tt.cp.Marshal()
		require.NoError(t, err)
		_, err = ParseCheckpoint(v)
		require.EqualError(t, err, tt.want, tt.name)
	}
	_, err := ParseCheckpoint([]byte(`{"kind":"s3.object","v":1,"pos":{}}`))
	require.ErrorContains(t, err, `written by a "s3.object" source, not "files"`)
}

// An unreadable checkpoint is logged and overwritten: the file is read
// from the start.
func TestUnreadableCheckpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, ids := numbered("u", 3)
	put(t, b.dir, "a.ndjson", body)
	_, err := b.state.Put(context.Background(), StateKey(srcName, "a.ndjson"), []byte("garbage"))
	require.NoError(t, err)
	b.start(t, b.config())
	b.waitDone(t, "a.ndjson")
	require.Equal(t, ids, eventIDs(b.drain(t, 3)))
	require.Contains(t, b.log.String(), "files: checkpoint unreadable; the file is read from the start")
	require.Nil(t, b.checkpoint(t, "a.ndjson"))
}
