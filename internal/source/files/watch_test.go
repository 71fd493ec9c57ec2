package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

// appendLine opens path for appending, writes line and closes it, as a
// writer that reopens the file for each event does.
func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(line + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// A file written in place, slowly, by a writer that closes it after each
// line, is read only once it stayed unchanged for settle: all of it, in
// one go.
func TestSettleHonoured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const settle = 400 * time.Millisecond
	s := b.start(t, b.config(func(c *config.Files) { c.Settle = settle }))
	path := filepath.Join(b.dir, "slow.ndjson")
	var lastWrite time.Time
	for i := range 5 {
		appendLine(t, path, ev(fmt.Sprint("s", i), "signup"))
		lastWrite = time.Now()
		if i < 4 {
			time.Sleep(settle / 3) // the writer's pace: each pause shorter than settle
		}
	}
	b.waitDone(t, "slow.ndjson")
	require.GreaterOrEqual(t, b.gate.first().Sub(lastWrite), settle, "read before it was unchanged for settle")
	require.Equal(t, []string{"s0", "s1", "s2", "s3", "s4"}, eventIDs(b.drain(t, 5)))
	require.Equal(t, 1, b.gate.callCount(), "one batch: the whole file")
	require.Equal(t, int64(1), s.Stats().Files)
}

// A file a writer keeps open is not taken while the writer pauses, however
// long: only once it is closed (and settled).
func TestOpenFileWaitsForClose(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const settle = 50 * time.Millisecond
	s := b.start(t, b.config(func(c *config.Files) { c.Settle = settle }))
	path := filepath.Join(b.dir, "open.ndjson")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = f.WriteString(ev("o1", "signup") + "\n")
	require.NoError(t, err)
	sourcetest.Eventually(t, 5*time.Second, "the source sees the file", func() bool { return s.Stats().Pending == 1 })
	time.Sleep(10 * settle) // the writer pauses, the file open
	require.Zero(t, b.gate.callCount(), "a file open for writing was read")
	require.FileExists(t, path)
	_, err = f.WriteString(ev("o2", "signup") + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	b.waitDone(t, "open.ndjson")
	require.Equal(t, []string{"o1", "o2"}, eventIDs(b.drain(t, 2)))
}

// A file renamed into the folder is taken at once, whatever settle says;
// one written in place waits for settle.
func TestRenamedInTakenAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.config(func(c *config.Files) { c.Settle = time.Hour }))
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "inplace.ndjson"), ndjson(ev("i1", "signup")), 0o644))
	put(t, b.dir, "renamed.ndjson", ndjson(ev("r1", "signup")))
	b.waitDone(t, "renamed.ndjson")
	require.Equal(t, []string{"r1"}, eventIDs(b.drain(t, 1)))
	require.FileExists(t, filepath.Join(b.dir, "inplace.ndjson"), "a file written in place waits for settle")
	sourcetest.Eventually(t, 5*time.Second, "one file pending", func() bool { return s.Stats().Pending == 1 })
}

// Files already in the folder at Start are found by the first listing and
// taken once settled.
func TestFilesPresentBeforeStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body1, ids1 := numbered("before", 3)
	body2, ids2 := numbered("also", 2)
	put(t, b.dir, "1.ndjson", body1)
	put(t, b.dir, "2.ndjson", body2)
	const settle = 200 * time.Millisecond
	started := time.Now()
	b.start(t, b.config(func(c *config.Files) { c.Settle = settle }))
	b.waitDone(t, "1.ndjson", "2.ndjson")
	require.GreaterOrEqual(t, b.gate.first().Sub(started), settle, "a listed file is taken once unchanged for settle")
	require.ElementsMatch(t, append(ids1, ids2...), eventIDs(b.drain(t, 5)))
}

