package files

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

// batchOf10 makes batches of 10 items.
func batchOf10(o *Options) { o.BatchEvents = 10 }

// onceEach checks the consumer saw every event of ids exactly once: as
// many messages as distinct IDs as events. It returns the record ID of
// each event id.
func onceEach(t *testing.T, rs []record.Record, ids []string) map[string]string {
	t.Helper()
	byEvent := map[string]string{}
	distinct := map[string]bool{}
	for _, r := range rs {
		byEvent[r.Metadata["event_id"]] = r.ID
		distinct[r.ID] = true
	}
	require.Len(t, rs, len(ids), "messages seen")
	require.Len(t, distinct, len(ids), "distinct message IDs")
	require.ElementsMatch(t, ids, eventIDs(rs))
	return byEvent
}

// recordIDs maps event ids to record IDs.
func recordIDs(byEvent map[string]string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = byEvent[id]
	}
	return out
}

// The broker goes away after two confirmed batches of a file; the source
// is stopped and a new one started on the same state long after the
// broker's deduplication window: it publishes only what the checkpoint
// does not cover, so every event is seen once.
func TestResumeFromCheckpoint(t *testing.T) {
	t.Parallel()
	const window = 100 * time.Millisecond
	b := setupIn(t, t.TempDir(), t.TempDir(), natsjs.Config{Duplicates: window})
	body, ids := numbered("r", 50)
	b.gate.set(func(g *gate) {
		g.fail = func(n int) failMode {
			if n >= 2 {
				return failBefore
			}
			return pass
		}
	})
	first := b.start(t, b.config(), batchOf10)
	put(t, b.dir, "big.ndjson", body)
	sourcetest.Eventually(t, 10*time.Second, "the third batch failed", func() bool { return first.Stats().Failures >= 1 })
	require.NoError(t, first.Stop(context.Background()))
	require.FileExists(t, filepath.Join(b.dir, "big.ndjson"), "a file whose events are not all confirmed stays")
	cp := b.checkpoint(t, "big.ndjson")
	require.NotNil(t, cp)
	require.Equal(t, int64(20), cp.Items, "the checkpoint covers the confirmed batches")
	require.Equal(t, int64(20), cp.Events)
	firstIDs := b.gate.confirmedIDs()
	require.Len(t, firstIDs, 20)

	time.Sleep(3 * window) // past the broker's memory of the first 20 IDs

	b.gate = &gate{next: b.queue, entered: make(chan int, 100)}
	b.start(t, b.config(), batchOf10)
	b.waitDone(t, "big.ndjson")
	byEvent := onceEach(t, b.drain(t, 50), ids)
	require.Equal(t, recordIDs(byEvent, ids[:20]), firstIDs)
	require.Equal(t, recordIDs(byEvent, ids[20:]), b.gate.confirmedIDs(), "the new source publishes only what the checkpoint does not cover")
	require.Nil(t, b.checkpoint(t, "big.ndjson"), "deleted once the file moved")
	require.Contains(t, b.log.String(), "files: finishing a file from its checkpoint")
}

// The process dies after the broker confirmed a batch and before its
// checkpoint was saved: that one batch is published again, with the same
// IDs, and the broker drops it.
func TestCrashBeforeCheckpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, ids := numbered("c", 50)
	b.gate.set(func(g *gate) {
		g.fail = func(n int) failMode {
			switch {
			case n == 2:
				return failAfter // stored, then the process "dies"
			case n > 2:
				return failBefore
			}
			return pass
		}
	})
	first := b.start(t, b.config(), batchOf10)
	put(t, b.dir, "big.ndjson", body)
	sourcetest.Eventually(t, 10*time.Second, "the third batch failed", func() bool { return first.Stats().Failures >= 1 })
	require.NoError(t, first.Stop(context.Background()))
	require.Equal(t, int64(20), b.checkpoint(t, "big.ndjson").Items)

	b.gate = &gate{next: b.queue, entered: make(chan int, 100)}
	b.start(t, b.config(), batchOf10)
	b.waitDone(t, "big.ndjson")
	byEvent := onceEach(t, b.drain(t, 50), ids)
	require.Equal(t, recordIDs(byEvent, ids[20:]), b.gate.confirmedIDs())
}

