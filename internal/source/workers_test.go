package source_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/source"
)

// Workers that finish on their own: nil, and cancel still runs (it
// releases the workers' context).
func TestWaitWorkersDone(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	wg.Go(func() {})
	var cancelled atomic.Bool
	require.NoError(t, source.WaitWorkers(context.Background(), &wg, func() { cancelled.Store(true) }))
	require.True(t, cancelled.Load())
}

// Workers that only end when cancelled: ctx's error once ctx ended, and
// WaitWorkers returns only after the workers did.
func TestWaitWorkersContextEnds(t *testing.T) {
	t.Parallel()
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var exited atomic.Bool
	wg.Go(func() { <-runCtx.Done(); exited.Store(true) })
	ctx, stop := context.WithCancel(context.Background())
	stop()
	err := source.WaitWorkers(ctx, &wg, cancel)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, exited.Load(), "returned before the worker ended")
}

// No workers were started (Stop before Start): nothing to wait for, and a
// nil cancel is allowed.
func TestWaitWorkersNone(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	require.NoError(t, source.WaitWorkers(context.Background(), &wg, nil))
}
