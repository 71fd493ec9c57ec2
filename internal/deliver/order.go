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
//     guard does, and what it writes is stored there: a redelivery, a DLQ
//     replay, any record of a key that has a delivery waiting to come back
//     (away: this process nacked or released it) or that reached the DLQ
//     (pinned, kept in the state store, so a replay finds what was written
//     since), and a write of a key another batch in hand holds (shared).
//   - While a delivery may come back that this process cannot account for
//     (left by an earlier process, lost on its way, resent while in hand:
//     doubt), every record goes through the state store (catching up) until
//     the consumer's ack floor passes it.
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
	// away: deliveries this process nacked or handed back, by queue
	// position (copies of a re-published page share an ID, not a position),
	// and how many each key has.
	away     map[uint64]string
	awayKeys map[string]int
	pinned   map[string]struct{} // pin keys (pinKeys)

	// lastDelivery is the consumer's delivery number last fetched (under
	// intake): a gap after it is a delivery that reached no one.
	lastDelivery uint64

	catchingUp atomic.Bool
	cmu        sync.Mutex
	catchUpTo  uint64 // the position the ack floor must reach
	needTarget bool   // catchUpTo must be read from the consumer again
	doubts     uint64 // doubts so far: stats read before the last one are stale
	// leftTo: the last position delivered before the start, while the
	// deliveries an earlier process left may still come back (0 after).
	leftTo uint64
	// firstStart: the sync had delivered records before it was first run in
	// stream order; the marker (guardKey) is written once it has caught up.
	firstStart bool
	guardKey   string // "guard/<sync>"

	// beat is when the watchdog last ran (UnixNano); a lapse of over half
	// the ack wait means the process was paused or starved, and the broker
	// may have sent deliveries in hand again.
	beat    atomic.Int64
	ackWait time.Duration
}

// recentKey is what recent keeps of a key while batches in hand hold it.
type recentKey struct {
	refs    int
	written bool
	version record.Version
}

func newStreamOrder(st state.Store, sync string, ackWait time.Duration) *streamOrder {
	o := &streamOrder{
		st: st, prefix: "pinned/" + sync + "/", guardKey: "guard/" + sync, ackWait: ackWait,
		recent: map[string]*recentKey{}, away: map[uint64]string{}, awayKeys: map[string]int{}, pinned: map[string]struct{}{},
	}
	o.beat.Store(time.Now().UnixNano())
	return o
}

// tick is the watchdog's beat (every tenth of the ack wait at most); it
// reports whether it found a lapse, and doubts then.
func (o *streamOrder) tick(now time.Time) (lapse bool) {
	if lapse = o.lapsed(now); lapse {
		o.doubt()
	}
	o.beat.Store(now.UnixNano())
	return lapse
}

// lapsed reports whether the watchdog has not run for over half the ack
// wait.
func (o *streamOrder) lapsed(now time.Time) bool {
	return now.UnixNano()-o.beat.Load() > int64(o.ackWait/2)
}

// load reads the pinned keys and notes where the consumer stood (st, and
// last, the queue's newest position): while
// its ack floor is below what it had delivered, the previous process may
// have left deliveries unsettled. A sync that delivered records before
// without the stream-order guard (the marker guardKey is missing) may also
// have DLQ replays waiting in the queue, published before this start with no
// pin for their key: it catches up until everything the queue held at the
// start is settled.
func (o *streamOrder) load(ctx context.Context, st queue.ConsumerStats, last uint64) error {
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
	// InFlight: a filtered consumer's delivered position also passes other
	// subjects' messages, so a floor below it alone proves nothing.
	if st.InFlight > 0 && st.AckFloor < st.Delivered {
		o.catchUpTo, o.leftTo = st.Delivered, st.Delivered
		o.catchingUp.Store(true)
	}
	if !marked && st.Delivered > 0 {
		// Delivered before with no marker: the previous run used the
		// state-store guard (or an older sfbridge), or did not stop cleanly
		// (the broker's consumer state reaches its disk a little after the
		// deliveries it describes, so what a killed process had in hand may
		// not show as in flight). Catch up on everything the queue holds.
		o.firstStart, o.catchUpTo = true, max(o.catchUpTo, last)
		o.catchingUp.Store(true)
	}
	o.lastDelivery = st.Deliveries
	if marked {
		// Written again by a clean stop; a crash leaves it missing.
		return o.st.Delete(ctx, o.guardKey, 0)
	}
	return nil
}

