package deliver

import (
	"context"
	"sync"
	"time"

	"github.com/sfbridge/sfbridge/internal/retry"
)

// CircuitState is where a sync's circuit breaker stands.
type CircuitState string

// Circuit states.
const (
	// CircuitClosed: Salesforce is reachable; the sync fetches and writes.
	CircuitClosed CircuitState = "closed"
	// CircuitOpen: an outage was seen; the sync fetches nothing, holds the
	// records it has, and waits for the next probe.
	CircuitOpen CircuitState = "open"
	// CircuitProbing: a probe call is in flight.
	CircuitProbing CircuitState = "probing"
)

// circuit is a sync's circuit breaker (DESIGN.md invariant 3: an outage is
// not a record's fault). It is a state machine whose every transition takes
// the time, so its timing is tested without a clock; waiting is done by the
// caller (waitClosed, the prober's timer).
//
// An outage episode starts at the first open and ends at the first write
// that reaches Salesforce after it (success). In between, the circuit opens
// for a backoff that grows with every failed probe or failed write
// (openings), closes when a probe succeeds so that the held records are
// written again, and opens again if that write fails too.
type circuit struct {
	policy retry.Policy

	mu       sync.Mutex
	state    CircuitState
	openings int       // openings since the episode began
	since    time.Time // episode start; zero when healthy
	until    time.Time // the next probe, when open
	cause    error
	changed  chan struct{} // closed and replaced on every transition
}

func newCircuit(policy retry.Policy) *circuit {
	return &circuit{policy: policy, state: CircuitClosed, changed: make(chan struct{})}
}

// broadcast wakes every waiter. c.mu held.
func (c *circuit) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// open reports an outage seen at now; wait is the delay the server asked
// for, if any. It returns true when this starts an outage episode.
func (c *circuit) open(now time.Time, cause error, wait time.Duration) (first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cause = cause
	if c.state != CircuitClosed {
		// Already open or probing: a write that was in flight failed too.
		if u := now.Add(wait); u.After(c.until) {
			c.until = u
		}
		return false
	}
	first = c.since.IsZero()
	if first {
		c.since = now
	}
	c.openings++
	c.state = CircuitOpen
	c.until = now.Add(max(c.policy.Delay(c.openings), wait))
	c.broadcast()
	return first
}

// success reports a write that reached Salesforce at now. It ends the
// episode when the circuit is closed (a success from a write that started
// before the circuit opened says nothing about now). It returns the
// episode's start when this ended one.
func (c *circuit) success() (ended bool, since time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != CircuitClosed || c.since.IsZero() {
		return false, time.Time{}
	}
	since = c.since
	c.since, c.openings, c.cause = time.Time{}, 0, nil
	return true, since
}

// probeDue reports whether the circuit is open and its probe time has come;
// if so the circuit moves to probing and the caller must report the probe's
// outcome with probed. Otherwise it returns how long until the probe (0 when
// the circuit is not open).
func (c *circuit) probeDue(now time.Time) (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != CircuitOpen {
		return false, 0
	}
	if now.Before(c.until) {
		return false, c.until.Sub(now)
	}
	c.state = CircuitProbing
	c.broadcast()
	return true, 0
}

// probed reports a probe's outcome: nil closes the circuit (the episode goes
// on until a write succeeds), an error opens it for a longer backoff.
func (c *circuit) probed(now time.Time, err error, wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != CircuitProbing {
		return
	}
	if err == nil {
		c.state = CircuitClosed
	} else {
		c.cause = err
		c.openings++
		c.state = CircuitOpen
		c.until = now.Add(max(c.policy.Delay(c.openings), wait))
	}
	c.broadcast()
}

// waitClosed returns once the circuit is closed, or ctx's error.
func (c *circuit) waitClosed(ctx context.Context) error {
	for {
		c.mu.Lock()
		st, ch := c.state, c.changed
		c.mu.Unlock()
		if st == CircuitClosed {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// watch returns a channel closed at the next transition.
func (c *circuit) watch() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// CircuitStats is a snapshot of a circuit.
type CircuitStats struct {
	State CircuitState `json:"state"`
	// Since is when the current outage began (zero when none).
	Since time.Time `json:"since,omitzero"`
	// NextProbe is when the open circuit probes next.
	NextProbe time.Time `json:"next_probe,omitzero"`
	// Openings counts the openings of the current outage.
	Openings int `json:"openings"`
	// LastError is the outage's last error.
	LastError string `json:"last_error,omitempty"`
}

func (c *circuit) stats() CircuitStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CircuitStats{State: c.state, Since: c.since, Openings: c.openings}
	if c.state == CircuitOpen {
		s.NextProbe = c.until
	}
	if c.cause != nil {
		s.LastError = c.cause.Error()
	}
	return s
}
