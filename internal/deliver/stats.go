package deliver

import "sync/atomic"

// counters are the Deliverer's running totals (DESIGN.md invariant 6).
type counters struct {
	received     atomic.Int64
	delivered    atomic.Int64
	superseded   atomic.Int64
	filtered     atomic.Int64
	deadLettered atomic.Int64
	retried      atomic.Int64
	released     atomic.Int64
	incomparable atomic.Int64
	durable      atomic.Int64
	gaps         atomic.Int64
	held         atomic.Int64
	batches      atomic.Int64
}

// Stats is a snapshot of one sync's delivery (DESIGN.md invariant 6: every
// record ends in one of the end states, and each has a counter). Counts are
// of deliveries since Start: a record retried twice and then delivered is
// received 3 times, retried 2 and delivered 1. Once the loop is stopped,
//
//	Received = Delivered + Superseded + Filtered + DeadLettered + Retried + Released
//
// and while it runs the difference is InFlight.
type Stats struct {
	Sync string `json:"sync"`
	// Received counts deliveries fetched from the queue.
	Received int64 `json:"received"`
	// Delivered: written to Salesforce (upserted or deleted), version
	// stored, acked.
	Delivered int64 `json:"delivered"`
	// Superseded: a newer version of the key was in the same batch or had
	// already been delivered; acked without writing (invariant 4).
	Superseded int64 `json:"superseded"`
	// Filtered: the sync's rules skip the record (its `from` glob, `when`,
	// `deletes: ignore`), or it is a DLQ replay meant for another sync; acked.
	Filtered int64 `json:"filtered"`
	// DeadLettered: stored in the DLQ with its reason, then terminated.
	DeadLettered int64 `json:"dead_lettered"`
	// Retried: failed with a retryable record error; nacked with backoff
	// (it comes back, and ends in another state).
	Retried int64 `json:"retried"`
	// Released: handed back to the broker without spending an attempt
	// (stopped during an outage, the state store or the DLQ unavailable, the
	// DLQ window tripped); it comes back.
	Released int64 `json:"released"`
	// Incomparable counts records delivered although their version could not
	// be compared with the stored one (a different version kind); they are
	// also in Delivered.
	Incomparable int64 `json:"incomparable"`
	// InFlight: fetched and not settled yet; Held: of those, waiting for
	// Salesforce to come back.
	InFlight int64 `json:"in_flight"`
	Held     int64 `json:"held"`
	// Batches counts the batches processed.
	Batches int64        `json:"batches"`
	Circuit CircuitStats `json:"circuit"`
	Window  WindowStats  `json:"dlq_window"`
	// Guard is how the version guard works: "state store" (every key's
	// newest version kept there) or "stream order" (Config.StreamOrder).
	Guard string `json:"guard"`
	// CatchingUp: with the stream-order guard, deliveries an earlier process
	// left unsettled are not settled yet, so every record is checked against
	// the state store meanwhile.
	CatchingUp bool `json:"catching_up,omitempty"`
	// Durable counts the records the guard checked against the state store.
	Durable int64 `json:"durable_checks"`
	// Gaps counts fetches that showed a delivery had reached no one, or
	// brought back one this process did not hand back (stream order only;
	// each starts a catching-up period).
	Gaps int64 `json:"delivery_gaps,omitempty"`
	// Stopped says why the sync stopped by itself ("" when it did not).
	Stopped string `json:"stopped,omitempty"`
}

// The values of Stats.Guard.
const (
	GuardStateStore  = "state store"
	GuardStreamOrder = "stream order"
)

// Ended is the sum of the settled states.
func (s Stats) Ended() int64 {
	return s.Delivered + s.Superseded + s.Filtered + s.DeadLettered + s.Retried + s.Released
}

// Stats returns a snapshot of the counters.
func (d *Deliverer) Stats() Stats {
	c := &d.stats
	// End states first, Received last: a record counted as ended was
	// received before, so InFlight never goes negative.
	s := Stats{
		Sync:         d.name,
		Delivered:    c.delivered.Load(),
		Superseded:   c.superseded.Load(),
		Filtered:     c.filtered.Load(),
		DeadLettered: c.deadLettered.Load(),
		Retried:      c.retried.Load(),
		Released:     c.released.Load(),
		Incomparable: c.incomparable.Load(),
		Held:         c.held.Load(),
		Batches:      c.batches.Load(),
		Circuit:      d.circ.stats(),
		Window:       d.win.stats(),
		Guard:        GuardStateStore,
		Durable:      c.durable.Load(),
		Gaps:         c.gaps.Load(),
	}
	if d.ord != nil {
		s.Guard = GuardStreamOrder
		s.CatchingUp = d.ord.catchingUp.Load()
	}
	s.Received = c.received.Load()
	s.InFlight = s.Received - s.Ended()
	if err := d.Err(); err != nil {
		s.Stopped = err.Error()
	}
	return s
}
