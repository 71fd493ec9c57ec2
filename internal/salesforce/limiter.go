package salesforce

import (
	"context"
	"sync"
)

// limiter bounds the requests in flight with an AIMD limit: it halves when
// Salesforce reports the concurrent-request limit and grows by one per
// window of successes (limit += 1/limit per success) back up to max.
//
// A burst of throttled responses halves the limit once: a throttle counts
// only when its request was admitted in the current epoch, and each decrease
// starts a new epoch.
type limiter struct {
	min, max float64

	mu       sync.Mutex
	limit    float64
	inflight int
	epoch    uint64
	changed  chan struct{} // closed and replaced whenever a slot may be free
}

// slot is one admitted request.
type slot struct{ epoch uint64 }

func newLimiter(maxConcurrency int) *limiter {
	return &limiter{min: 1, max: float64(maxConcurrency), limit: float64(maxConcurrency), changed: make(chan struct{})}
}

// acquire waits for a free slot or for ctx to end.
func (l *limiter) acquire(ctx context.Context) (slot, error) {
	for {
		l.mu.Lock()
		if l.inflight < int(l.limit) {
			l.inflight++
			s := slot{epoch: l.epoch}
			l.mu.Unlock()
			return s, nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return slot{}, ctx.Err()
		}
	}
}

// outcome of a request, for the limit.
type outcome int

const (
	outcomeOther     outcome = iota // neither success nor throttle (errors that say nothing about load)
	outcomeSuccess                  // grows the limit
	outcomeThrottled                // concurrent-request limit: shrinks it
)

// release frees s and adjusts the limit by o.
func (l *limiter) release(s slot, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	switch o {
	case outcomeSuccess:
		l.limit = min(l.max, l.limit+1/l.limit)
	case outcomeThrottled:
		if s.epoch == l.epoch {
			l.limit = max(l.min, l.limit/2)
			l.epoch++
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// state returns the current limit (whole requests) and the requests in flight.
func (l *limiter) state() (limit, inflight int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit), l.inflight
}
