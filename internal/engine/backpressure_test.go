package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// TestBackfillPausesAtMaxBacklog runs a backfill whose source is much
// faster than delivery: the source pauses while the syncs' backlog is above
// delivery.max_backlog, shows it in the status, and every row still
// arrives.
func TestBackfillPausesAtMaxBacklog(t *testing.T) {
	t.Parallel()
	const (
		maxBacklog = 1000
		page       = 100
	)
	b := setupWith(t, options{orgs: 20, counselors: 3000, config: func(cfg *config.Config) {
		cfg.Delivery.MaxBacklog = maxBacklog
		pg := cfg.Sources[0].PostgresPoll
		pg.Every = time.Hour // one run: the backfill
		for i := range pg.Tables {
			pg.Tables[i].BatchSize = page
		}
	}, faults: &sfemu.FaultConfig{Latency: []sfemu.LatencyFault{{
		// About 2,000 records/s with 2 batches of 200 in flight: the source
		// reads pages of 100 much faster.
		Match: sfemu.Match{Endpoint: "collections.*"}, PerRecord: sfemu.Duration(time.Millisecond),
	}}}})

	// Sample the backlog (not yet delivered, plus delivered and not yet
	// settled) and the source's state while the backfill runs.
	var (
		mu      sync.Mutex
		highest uint64
		states  []string
	)
	ctx, cancel := context.WithCancel(t.Context())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			st := b.eng.Status(ctx)
			var n uint64
			for _, s := range st.Syncs {
				n += s.Pending + uint64(s.InFlight)
			}
			mu.Lock()
			highest = max(highest, n)
			if s := st.Sources[0].State; len(states) == 0 || states[len(states)-1] != s {
				states = append(states, s)
			}
			mu.Unlock()
			time.Sleep(10 * time.Millisecond) // a sampling interval
		}
	}()
	eventually(t, 60*time.Second, func() error {
		if d := b.diffs(t, 5); len(d) > 0 {
			return errors.New(strings.Join(d, "; "))
		}
		return nil
	})
	cancel()
	<-sampled
	b.requireNoDeadLetters(t)

	mu.Lock()
	defer mu.Unlock()
	// Both tables may pass the check at once, a page each.
	require.LessOrEqual(t, highest, uint64(maxBacklog+2*page), "backlog went past max_backlog plus a page per table")
	paused := false
	for _, s := range states {
		if strings.HasPrefix(s, "paused: backlog ") && strings.Contains(s, fmt.Sprintf("max_backlog %d", maxBacklog)) {
			paused = true
		}
	}
	require.True(t, paused, "the source never showed as paused; states seen: %q", states)
	require.Equal(t, "running", states[len(states)-1], "the source runs again once the backlog drained")
}