// mark writes the marker that the sync ran with the stream-order guard and
// stopped cleanly.
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

// observe checks a fetch (call with intake held) for deliveries this
// process cannot account for, and doubts when it finds one:
//   - a gap in the delivery numbers: a delivery reached no one (sent to a
//     fetch that had given up) and will come back after the ack wait with a
//     version this process never saw;
//   - a redelivery it did not cause (not nacked or handed back by it, not
//     left by an earlier process): its ack wait ran out while in hand, and
//     others of the batch it was in may come back too.
//
// It reports what it found.
func (o *streamOrder) observe(ds []queue.Delivery) (gap, stray bool) {
	for _, del := range ds {
		pos, n := del.Sequence()
		if o.lastDelivery != 0 && n != o.lastDelivery+1 {
			gap = true
		}
		o.lastDelivery = n
		if del.Attempt() > 1 && !o.isAway(pos) && !o.leftBefore(pos) {
			stray = true
		}
	}
	if gap || stray {
		o.doubt()
	}
	return gap, stray
}

// isAway reports whether the delivery at pos is one this process nacked or
// handed back.
func (o *streamOrder) isAway(pos uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.away[pos]
	return ok
}

// leftBefore reports whether a redelivery at pos is one an earlier process
// left (delivered before the start, while those may still come back).
func (o *streamOrder) leftBefore(pos uint64) bool {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	return pos <= o.leftTo
}

// caughtUp takes the consumer's stats while catching up (read after
// doubtCount returned seen, both with intake held: no fetch under way, so a
// delivery sent before the read has been observed): it sets the position to reach where a doubt
// left it unknown, and ends the period once the ack floor has reached it.
// It reports whether the period is over.
func (o *streamOrder) caughtUp(st queue.ConsumerStats, seen uint64) bool {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	if !o.catchingUp.Load() {
		return true
	}
	if seen != o.doubts {
		return false // read before the last doubt: the lost delivery may be past st.Delivered
	}
	if o.needTarget {
		// Everything delivered up to now, the lost delivery included.
		o.catchUpTo, o.needTarget = max(o.catchUpTo, st.Delivered), false
	}
	// Nothing unsettled at all (read with no fetch under way), or every
	// position up to the target settled.
	// (A first start waits for the floor whatever is in flight: what it
	// waits for may not have been delivered yet.)
	if (o.firstStart || st.InFlight > 0) && st.AckFloor < o.catchUpTo {
		return false
	}
	o.catchingUp.Store(false)
	o.leftTo = 0
	o.firstStart = false
	return true
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
//
// Like written, newerWritten, delay and ended, it may be called on a nil
// streamOrder (the state-store guard), which knows nothing.
func (o *streamOrder) shared(key string) bool {
	if o == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recent[key]
	return r != nil && r.refs > 1
}

// newerWritten reports whether a version of it's key newer than its own was
// written while a batch in hand held the key.
func (o *streamOrder) newerWritten(it *item) bool {
	if o == nil || it.act.Key == "" {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	v := it.act.Version
	r := o.recent[it.act.Key]
	if r == nil || !r.written {
		return false
	}
	c, err := v.Compare(r.version)
	return err == nil && c < 0
}

// written notes that v of key is in Salesforce.
func (o *streamOrder) written(key string, v record.Version) {
	if o == nil {
		return
	}
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
	if it.replay || it.del.Attempt() > 1 {
		return true
	}
	if o.lapsed(time.Now()) {
		o.doubt() // the watchdog has not run: paused; decide as it would
	}
	if o.catchingUp.Load() {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.awayKeys[it.act.Key] > 0 {
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
	if o == nil || it.act.Key == "" {
		return
	}
	pos, _ := it.del.Sequence()
	o.mu.Lock()
	if _, ok := o.away[pos]; !ok {
		o.away[pos] = it.act.Key
		o.awayKeys[it.act.Key]++
	}
	o.mu.Unlock()
}

// ended notes that it reached an end state (delivered, superseded, DLQ).
func (o *streamOrder) ended(it *item) {
	if o == nil || it.del.Attempt() <= 1 && !it.replay {
		return // a first delivery cannot be one this process delayed
	}
	pos, _ := it.del.Sequence()
	o.mu.Lock()
	if key, ok := o.away[pos]; ok {
		delete(o.away, pos)
		if o.awayKeys[key]--; o.awayKeys[key] <= 0 {
			delete(o.awayKeys, key)
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
