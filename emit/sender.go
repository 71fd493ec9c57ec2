package emit

import (
	"errors"
	"math/rand/v2"
	"time"
)

// sendState is the sender's health, logged when it changes.
type sendState int

const (
	stateOK     sendState = iota
	stateOutage           // the destination is unreachable or failing
	stateAuth             // the destination refuses the credentials
)

// sendLoop delivers the spool, in order, one batch at a time, until Close.
// Each settled prefix of a batch moves the spool's cursor (saved before
// the segments behind it are deleted); what a failed Send left unsettled
// is read again after a backoff. The cursor moves only after the
// destination acknowledged (DESIGN.md invariant 1, persist then ack, on the
// application's side: a crash in between sends again, never loses).
// Nothing is dropped for a failure (invariant 3): only a rejection by the
// destination removes an event undelivered, and it is reported (invariant
// 6).
func (c *Client) sendLoop() {
	defer close(c.senderDone)
	log := c.cfg.Logger
	state, failures := stateOK, 0
	var failingSince time.Time
	idle := true
	for {
		select {
		case <-c.closing:
			return
		default:
		}
		cursor, _, _, _ := c.spool.state()
		batch, reached, err := c.spool.read(cursor, c.cfg.BatchSize, c.cfg.BatchBytes)
		if err != nil {
			// The spool itself failed to read: not the events' fault.
			log.Error("emit: read spool", "error", err)
			if !c.sleep(c.cfg.MaxBackoff) {
				return
			}
			continue
		}
		if len(batch) == 0 {
			if cursor.before(reached) {
				// Crossed the end of a sealed segment: let it be deleted.
				c.ack(reached, 0, 0)
			}
			idle = true
			select {
			case <-c.wake:
			case <-c.flushNow:
			case <-c.closing:
				return
			}
			continue
		}
		if idle && len(batch) < c.cfg.BatchSize && c.cfg.Linger > 0 && c.flushers.Load() == 0 {
			idle = false
			if !c.linger() {
				return
			}
			continue // read again, with what arrived meanwhile
		}
		idle = false

		msgs := make([]Message, len(batch))
		for i, e := range batch {
			msgs[i] = e.msg
		}
		res, err := c.cfg.Sink.Send(c.sendCtx, msgs)
		settled := len(batch)
		if err != nil {
			settled = min(max(res.Settled, 0), len(batch))
		} else if state != stateOK {
			log.Info("emit: delivering again", "failed_sends", failures, "after", time.Since(failingSince).Round(time.Millisecond))
			c.setFailing(false)
			state, failures = stateOK, 0
		}
		if settled > 0 {
			c.settle(batch[:settled], res)
		}
		if err == nil {
			continue
		}
		select {
		case <-c.closing:
			if c.sendCtx.Err() != nil {
				return // Close cancelled the Send: not a failure
			}
		default:
		}
		failures++
		c.retries.Add(1)
		c.recordError(err)
		delay, next := c.backoff(failures, err)
		if next != state {
			switch next {
			case stateAuth:
				log.Error("emit: the destination refuses the credentials; events stay spooled until they are fixed",
					"error", err, "retry_every", delay)
			default:
				log.Warn("emit: cannot deliver events; they stay spooled and are retried", "error", err, "retry_in", delay.Round(time.Millisecond))
			}
			if state == stateOK {
				failingSince = time.Now()
			}
			state = next
		}
		if !c.sleep(delay) {
			return
		}
	}
}

// settle acknowledges the settled events: reports the rejected ones,
// counts, moves the cursor.
func (c *Client) settle(done []entry, res Result) {
	var size int64
	for _, e := range done {
		size += e.size
	}
	seen := map[int]bool{}
	for _, rj := range res.Rejected {
		if rj.Index < 0 || rj.Index >= len(done) || seen[rj.Index] {
			c.cfg.Logger.Error("emit: the sink reported a rejection outside the settled events; ignored",
				"index", rj.Index, "settled", len(done), "id", rj.ID)
			continue
		}
		seen[rj.Index] = true
		msg := done[rj.Index].msg
		c.cfg.Logger.Warn("emit: the destination rejected an event; it is dropped from the spool",
			"id", msg.ID, "reason", rj.Reason)
		if c.cfg.OnReject != nil {
			ev, _ := decode(msg.JSON)
			c.cfg.OnReject(ev, rj.Reason)
		}
	}
	c.rejected.Add(int64(len(seen)))
	c.sent.Add(int64(len(done) - len(seen)))
	c.duplicates.Add(int64(res.Duplicates))
	c.ack(done[len(done)-1].end, int64(len(done)), size)
}

func (c *Client) ack(p pos, n, size int64) {
	if err := c.spool.ack(p, n, size); err != nil {
		// The events are delivered; at worst a restart sends them again.
		c.cfg.Logger.Error("emit: save spool progress", "error", err)
	}
	c.moved()
}

// backoff says how long to wait after the failures-th failed Send in a
// row, and what the failure says about the destination.
func (c *Client) backoff(failures int, err error) (time.Duration, sendState) {
	if errors.Is(err, ErrAuth) {
		return c.cfg.MaxBackoff, stateAuth
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		d := min(ra.After, max(c.cfg.MaxBackoff, maxRetryAfter))
		return d + rand.N(d/10+1), stateOutage // never earlier than asked
	}
	return expBackoff(failures, c.cfg.MinBackoff, c.cfg.MaxBackoff), stateOutage
}

// expBackoff doubles from lo per failure up to hi, then takes "equal
// jitter": a random point in the upper half, so that many clients coming
// back from one outage spread out.
func expBackoff(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// linger waits up to Linger for a full batch; false when closing.
func (c *Client) linger() bool {
	t := time.NewTimer(c.cfg.Linger)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-c.flushNow:
			return true
		case <-c.wake:
			if _, _, n, size := c.spool.state(); n >= int64(c.cfg.BatchSize) || size >= int64(c.cfg.BatchBytes) {
				return true
			}
		case <-c.closing:
			return false
		}
	}
}

// sleep waits d; false when closing.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.closing:
		return false
	}
}

func (c *Client) recordError(err error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	c.lastErr, c.lastErrAt, c.failing = err.Error(), time.Now(), true
}

func (c *Client) setFailing(v bool) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	c.failing = v
}
