package s3src

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/retry"
)

// A source that dies in the middle of an object (its third batch half
// stored by the broker, unconfirmed) leaves a checkpoint after the second
// batch; a new source resumes there: it does not send the confirmed
// batches again, and a consumer sees each event exactly once (the broker
// drops the re-sent half batch by ID).
func TestCrashMidObjectResumes(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) {
		o.BatchSize = 10
		o.Backoff = retry.Policy{Initial: time.Hour, Multiplier: 1} // no retry before the "crash"
	})
	b.s3.put(t, "in/big.ndjson", manyEvents("e", 55))
	b.gate.set(func(g *gate) { g.err, g.partial, g.failAt = errors.New("connection lost"), 4, 3 })
	b.start(t)
	require.Equal(t, int64(1), b.src.Stats().Failures)
	b.stop(t)
	c, ok := b.checkpoint(t, "in/big.ndjson")
	require.True(t, ok)
	require.Equal(t, int64(20), c.Items, "two batches confirmed")
	require.False(t, c.Complete)
	require.Equal(t, 24, b.gate.sentCount())

	b.gate.set(func(g *gate) { g.err, g.failAt = nil, 0 })
	b.start(t)
	rs := b.drain(t, 55)
	want := make([]string, 55)
	for i := range want {
		want[i] = fmt.Sprintf("e%d", i)
	}
	require.ElementsMatch(t, want, eventIDs(rs))
	require.Equal(t, 24+35, b.gate.sentCount(), "the new source sent only what was not confirmed")
	c, _ = b.checkpoint(t, "in/big.ndjson")
	require.True(t, c.Marked)
	require.Equal(t, int64(55), c.Events)
}

// Stop lets the batch in hand finish (published, checkpoint saved) and
// stops before the next; the next source reads the rest.
func TestStopFinishesBatchInHand(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) { o.BatchSize = 10 })
	b.s3.put(t, "in/big.ndjson", manyEvents("e", 35))
	hold := make(chan struct{})
	b.gate.set(func(g *gate) { g.hold = hold })
	src, err := New(b.opts)
	require.NoError(t, err)
	require.NoError(t, src.Start(context.Background()))
	b.src = src
	select { // the first batch is in hand
	case <-b.gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch was published within 10s")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- src.Stop(context.Background()) }()
	eventually(t, "Stop is under way", src.isStopping)
	close(hold)
	require.NoError(t, <-stopped)
	c, ok := b.checkpoint(t, "in/big.ndjson")
	require.True(t, ok)
	require.Equal(t, int64(10), c.Items, "the batch in hand was finished and nothing after it")
	require.Equal(t, 10, b.gate.sentCount())

	b.gate.set(func(g *gate) { g.hold = nil })
	b.start(t)
	require.Len(t, b.drain(t, 35), 35)
	require.Equal(t, 35, b.gate.sentCount())
}
