package deliver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/retry"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// noJitter is 1s doubling to 8s.
var noJitter = retry.Policy{Initial: time.Second, Max: 8 * time.Second, Multiplier: 2}

func TestCircuitBacksOffUntilAWriteSucceeds(t *testing.T) {
	t.Parallel()
	c := newCircuit(noJitter)
	down := errors.New("connection refused")

	require.True(t, c.open(t0, down, 0), "the first opening starts an episode")
	require.Equal(t, CircuitOpen, c.stats().State)
	require.Equal(t, t0.Add(time.Second), c.stats().NextProbe)

	// A write that was in flight fails too: same episode, same probe time.
	require.False(t, c.open(t0.Add(100*time.Millisecond), down, 0))
	require.Equal(t, 1, c.stats().Openings)

	due, wait := c.probeDue(t0.Add(500 * time.Millisecond))
	require.False(t, due)
	require.Equal(t, 500*time.Millisecond, wait)

	// Failed probes double the wait: 2s, 4s, 8s, then the cap.
	now := t0.Add(time.Second)
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		due, _ = c.probeDue(now)
		require.True(t, due)
		require.Equal(t, CircuitProbing, c.stats().State)
		c.probed(now, down, 0)
		require.Equal(t, now.Add(want), c.stats().NextProbe)
		now = now.Add(want)
	}

	// A probe succeeds: closed, but the episode lasts until a write works.
	due, _ = c.probeDue(now)
	require.True(t, due)
	c.probed(now, nil, 0)
	require.Equal(t, CircuitClosed, c.stats().State)
	require.False(t, c.stats().Since.IsZero())

	// The retried write fails again: the backoff keeps growing.
	require.False(t, c.open(now, down, 0), "still the same episode")
	require.Equal(t, now.Add(8*time.Second), c.stats().NextProbe)
	due, _ = c.probeDue(now.Add(8 * time.Second))
	require.True(t, due)
	c.probed(now.Add(8*time.Second), nil, 0)

	ended, since := c.success()
	require.True(t, ended)
	require.Equal(t, t0, since)
	st := c.stats()
	require.Equal(t, CircuitStats{State: CircuitClosed}, st)

	// The next outage starts over at 1s.
	require.True(t, c.open(now, down, 0))
	require.Equal(t, now.Add(time.Second), c.stats().NextProbe)
}

func TestCircuitHonoursTheServersWait(t *testing.T) {
	t.Parallel()
	c := newCircuit(noJitter)
	c.open(t0, errors.New("429"), 30*time.Second)
	require.Equal(t, t0.Add(30*time.Second), c.stats().NextProbe)
	due, _ := c.probeDue(t0.Add(30 * time.Second))
	require.True(t, due)
	c.probed(t0.Add(30*time.Second), errors.New("429"), time.Minute)
	require.Equal(t, t0.Add(90*time.Second), c.stats().NextProbe)
}

func TestCircuitSuccessWhileOpenIsIgnored(t *testing.T) {
	t.Parallel()
	c := newCircuit(noJitter)
	c.open(t0, errors.New("down"), 0)
	// A write that started before the outage answers late: it says nothing
	// about now.
	ended, _ := c.success()
	require.False(t, ended)
	require.Equal(t, CircuitOpen, c.stats().State)
}

func TestCircuitWaitClosed(t *testing.T) {
	t.Parallel()
	c := newCircuit(noJitter)
	require.NoError(t, c.waitClosed(context.Background()), "closed: no wait")

	c.open(t0, errors.New("down"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.waitClosed(ctx), context.Canceled)

	done := make(chan error, 1)
	go func() { done <- c.waitClosed(context.Background()) }()
	due, _ := c.probeDue(t0.Add(time.Hour))
	require.True(t, due)
	c.probed(t0.Add(time.Hour), nil, 0)
	require.NoError(t, <-done)
}

func TestWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		size      int
		threshold config.Percent
		outcomes  string // d: delivered, f: a dead letter asked for
		admitted  int    // dead letters admitted
		tripAt    int    // index of the outcome that trips it, -1 for none
	}{
		{"off", 0, 90, "ffffffffff", 10, -1},
		{"not full yet", 10, 50, "fffff", 5, -1},
		{"trips when full", 4, 50, "ddff", 1, 3},
		{"successes keep it open", 4, 75, "dfdfdfdf", 4, -1},
		{"all fail", 3, 100, "fffff", 2, 2},
		{"failures slide out", 4, 75, "ffdddfff", 4, 7},
		{"after a trip nothing is admitted", 2, 50, "dfff", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWindow(config.DLQWindow{Size: tt.size, Threshold: tt.threshold})
			admitted, tripAt := 0, -1
			for i, o := range tt.outcomes {
				if o == 'd' {
					w.delivered()
					continue
				}
				ok, tripped := w.admit()
				if ok {
					admitted++
				}
				if tripped {
					require.Equal(t, -1, tripAt, "trips once")
					tripAt = i
				}
			}
			require.Equal(t, tt.admitted, admitted)
			require.Equal(t, tt.tripAt, tripAt)
			require.Equal(t, tt.tripAt >= 0, w.stats().Tripped)
		})
	}
}

func TestKeyLocksTakeAllOrWait(t *testing.T) {
	t.Parallel()
	k := newKeyLocks()
	ctx := context.Background()
	require.NoError(t, k.acquire(ctx, []string{"a", "b"}))

	got := make(chan struct{})
	go func() {
		_ = k.acquire(ctx, []string{"b", "c"})
		close(got)
	}()
	// "c" is free but "b" is not: the second batch waits and holds nothing.
	require.NoError(t, k.acquire(ctx, []string{"c"}))
	k.release([]string{"c"})
	select {
	case <-got:
		t.Fatal("acquired a held key")
	default:
	}
	k.release([]string{"a", "b"})
	<-got

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, k.acquire(cctx, []string{"b"}), context.Canceled)
}
