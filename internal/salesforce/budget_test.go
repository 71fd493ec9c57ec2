package salesforce

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestParseLimitInfo(t *testing.T) {
	t.Parallel()
	u, m, ok := parseLimitInfo("api-usage=10018/100000")
	require.True(t, ok)
	require.Equal(t, int64(10018), u)
	require.Equal(t, int64(100000), m)
	u, m, ok = parseLimitInfo("per-app-api-usage=1/2(appName=x), api-usage=5/15000")
	require.True(t, ok, "the org figure is found among others")
	require.Equal(t, []int64{5, 15000}, []int64{u, m})
	for _, bad := range []string{"", "api-usage=", "api-usage=1/0", "api-usage=a/b"} {
		_, _, ok := parseLimitInfo(bad)
		require.False(t, ok, bad)
	}
}

func header(v string) http.Header { return http.Header{"Sforce-Limit-Info": {v}} }

func TestBudgetReserve(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := newBudget(0.2, 10*time.Minute, clock.Now, slog.New(slog.DiscardHandler))
	require.Nil(t, b.admit(), "unknown usage admits")

	b.observe(header("api-usage=80/100"))
	require.Nil(t, b.admit(), "exactly 20 remaining is not below the reserve")

	b.observe(header("api-usage=81/100"))
	be := b.admit()
	require.NotNil(t, be)
	require.Equal(t, BudgetError{Used: 81, Max: 100, Reserve: 0.2, Wait: 10 * time.Minute}, *be)
	require.Equal(t, Usage{Used: 81, Max: 100, At: clock.Now()}, b.snapshot())

	clock.Advance(4 * time.Minute)
	require.Equal(t, 6*time.Minute, b.admit().Wait, "the wait counts down")

	// After the window one probe goes through; the others keep waiting.
	clock.Advance(6 * time.Minute)
	require.Nil(t, b.admit(), "the probe")
	require.NotNil(t, b.admit(), "only one probe per window")

	// The probe's response says usage recovered: calls flow again.
	b.observe(header("api-usage=50/100"))
	require.Nil(t, b.admit())
	require.Nil(t, b.admit())
}

func TestBudgetExhausted(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := newBudget(0, time.Hour, clock.Now, slog.New(slog.DiscardHandler))
	b.observe(header("api-usage=99999/100000"))
	require.Nil(t, b.admit(), "no reserve: spend it all")
	b.exhaust()
	be := b.admit()
	require.NotNil(t, be)
	require.True(t, be.Exhausted)
	require.Equal(t, int64(100000), be.Used)
	require.Equal(t, time.Hour, be.Wait)
	clock.Advance(time.Hour)
	require.Nil(t, b.admit(), "the probe")
	b.observe(header("api-usage=100000/100000"))
	require.NotNil(t, b.admit(), "still exhausted")
}

func TestLimiterAIMD(t *testing.T) {
	t.Parallel()
	l := newLimiter(8)
	ctx := context.Background()
	var slots []slot
	for range 8 {
		s, err := l.acquire(ctx)
		require.NoError(t, err)
		slots = append(slots, s)
	}
	limit, inflight := l.state()
	require.Equal(t, []int{8, 8}, []int{limit, inflight})

	// A full window of throttles halves the limit once, not eight times.
	for _, s := range slots {
		l.release(s, outcomeThrottled)
	}
	limit, inflight = l.state()
	require.Equal(t, []int{4, 0}, []int{limit, inflight})

	// A throttle seen in the new epoch halves again; never below 1.
	for range 5 {
		s, err := l.acquire(ctx)
		require.NoError(t, err)
		l.release(s, outcomeThrottled)
	}
	limit, _ = l.state()
	require.Equal(t, 1, limit)

	// Successes grow it back, one per window, up to the maximum.
	for range 200 {
		s, err := l.acquire(ctx)
		require.NoError(t, err)
		l.release(s, outcomeSuccess)
	}
	limit, _ = l.state()
	require.Equal(t, 8, limit)
}

func TestLimiterBlocksAndHonoursContext(t *testing.T) {
	t.Parallel()
	l := newLimiter(1)
	s, err := l.acquire(context.Background())
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.acquire(ctx)
	require.ErrorIs(t, err, context.Canceled)

	got := make(chan error, 1)
	go func() {
		s2, err := l.acquire(context.Background())
		if err == nil {
			l.release(s2, outcomeOther)
		}
		got <- err
	}()
	select {
	case <-got:
		t.Fatal("acquired while the only slot was taken")
	case <-time.After(20 * time.Millisecond):
	}
	l.release(s, outcomeSuccess)
	require.NoError(t, <-got)
}

// TestLimiterNeverExceeds runs many goroutines through a limiter whose limit
// changes under them and checks the in-flight count never passes the limit
// in force when a slot was taken.
func TestLimiterNeverExceeds(t *testing.T) {
	t.Parallel()
	l := newLimiter(5)
	var inflight, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			for j := range 20 {
				s, err := l.acquire(context.Background())
				require.NoError(t, err)
				n := inflight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				inflight.Add(-1)
				o := outcomeSuccess
				if (i+j)%7 == 0 {
					o = outcomeThrottled
				}
				l.release(s, o)
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int64(5))
	_, in := l.state()
	require.Zero(t, in)
}
