package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/state"
)

// streamOrder is the version guard of a sync whose records arrive in
// version order (Config.StreamOrder; ADR 0004). DESIGN.md invariant 4 then
// holds without a state-store entry per key:
//
//   - A first delivery of a record is never older than anything delivered
//     before it: the source published every key's versions in order, and the
//     consumer hands out first deliveries in stream order.
//   - Between batches in flight in this process, recent keeps the newest
//     version written of every key that a batch in hand holds. Batches
//     register their keys in fetch order (intake), so a batch fetched earlier
//     sees what a later one wrote before it.
//   - Everything else is checked against the state store, as the durable
//     guard does, and what it writes is stored there: a redelivery (nacked,
//     released, or left unsettled by an earlier process), a DLQ replay, and
//     any record of a key that has a delivery waiting to come back (risky:
//     this process nacked or released it) or that reached the DLQ (pinned,
//     kept in the state store, so a replay finds what was written since).
//   - After a restart, what the previous process left unsettled is unknown
//     here, so every record goes through the state store (catching up)
//     until the consumer's ack floor passes what had been delivered before
//     the start.
//
// Its memory is the keys of the batches in hand, the keys with a delivery
// waiting to come back, and the pinned keys: never one entry per key
// delivered.
type streamOrder struct {
	st     state.Store
	prefix string // "pinned/<sync>/"

	// intake is held from a worker's fetch until its batch's keys are
	// registered, so that registration follows fetch order.
	intake sync.Mutex

	mu     sync.Mutex
	recent map[string]*recentKey
	risky  map[string]map[uint64]struct{} // external ID → queue positions of deliveries to come back
	pinned map[string]struct{}            // pin keys (pinKeys)

	// lastDelivery is the consumer's delivery number last fetched (under
	// intake): a gap after it is a delivery that reached no one.
	lastDelivery uint64

	catchingUp atomic.Bool
	cmu        sync.Mutex
	catchUpTo  uint64 // the position the ack floor must reach
	needTarget bool   // catchUpTo must be read from the consumer again
	drainFirst bool   // …once it has delivered everything published so far
	doubts     uint64 // doubts so far: stats read before the last one are stale
	// firstStart: the sync had delivered records before it was first run in
	// stream order; the marker (guardKey) is written once it has caught up.
	firstStart bool
	guardKey   string // "guard/<sync>"
}

// recentKey is what recent keeps of a key while batches in hand hold it.
type recentKey struct {
	refs    int
	written bool
	version record.Version
}

func newStreamOrder(st state.Store, sync string) *streamOrder {
	return &streamOrder{
		st: st, prefix: "pinned/" + sync + "/", guardKey: "guard/" + sync,
		recent: map[string]*recentKey{}, risky: map[string]map[uint64]struct{}{}, pinned: map[string]struct{}{},
	}
}

// load reads the pinned keys and notes where the consumer stood: while its
// ack floor is below lastDelivered, the previous process may have left
// deliveries unsettled. A sync that delivered records before without the
// stream-order guard (the marker guardKey is missing) may also have DLQ
// replays waiting in the queue, published before this start with no pin for
// their key: it catches up until the consumer has delivered everything
// published before and settled it.
func (o *streamOrder) load(ctx context.Context, lastDelivered, ackFloor uint64) error {
	entries, err := o.st.List(ctx, o.prefix)
	if err != nil {
		return err
	}
	o.mu.Lock()
	for _, e := range entries {
		o.pinned[e.Key[len(o.prefix):]] = struct{}{}
	}
	o.mu.Unlock()
	_, err = o.st.Get(ctx, o.guardKey)
	marked := err == nil
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	o.cmu.Lock()
	defer o.cmu.Unlock()
	if ackFloor < lastDelivered {
		o.catchUpTo = lastDelivered
		o.catchingUp.Store(true)
	}
	if !marked {
		if lastDelivered == 0 {
			return o.mark(ctx) // a new sync: nothing of it can be in the queue out of order
		}
		o.firstStart, o.needTarget, o.drainFirst = true, true, true
		o.catchingUp.Store(true)
	}
	return nil
}

