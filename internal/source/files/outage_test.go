package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

// While the broker is unavailable the file stays where it is, nothing is
// checkpointed and the source retries with backoff; once the broker is
// back, the file is processed and every event is seen once.
func TestBrokerUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	down := true
	b.gate.set(func(g *gate) {
		g.fail = func(int) failMode {
			if down {
				return failBefore
			}
			return pass
		}
	})
	s := b.start(t, b.config())
	body, ids := numbered("o", 5)
	put(t, b.dir, "a.ndjson", body)
	put(t, b.dir, "b.ndjson", ndjson(ev("b1", "signup")))
	sourcetest.Eventually(t, 10*time.Second, "retried with backoff", func() bool { return s.Stats().Failures >= 3 })
	require.FileExists(t, filepath.Join(b.dir, "a.ndjson"), "never moved before its events are confirmed")
	require.FileExists(t, filepath.Join(b.dir, "b.ndjson"))
	require.NoDirExists(t, filepath.Join(b.processed, "a.ndjson"))
	require.Nil(t, b.checkpoint(t, "a.ndjson"))
	require.Zero(t, s.Stats().Events)
	log := b.log.String()
	require.Contains(t, log, "level=WARN msg=\"files: the queue, DLQ or state store failed; the file stays and is tried again\"")
	require.Contains(t, log, "no responders available")
	require.Contains(t, log, "file=a.ndjson", "the oldest file is tried first")
	require.NotContains(t, log, "file=b.ndjson", "the source pauses as a whole during an outage")

	b.gate.set(func(*gate) { down = false })
	b.waitDone(t, "a.ndjson", "b.ndjson")
	onceEach(t, b.drain(t, 6), append(ids, "b1"))
	require.Equal(t, int64(2), s.Stats().Files)
}

// A file whose events are all published but which cannot be moved stays
// (and is retried on its own, with backoff); its events are not published
// again meanwhile, and other files go on.
func TestCannotMove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.config())
	// processed_dir becomes a file: every rename into it fails.
	require.NoError(t, os.Remove(b.processed))
	require.NoError(t, os.WriteFile(b.processed, []byte("in the way"), 0o644))
	body, ids := numbered("m", 3)
	put(t, b.dir, "a.ndjson", body)
	sourcetest.Eventually(t, 10*time.Second, "retried", func() bool { return s.Stats().Failures >= 3 })
	require.FileExists(t, filepath.Join(b.dir, "a.ndjson"))
	require.Equal(t, int64(3), b.checkpoint(t, "a.ndjson").Items, "every item is settled")
	require.Equal(t, 1, b.gate.callCount(), "the retries publish nothing again")
	require.Contains(t, b.log.String(), "level=ERROR msg=\"files: taking a file failed; it stays and is tried again\"")
	require.True(t, strings.Contains(b.log.String(), "every event is published, but cannot move it to processed_dir"))

	// Another file can be quarantined meanwhile.
	put(t, b.dir, "empty.ndjson", nil)
	b.waitQuarantined(t, "empty.ndjson")

	require.NoError(t, os.Remove(b.processed))
	require.NoError(t, os.Mkdir(b.processed, 0o755))
	b.waitDone(t, "a.ndjson")
	onceEach(t, b.drain(t, 3), ids)
	require.Nil(t, b.checkpoint(t, "a.ndjson"))
}

// Flow control holds each batch back until it lets go; Stop ends the wait,
// leaving the batch unpublished and the file for the next start.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	waiting := make(chan struct{}, 100)
	open := make(chan struct{})
	var calls atomic.Int32
	flow := func(o *Options) {
		o.BatchEvents = 10
		o.Backpressure = func(ctx context.Context) error {
			calls.Add(1)
			waiting <- struct{}{}
			select {
			case <-open:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	body, ids := numbered("bp", 30)
	first := b.start(t, b.config(), flow)
	put(t, b.dir, "a.ndjson", body)
	<-waiting
	require.Zero(t, b.gate.callCount(), "nothing published while held")
	stopped := make(chan error)
	go func() { stopped <- first.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not end the wait")
	}
	require.Zero(t, b.gate.callCount())
	require.Nil(t, b.checkpoint(t, "a.ndjson"))
	require.FileExists(t, filepath.Join(b.dir, "a.ndjson"))
	require.Zero(t, first.Stats().Failures, "waiting is not failing")

	close(open)
	s := b.start(t, b.config(), flow)
	b.waitDone(t, "a.ndjson")
	require.Equal(t, ids, eventIDs(b.drain(t, 30)))
	require.Equal(t, int32(4), calls.Load(), "once per batch, and once for the batch abandoned at Stop")
	require.Zero(t, s.Stats().Failures)
}