// Without a watch, the periodic listing finds every file.
func TestListingOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	put(t, b.dir, "before.ndjson", ndjson(ev("b1", "signup")))
	s := b.newSource(t, b.config(func(c *config.Files) { c.Rescan = 100 * time.Millisecond; c.Settle = 50 * time.Millisecond }))
	s.noWatch = true
	require.NoError(t, s.Start(context.Background()))
	b.waitDone(t, "before.ndjson")
	put(t, b.dir, "later.ndjson", ndjson(ev("l1", "signup")))
	b.waitDone(t, "later.ndjson")
	require.Equal(t, []string{"b1", "l1"}, eventIDs(b.drain(t, 2)))
	require.False(t, s.Stats().Watching)
}

// Trigger lists the folder at once; it takes no collection.
func TestTrigger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newSource(t, b.config(func(c *config.Files) { c.Settle = 0 }))
	s.noWatch = true
	_, err := s.Trigger("")
	require.ErrorIs(t, err, source.ErrNotRunning)
	require.NoError(t, s.Start(context.Background()))
	_, err = s.Trigger("signup")
	require.ErrorIs(t, err, source.ErrUnknownCollection)

	put(t, b.dir, "a.ndjson", ndjson(ev("t1", "signup")))
	require.Zero(t, s.Stats().Pending, "unwatched, listed every hour: the file is not known yet")
	colls, err := s.Trigger("")
	require.NoError(t, err)
	require.Equal(t, []string{}, colls)
	b.waitDone(t, "a.ndjson")
	b.drain(t, 1)

	require.NoError(t, s.Stop(context.Background()))
	_, err = s.Trigger("")
	require.ErrorIs(t, err, source.ErrNotRunning)
}

// Only names that match pattern are taken; hidden and temporary names,
// subfolders and symbolic links never are.
func TestWhichFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.config(func(c *config.Files) { c.Pattern = "a*" }))
	ignored := []string{"b1.ndjson", ".a2.ndjson", "a3.ndjson.tmp", "a4.ndjson.PART"}
	for _, n := range ignored {
		put(t, b.dir, n, ndjson(ev(n, "signup")))
	}
	require.NoError(t, os.Mkdir(filepath.Join(b.dir, "a5.ndjson"), 0o755))
	outside := filepath.Join(t.TempDir(), "x.ndjson")
	require.NoError(t, os.WriteFile(outside, ndjson(ev("x", "signup")), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(b.dir, "a6.ndjson")))
	put(t, b.dir, "a1.ndjson", ndjson(ev("a1", "signup")))
	put(t, b.dir, "a7.ndjson", ndjson(ev("a7", "signup")))
	b.waitDone(t, "a1.ndjson", "a7.ndjson")
	require.NoError(t, s.Stop(context.Background()))
	require.ElementsMatch(t, []string{"a1", "a7"}, eventIDs(b.drain(t, 2)))
	for _, n := range append(ignored, "a5.ndjson", "a6.ndjson") {
		require.True(t, exists(filepath.Join(b.dir, n)), "%s left alone", n)
	}
	require.Equal(t, Stats{Files: 2, Events: 2, Bytes: s.Stats().Bytes, Watching: true}, s.Stats())
	require.NoFileExists(t, filepath.Join(b.quarantine, "b1.ndjson"))
}

// after: delete removes the file once its events are confirmed.
func TestAfterDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.config(func(c *config.Files) { c.After = config.AfterDelete; c.ProcessedDir = "" }))
	body, ids := numbered("d", 3)
	put(t, b.dir, "a.ndjson", body)
	sourcetest.Eventually(t, 10*time.Second, "file deleted", func() bool { return s.Stats().Files == 1 })
	require.NoFileExists(t, filepath.Join(b.dir, "a.ndjson"))
	require.NoDirExists(t, b.processed)
	require.Equal(t, ids, eventIDs(b.drain(t, 3)))
	require.Nil(t, b.checkpoint(t, "a.ndjson"))
}