// mark writes the marker that the sync runs with the stream-order guard.
func (o *streamOrder) mark(ctx context.Context) error {
	doc, _ := json.Marshal(map[string]any{"v": 1, "guard": GuardStreamOrder, "at": time.Now().UTC()})
	_, err := o.st.Put(ctx, o.guardKey, doc)
	return err
}

// unmark removes the marker (the sync runs with the state-store guard), so
// that the next start in stream order catches up first.
func unmark(ctx context.Context, st state.Store, sync string) error {
	return st.Delete(ctx, "guard/"+sync, 0)
}

// doubt starts a catching-up period whose end is read from the consumer:
// a delivery this process cannot account for will come back.
func (o *streamOrder) doubt() {
	o.cmu.Lock()
	o.needTarget = true
	o.doubts++
	o.catchingUp.Store(true)
	o.cmu.Unlock()
}

// doubtCount is the number of doubts so far, to read before the stats
// handed to caughtUp.
func (o *streamOrder) doubtCount() uint64 {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	return o.doubts
}

// observe checks the delivery numbers of a fetch (call with intake held):
// a gap is a delivery that reached no one (sent to a fetch that had given
// up), which will come back after the ack wait with a version this process
// never saw. Then every record goes through the state store until it has
// (doubt). It reports whether there was a gap.
func (o *streamOrder) observe(ds []queue.Delivery) (gap bool) {
	for _, del := range ds {
		_, n := del.Sequence()
		if o.lastDelivery != 0 && n != o.lastDelivery+1 {
			gap = true
		}
		o.lastDelivery = n
	}
	if gap {
		o.doubt()
	}
	return gap
}

// caughtUp takes the consumer's stats while catching up (read after
// doubtCount returned seen): it sets the position to reach where a doubt
// left it unknown, and ends the period once the ack floor has reached it.
// It reports whether the period is over; firstDone is set when that ends a
// first start (the caller then writes the marker).
func (o *streamOrder) caughtUp(st queue.ConsumerStats, seen uint64) (over, firstDone bool) {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	if !o.catchingUp.Load() {
		return true, false
	}
	if seen != o.doubts {
		return false, false // read before the last doubt: the lost delivery may be past st.Delivered
	}
	if o.needTarget {
		if o.drainFirst && st.Pending > 0 {
			return false, false
		}
		// Everything delivered up to now, the lost delivery included.
		o.catchUpTo, o.needTarget, o.drainFirst = max(o.catchUpTo, st.Delivered), false, false
	}
	if st.AckFloor < o.catchUpTo {
		return false, false
	}
	o.catchingUp.Store(false)
	firstDone, o.firstStart = o.firstStart, false
	return true, firstDone
}

// register holds keys for a batch in hand (call with intake held).
func (o *streamOrder) register(keys []string) {
	o.mu.Lock()
	for _, k := range keys {
		r := o.recent[k]
		if r == nil {
			r = &recentKey{}
			o.recent[k] = r
		}
		r.refs++
	}
	o.mu.Unlock()
}

// unregister lets go of a batch's keys.
func (o *streamOrder) unregister(keys []string) {
	o.mu.Lock()
	for _, k := range keys {
		if r := o.recent[k]; r != nil {
			if r.refs--; r.refs <= 0 {
				delete(o.recent, k)
			}
		}
	}
	o.mu.Unlock()
}

// shared reports whether another batch in hand holds key: what this one
// writes must then be stored, since the other batch's record may be an older
// version that comes back (its supersede not applied, a crash) after this
// batch has let go of the key.
func (o *streamOrder) shared(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recent[key]
	return r != nil && r.refs > 1
}

// newerWritten reports whether a version of key newer than v was written
// while a batch in hand held the key.
func (o *streamOrder) newerWritten(key string, v record.Version) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recent[key]
	if r == nil || !r.written {
		return false
	}
	c, err := v.Compare(r.version)
	return err == nil && c < 0
}