// Stop lets the batch in hand finish and saves its checkpoint; the file
// stays and the next source finishes it.
func TestStopFinishesBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, ids := numbered("s", 50)
	release := make(chan struct{})
	b.gate.set(func(g *gate) {
		g.before = func(n int, _ []queue.Message) {
			if n == 1 {
				<-release
			}
		}
	})
	first := b.start(t, b.config(), batchOf10)
	put(t, b.dir, "big.ndjson", body)
	for n := range 2 {
		select {
		case got := <-b.gate.entered:
			require.Equal(t, n, got)
		case <-time.After(10 * time.Second):
			t.Fatal("the second batch did not start")
		}
	}
	stopped := make(chan error)
	go func() { stopped <- first.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned before the batch in hand was done: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-stopped)
	require.Equal(t, 2, b.gate.callCount(), "no batch after the one in hand")
	require.Equal(t, int64(20), b.checkpoint(t, "big.ndjson").Items, "the batch in hand is checkpointed")
	require.FileExists(t, filepath.Join(b.dir, "big.ndjson"))

	b.gate = &gate{next: b.queue, entered: make(chan int, 100)}
	b.start(t, b.config(), batchOf10)
	b.waitDone(t, "big.ndjson")
	byEvent := onceEach(t, b.drain(t, 50), ids)
	require.Equal(t, recordIDs(byEvent, ids[20:]), b.gate.confirmedIDs())
}

// When Stop's context ends first, the batch in hand is abandoned unsaved.
func TestStopContextAbandonsBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, _ := numbered("a", 30)
	b.gate.set(func(g *gate) { g.hold = make(chan struct{}) }) // never released
	s := b.start(t, b.config(), batchOf10)
	put(t, b.dir, "big.ndjson", body)
	select {
	case <-b.gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Stop(ctx), context.DeadlineExceeded)
	require.Nil(t, b.checkpoint(t, "big.ndjson"), "nothing confirmed, nothing saved")
	require.FileExists(t, filepath.Join(b.dir, "big.ndjson"))
}

// A checkpoint of the same file (size, time, inode) is honoured; one of a
// file that changed since is not; one of a file no longer in the folder is
// removed at start.
func TestCheckpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	same, sameIDs := numbered("same", 5)
	changed, changedIDs := numbered("changed", 5)
	put(t, b.dir, "same \xff.ndjson", same)
	put(t, b.dir, "changed.ndjson", changed)
	save := func(name string, edit func(*Checkpoint)) {
		cp := Checkpoint{File: name, Size: 100, MTime: testNow, Inode: 1, Items: 2, Events: 2, Updated: testNow}
		if fi, err := os.Lstat(filepath.Join(b.dir, name)); err == nil {
			id := identityOf(fi)
			cp.Size, cp.MTime, cp.Inode = id.size, id.mtime, id.inode
		}
		edit(&cp)
		v, err := cp.Marshal()
		require.NoError(t, err)
		_, err = b.state.Put(ctx, StateKey(srcName, name), v)
		require.NoError(t, err)
	}
	save("same \xff.ndjson", func(*Checkpoint) {})
	save("changed.ndjson", func(c *Checkpoint) { c.Size-- })
	save("gone.ndjson", func(c *Checkpoint) {})
	_, err := b.state.Put(ctx, StateKey("other", "gone.ndjson"), []byte("another source's"))
	require.NoError(t, err)

	b.start(t, b.config())
	b.waitDone(t, "same \xff.ndjson", "changed.ndjson") // not UTF-8: the checkpoint holds it with U+FFFD
	got := byFile(b.drain(t, 8))
	require.Equal(t, sameIDs[2:], eventIDs(got["same \uFFFD.ndjson"]), "the checkpoint's two items are skipped")
	require.Equal(t, changedIDs, eventIDs(got["changed.ndjson"]), "a changed file is read from the start")
	sourcetest.Eventually(t, 5*time.Second, "orphan checkpoint removed", func() bool { return b.checkpoint(t, "gone.ndjson") == nil })
	_, err = b.state.Get(ctx, StateKey("other", "gone.ndjson"))
	require.NoError(t, err, "another source's keys are not touched")
	require.Contains(t, b.log.String(), "files: the file changed since its checkpoint; reading it from the start")
}

