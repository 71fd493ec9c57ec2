package emit

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// readFolder returns the contents of the visible files in dir, by name.
func readFolder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return out
}

var folderName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-\d{6}\.ndjson$`)

func TestFolderSinkCompleteFilesOnly(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "events", "in") // created by NewFolderSink
	sink, err := NewFolderSink(out)
	require.NoError(t, err)
	cfg, _ := testConfig(t, sink)
	cfg.BatchSize = 7
	cfg.Linger = -1
	c := open(t, cfg)

	// A reader like sfbridge's files source: every visible name must be a
	// whole file, from its first byte to its last line.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var checked atomic.Int64
	wg.Go(func() {
		for !stop.Load() {
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Error(err)
				return
			}
			for _, e := range entries {
				name := e.Name()
				if strings.HasPrefix(name, ".") {
					continue // a file being written
				}
				if !folderName.MatchString(name) {
					t.Errorf("unexpected file name %q", name)
				}
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Error(err)
					return
				}
				if len(b) == 0 || b[len(b)-1] != '\n' {
					t.Errorf("%s: incomplete file (%d bytes)", name, len(b))
				}
				for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("%s line %d: not JSON: %q", name, i+1, line)
					}
				}
				checked.Add(1)
			}
		}
	})
	ids := emitN(t, c, 300, "volunteer.login")
	flush(t, c)
	stop.Store(true)
	wg.Wait()
	require.Positive(t, checked.Load())

	var got []string
	for _, f := range readFolder(t, out) {
		lines := strings.Split(strings.TrimSuffix(f, "\n"), "\n")
		require.LessOrEqual(t, len(lines), 7, "BatchSize bounds a file")
		for _, line := range lines {
			require.Equal(t, '{', rune(line[0]))
			got = append(got, messageID([]byte(line)))
		}
	}
	require.Equal(t, ids, got, "every event once, in order")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasPrefix(e.Name(), "."), "temporary file %s left behind", e.Name())
		fi, err := e.Info()
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	}
}

func TestFolderSinkWriteError(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out")
	sink, err := NewFolderSink(out)
	require.NoError(t, err)
	// The folder goes away (unmounted, deleted): an outage, not a rejection.
	require.NoError(t, os.RemoveAll(out))
	require.NoError(t, os.WriteFile(out, nil, 0o600))
	res, err := sink.Send(t.Context(), []Message{{ID: "a", JSON: []byte(`{"id":"a"}`)}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "emit: folder sink: write "+out)
	require.Zero(t, res.Settled)
	require.Empty(t, res.Rejected)
	var pe *os.PathError
	require.True(t, errors.As(err, &pe))
	require.False(t, slices.ContainsFunc(readFolderNames(t, filepath.Dir(out)), func(n string) bool { return strings.HasPrefix(n, ".emit-") }))
}

func readFolderNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