// A name processed_dir has already gets a number before its extension.
func TestProcessedNameClash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, os.MkdirAll(b.processed, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.processed, "a.ndjson"), []byte("earlier"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(b.processed, "a.1.ndjson"), []byte("earlier too"), 0o644))
	b.start(t, b.config())
	put(t, b.dir, "a.ndjson", ndjson(ev("c1", "signup")))
	sourcetest.Eventually(t, 10*time.Second, "moved as a.2.ndjson", func() bool { return exists(filepath.Join(b.processed, "a.2.ndjson")) })
	require.NoFileExists(t, filepath.Join(b.dir, "a.ndjson"))
	earlier, err := os.ReadFile(filepath.Join(b.processed, "a.ndjson"))
	require.NoError(t, err)
	require.Equal(t, "earlier", string(earlier), "never overwritten")
	b.drain(t, 1)
}

func TestSuffixed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		k    int
		want string
	}{
		{"a.ndjson", 0, "a.ndjson"},
		{"a.ndjson", 1, "a.1.ndjson"},
		{"a.ndjson.gz", 2, "a.2.ndjson.gz"},
		{"a.NDJSON.GZ", 1, "a.1.NDJSON.GZ"},
		{"events.2024-05-01.csv", 3, "events.2024-05-01.3.csv"},
		{"noext", 1, "noext.1"},
		{"x.gz", 1, "x.1.gz"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, suffixed(tt.name, tt.k), "%s %d", tt.name, tt.k)
	}
}

// Events lost while the source is busy (more than its buffer, or the
// kernel's queue, holds) are made up for by listing the folder.
func TestLostEventsListed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	b.gate.set(func(g *gate) {
		g.before = func(n int, _ []queue.Message) {
			if n == 0 {
				<-release
			}
		}
	})
	b.start(t, b.config(func(c *config.Files) { c.Settle = 0 }))
	put(t, b.dir, "first.ndjson", ndjson(ev("f1", "signup")))
	select {
	case <-b.gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first file was not taken")
	}
	// While the source is held in its first publish: many events (two
	// names in turn, so the kernel does not merge them), then the files.
	var hidden [2]*os.File
	for i := range hidden {
		f, err := os.Create(filepath.Join(b.dir, fmt.Sprintf(".noise%d", i)))
		require.NoError(t, err)
		defer f.Close()
		hidden[i] = f
	}
	for i := range 2 * eventBuffer {
		_, err := hidden[i%2].Write([]byte{'x'})
		require.NoError(t, err)
	}
	put(t, b.dir, "second.ndjson", ndjson(ev("s1", "signup")))
	put(t, b.dir, "third.ndjson", ndjson(ev("t1", "signup")))
	close(release)
	b.waitDone(t, "first.ndjson", "second.ndjson", "third.ndjson")
	require.ElementsMatch(t, []string{"f1", "s1", "t1"}, eventIDs(b.drain(t, 3)))
	require.Contains(t, b.log.String(), "events of the watch were lost")
}

// When the folder goes away, the source lists it every rescan interval
// until it is back, then watches it again.
func TestFolderGoneAndBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.config(func(c *config.Files) { c.Rescan = 50 * time.Millisecond }))
	away := b.dir + ".away"
	require.NoError(t, os.Rename(b.dir, away))
	sourcetest.Eventually(t, 10*time.Second, "the lost watch noticed", func() bool { return !s.Stats().Watching })
	sourcetest.Eventually(t, 10*time.Second, "the failed listing logged", func() bool {
		return strings.Contains(b.log.String(), "files: cannot list the folder")
	})
	require.NoError(t, os.Rename(away, b.dir))
	sourcetest.Eventually(t, 10*time.Second, "watched again", func() bool { return s.Stats().Watching })
	put(t, b.dir, "a.ndjson", ndjson(ev("a1", "signup")))
	b.waitDone(t, "a.ndjson")
	b.drain(t, 1)
	log := b.log.String()
	require.Contains(t, log, "files: the watch on the folder ended")
	require.Contains(t, log, "files: watching the folder again")
	require.Contains(t, log, "files: the folder can be listed again")
	require.Equal(t, 1, strings.Count(log, "files: cannot list the folder"), "logged once, not every rescan")
}