// A file written to while it is read is not moved: it is read again once
// it settles, and every event, the late ones included, is seen once.
func TestChangedWhileRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, ids := numbered("w", 6)
	path := filepath.Join(b.dir, "grow.ndjson")
	appended := make(chan error, 1)
	b.gate.set(func(g *gate) {
		g.before = func(n int, _ []queue.Message) {
			if n == 0 {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err == nil {
					_, err = f.WriteString(ev("late", "signup") + "\n")
					err = errors.Join(err, f.Close())
				}
				appended <- err
			}
		}
	})
	s := b.start(t, b.config(), func(o *Options) { o.BatchEvents = 2 })
	put(t, b.dir, "grow.ndjson", body)
	require.NoError(t, <-appended)
	b.waitDone(t, "grow.ndjson")
	onceEach(t, b.drain(t, 7), append(ids, "late"))
	data, err := os.ReadFile(filepath.Join(b.processed, "grow.ndjson"))
	require.NoError(t, err)
	require.Equal(t, string(body)+ev("late", "signup")+"\n", string(data))
	require.Contains(t, b.log.String(), "files: the file changed while it was read")
	require.Equal(t, int64(1), s.Stats().Files)
}

// crashEnv tells TestCrashChild where to run.
const crashEnv = "SFBRIDGE_FILES_CRASH_ROOT"

// TestCrashChild is the process TestSIGKILLMidFile kills: it reads a file
// in batches of 10 and kills itself with SIGKILL right after the broker
// confirmed the third batch, before its checkpoint is saved.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashEnv)
	if root == "" {
		t.Skip("run by TestSIGKILLMidFile")
	}
	b := setupIn(t, filepath.Join(root, "spool"), filepath.Join(root, "broker"), natsjs.Config{})
	b.gate.set(func(g *gate) {
		g.after = func(n int) {
			if n == 2 {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	})
	b.start(t, b.config(), batchOf10)
	time.Sleep(30 * time.Second) // killed long before
	t.Fatal("not killed within 30s")
}

// sfbridge is killed with SIGKILL in the middle of a file, between a
// confirmed batch and its checkpoint. Restarted on the same broker storage
// and state, it finishes the file from its checkpoint: the consumer sees
// every event exactly once.
func TestSIGKILLMidFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "spool")
	require.NoError(t, os.Mkdir(dir, 0o755))
	body, ids := numbered("k", 50)
	put(t, dir, "big.ndjson", body)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+root)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the child ended with %v; output:\n%s", err, out)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "output:\n%s", out)

	b := setupIn(t, dir, filepath.Join(root, "broker"), natsjs.Config{})
	cp := b.checkpoint(t, "big.ndjson")
	require.NotNil(t, cp, "the checkpoint survived the crash")
	require.Equal(t, int64(20), cp.Items, "the third batch was confirmed, its checkpoint never saved")
	require.FileExists(t, filepath.Join(dir, "big.ndjson"))

	b.start(t, b.config(), batchOf10)
	b.waitDone(t, "big.ndjson")
	byEvent := onceEach(t, b.drain(t, 50), ids)
	require.Equal(t, recordIDs(byEvent, ids[20:]), b.gate.confirmedIDs(), "the restart publishes from the checkpoint on")
}
