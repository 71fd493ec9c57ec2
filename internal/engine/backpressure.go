package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// backpressurePoll is how often a paused source looks at the backlog again.
const backpressurePoll = 200 * time.Millisecond

// backpressure is a postgres_poll or files source's flow control
// (delivery.max_backlog): before each page, the source waits while the
// backlog of the syncs reading it — for each, the records its consumer has
// not yet been handed plus those handed out and not yet acknowledged — is
// above max, and goes on once it is at most max/2. The broker's memory (its
// block caches, the deduplication window) grows with how far a source runs
// ahead of delivery; this bounds it at about max plus one page per table.
//
// Only the consumers of configured syncs count: a consumer left behind by a
// removed sync never stalls a source. It is safe for concurrent use (each
// table's goroutine calls wait).
type backpressure struct {
	max  uint64
	cons []queue.Consumer
	log  *slog.Logger // names the source

	mu      sync.Mutex
	paused  bool
	since   time.Time
	backlog uint64 // the last reading while paused
}

// newBackpressure is nil (no flow control) when max is 0 or no sync reads
// the source.
func newBackpressure(max int, cons []queue.Consumer, log *slog.Logger) *backpressure {
	if max <= 0 || len(cons) == 0 {
		return nil
	}
	return &backpressure{max: uint64(max), cons: cons, log: log}
}

// wait returns once the source may publish its next page, or ctx's error
// when ctx ends first. When the backlog cannot be read (the broker does not
// answer), it lets the page go: the publish then meets the broker's
// problem itself, and flow control is about memory, not correctness.
func (b *backpressure) wait(ctx context.Context) error {
	var timer *time.Timer
	for {
		n, err := b.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.log.Debug("cannot read the queue's backlog; publishing", "err", err)
			return nil
		}
		if !b.update(n) {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(backpressurePoll)
			defer timer.Stop()
		} else {
			timer.Reset(backpressurePoll)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitFunc is wait as a source's Options.Backpressure: nil when b is (no
// flow control).
func (b *backpressure) waitFunc() func(context.Context) error {
	if b == nil {
		return nil
	}
	return b.wait
}

// read sums the backlog of the source's syncs.
func (b *backpressure) read(ctx context.Context) (uint64, error) {
	var n uint64
	for _, c := range b.cons {
		st, err := c.Stats(ctx)
		if err != nil {
			return 0, fmt.Errorf("consumer %s: %w", c.Name(), err)
		}
		n += st.Pending + uint64(max(st.InFlight, 0))
	}
	return n, nil
}

// update applies a backlog reading n and reports whether the source is
// paused: it pauses above max and resumes at max/2 or below (hysteresis,
// so it does not flap around the bound page by page).
func (b *backpressure) update(n uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.paused && n > b.max:
		b.paused, b.since = true, time.Now()
		b.log.Info("source paused until the queue's backlog drains", "backlog", n, "max_backlog", b.max, "resume_at", b.max/2)
	case b.paused && n <= b.max/2:
		b.paused = false
		b.log.Info("source resumed", "backlog", n, "paused_for", time.Since(b.since).Round(time.Millisecond).String())
	}
	b.backlog = n
	return b.paused
}

// state is the source's state for the status: "running", or why it is
// paused.
func (b *backpressure) state() string {
	if b == nil {
		return "running"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.paused:
		return "running"
	case b.backlog > b.max:
		return fmt.Sprintf("paused: backlog %d > max_backlog %d", b.backlog, b.max)
	default:
		return fmt.Sprintf("paused: backlog %d, resuming at %d (max_backlog %d)", b.backlog, b.max/2, b.max)
	}
}