// written notes that v of key is in Salesforce.
func (o *streamOrder) written(key string, v record.Version) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recent[key]
	if r == nil {
		return
	}
	if r.written {
		if c, err := v.Compare(r.version); err == nil && c <= 0 {
			return
		}
	}
	r.written, r.version = true, v
}

// durable reports whether it must be checked against, and stored in, the
// state store.
func (o *streamOrder) durable(it *item) bool {
	if it.replay {
		return true
	}
	if it.del.Attempt() > 1 {
		if !o.catchingUp.Load() && !o.delayed(it) {
			// A redelivery this process did not cause (its ack wait ran out
			// while in hand, or the process was paused): the guard cannot
			// tell what else is coming back.
			o.doubt()
		}
		return true
	}
	if o.catchingUp.Load() {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.risky[it.act.Key]; ok {
		return true
	}
	if len(o.pinned) == 0 {
		return false
	}
	for _, p := range pinKeys(it) {
		if _, ok := o.pinned[p]; ok {
			return true
		}
	}
	return false
}

// delay notes that it will come back (nacked or released): until it has
// ended, every record of its key goes through the state store.
func (o *streamOrder) delay(it *item) {
	if it.act.Key == "" {
		return
	}
	pos, _ := it.del.Sequence()
	o.mu.Lock()
	ids := o.risky[it.act.Key]
	if ids == nil {
		ids = map[uint64]struct{}{}
		o.risky[it.act.Key] = ids
	}
	ids[pos] = struct{}{}
	o.mu.Unlock()
}

// delayed reports whether this process delayed it (it is one of its key's
// deliveries to come back).
func (o *streamOrder) delayed(it *item) bool {
	pos, _ := it.del.Sequence()
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.risky[it.act.Key][pos]
	return ok
}

// ended notes that it reached an end state (delivered, superseded, DLQ).
func (o *streamOrder) ended(it *item) {
	if it.del.Attempt() <= 1 && !it.replay {
		return // a first delivery cannot be one this process delayed
	}
	pos, _ := it.del.Sequence()
	o.mu.Lock()
	if ids := o.risky[it.act.Key]; ids != nil {
		delete(ids, pos)
		if len(ids) == 0 {
			delete(o.risky, it.act.Key)
		}
	}
	o.mu.Unlock()
}

// pin records, before it goes to the DLQ, that its key may be replayed:
// from now on every record of the key goes through the state store, in this
// process and after a restart. It pins the record's own key as well as the
// external ID, since a replay through a corrected mapping may give the
// record an external ID it had none of when it failed.
func (o *streamOrder) pin(ctx context.Context, it *item, now time.Time) error {
	for _, p := range pinKeys(it) {
		o.mu.Lock()
		_, ok := o.pinned[p]
		o.mu.Unlock()
		if ok {
			continue
		}
		doc, _ := json.Marshal(pinDoc{V: 1, Record: it.rec.Key.String(), ExternalID: it.act.Key, At: now.UTC()})
		if _, err := o.st.Put(ctx, o.prefix+p, doc); err != nil {
			return err
		}
		o.mu.Lock()
		o.pinned[p] = struct{}{}
		o.mu.Unlock()
	}
	return nil
}

// pinDoc is a pin's value, for a person reading the state store.
type pinDoc struct {
	V          int       `json:"v"`
	Record     string    `json:"record,omitempty"`
	ExternalID string    `json:"external_id,omitempty"`
	At         time.Time `json:"at"`
}

// pinKeys are the pins that concern it: "r" + a hash of its source, table
// and key, and "x" + a hash of its external ID once mapped.
func pinKeys(it *item) []string {
	var out []string
	if it.decoded {
		if canon, err := it.rec.Key.Canonical(); err == nil {
			out = append(out, "r"+hashPart(it.rec.Source+"\x00"+it.rec.Collection+"\x00"+canon))
		}
	}
	if it.act.Key != "" {
		out = append(out, "x"+hashPart(it.act.Key))
	}
	return out
}

func hashPart(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// isReplay reports whether the delivery is a DLQ replay.
func isReplay(headers map[string]string) bool {
	return headers[dlq.HeaderReplayOf] != "" || headers[dlq.HeaderReplayFor] != ""
}
