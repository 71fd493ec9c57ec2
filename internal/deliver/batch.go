package deliver

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/failure"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	sfsync "github.com/sfbridge/sfbridge/internal/sync"
)

// item is one delivery of a batch on its way to an end state.
type item struct {
	del     queue.Delivery
	decoded bool
	rec     record.Record
	act     sfsync.Action
	prev    stored            // the version guard's entry for the key
	res     salesforce.Result // the last write's outcome
	// incomparable: the stored version is of another kind; delivered anyway.
	incomparable bool
	// replay: a DLQ replay. durable: checked against and stored in the
	// state store (always, unless Config.StreamOrder says otherwise).
	replay, durable bool
	settled         atomic.Bool
}

// batch gathers what one process call reports at its end.
type batch struct {
	mu   sync.Mutex
	dead map[string]int // dead letters by code
}

func (b *batch) deadLettered(code string) {
	b.mu.Lock()
	if b.dead == nil {
		b.dead = map[string]int{}
	}
	b.dead[code]++
	b.mu.Unlock()
}

// process takes one fetched batch to its end states: decode → map → skip
// filtered → coalesce → version guard → write → settle each record by its
// own result (DESIGN.md invariant 2: never ack a partly failed batch).
// admitted is called once the batch's keys are registered with the
// stream-order guard (at the latest when process returns).
func (d *Deliverer) process(ds []queue.Delivery, admitted func()) {
	admitted = sync.OnceFunc(admitted)
	defer admitted()
	ctx := d.hardCtx
	d.stats.received.Add(int64(len(ds)))
	d.stats.batches.Add(1)
	items := make([]*item, len(ds))
	for i, del := range ds {
		items[i] = &item{del: del}
	}
	stopHeartbeat := d.heartbeat(items)
	defer stopHeartbeat()
	b := &batch{}
	defer d.report(b)

	// Decode and map. A record that cannot be decoded or mapped goes to
	// the DLQ at once with its reason: bad input never stops the line
	// (invariant 7), and retrying cannot change it.
	var acts []*item
	for _, it := range items {
		headers := it.del.Headers()
		if target := headers[dlq.HeaderReplayFor]; target != "" && target != d.name {
			d.ack(ctx, it, &d.stats.filtered) // a replay meant for another sync
			continue
		}
		it.replay = isReplay(headers)
		rec, err := record.Decode(it.del.Data())
		if err != nil {
			d.deadLetter(ctx, b, it, dlq.ReasonDecode, d.failAttempt(ctx, it, dlq.CodeDecode, failure.Permanent(err)))
			continue
		}
		it.rec, it.decoded = rec, true
		act, err := d.cfg.Sync.Map(rec)
		if err != nil {
			d.deadLetter(ctx, b, it, dlq.ReasonMapping, d.failAttempt(ctx, it, dlq.CodeMapping, err))
			continue
		}
		it.act = act
		if act.Kind == sfsync.Skip {
			d.ack(ctx, it, &d.stats.filtered) // invariant 6: filtered, counted
			continue
		}
		acts = append(acts, it)
	}
	if len(acts) == 0 {
		return
	}

	// Several changes of one key in the batch collapse into the newest
	// (invariant 4).
	actions := make([]sfsync.Action, len(acts))
	for i, it := range acts {
		actions[i] = it.act
	}
	keep, superseded := sfsync.Coalesce(actions)
	parallel(pick(acts, superseded), func(it *item) { d.supersede(ctx, it) })
	kept := make([]*item, len(keep))
	keys := make([]string, len(keep))
	for i, k := range keep {
		kept[i], keys[i] = acts[k], acts[k].act.Key
	}

	if d.ord != nil {
		d.ord.register(keys)
		defer d.ord.unregister(keys)
	}
	admitted()

	// One batch at a time per key in this process, then the version guard
	// against what was delivered before (invariant 4).
	if err := d.keys.acquire(ctx, keys); err != nil {
		d.releaseAll(ctx, kept)
		return
	}
	defer d.keys.release(keys)
	var check []*item
	for _, it := range kept {
		it.durable = d.ord == nil || d.ord.durable(it)
		if it.durable {
			check = append(check, it)
		}
	}
	d.stats.durable.Add(int64(len(check)))
	var loadErr atomic.Pointer[error]
	parallel(check, func(it *item) {
		var err error
		if it.prev, err = d.guard.load(ctx, it.act.Key); err != nil {
			loadErr.Store(&err)
		}
	})
	if p := loadErr.Load(); p != nil {
		// Without the guard no record may be written: hand them all back.
		d.log.Warn("cannot read the version guard from the state store; records handed back", "err", *p)
		d.releaseAll(ctx, kept)
		return
	}
	var write []*item
	for _, it := range kept {
		if d.ord.newerWritten(it) {
			d.supersede(ctx, it)
			continue
		}
		if it.prev.found && !it.prev.version.IsZero() {
			c, err := it.act.Version.Compare(it.prev.version)
			switch {
			case err != nil:
				it.incomparable = true // delivered, and counted
			case c < 0:
				d.supersede(ctx, it)
				continue
			}
		}
		write = append(write, it)
	}
	d.writeAll(ctx, b, write)
}

// writeAll writes items and settles each by its result. Records that
// failed because Salesforce is out are held: the circuit opens, and they
// are written again once a probe succeeds, without spending an attempt
// (invariant 3); if the loop stops meanwhile they are handed back.
func (d *Deliverer) writeAll(ctx context.Context, b *batch, items []*item) {
	for len(items) > 0 {
		d.write(ctx, items)
		outage, cause := d.settleResults(ctx, b, items, false)
		if len(outage) == 0 {
			return
		}
		if ctx.Err() != nil {
			d.releaseAll(ctx, outage)
			return
		}
		first := d.circ.open(d.cfg.Now(), cause, salesforce.Classify(cause).Wait)
		d.noteOutage(cause, first)
		d.stats.held.Add(int64(len(outage)))
		err := d.circ.waitClosed(d.stopCtx)
		d.stats.held.Add(-int64(len(outage)))
		if err != nil {
			d.releaseAll(ctx, outage)
			return
		}
		items = outage
	}
}

// outcome is what a write result means for its record.
type outcome int

const (
	outcomeOK outcome = iota
	// outcomeRetry: a retryable record error (a lock, a parent not there
	// yet): nack with backoff, one attempt spent.
	outcomeRetry
	// outcomePermanent: Salesforce judged the record; to the DLQ now.
	outcomePermanent
	// outcomeRequestPermanent: the request was refused as malformed,
	// perhaps because of one record in it; the records are tried alone.
	outcomeRequestPermanent
	// outcomeOutage: not the record's fault (network, 5xx, limits,
	// credentials, org state): hold, open the circuit.
	outcomeOutage
)

func classify(err error) outcome {
	if err == nil {
		return outcomeOK
	}
	v := salesforce.Classify(err)
	if salesforce.IsRecordError(err) {
		switch v.Class {
		case salesforce.ClassRetry:
			return outcomeRetry
		case salesforce.ClassPermanent:
			return outcomePermanent
		}
		// A throttle, session or org-wide failure reported per record
		// (e.g. STORAGE_LIMIT_EXCEEDED) is not this record's fault.
		return outcomeOutage
	}
	if v.Class == salesforce.ClassPermanent {
		return outcomeRequestPermanent
	}
	return outcomeOutage
}

// settleResults settles every item by its result and returns those that
// met an outage, with the outage's error. alone is set when items were
// written one per request.
func (d *Deliverer) settleResults(ctx context.Context, b *batch, items []*item, alone bool) (outage []*item, cause error) {
	var ok, retry, permanent, isolate []*item
	for _, it := range items {
		switch classify(it.res.Err) {
		case outcomeOK:
			ok = append(ok, it)
		case outcomeRetry:
			retry = append(retry, it)
		case outcomePermanent:
			permanent = append(permanent, it)
		case outcomeRequestPermanent:
			if alone || len(items) == 1 {
				permanent = append(permanent, it)
			} else {
				isolate = append(isolate, it)
			}
		case outcomeOutage:
			outage = append(outage, it)
			cause = it.res.Err
		}
	}
	if len(ok)+len(retry)+len(permanent) > 0 {
		d.noteSuccess() // Salesforce answered about records
	}
	parallel(ok, func(it *item) { d.delivered(ctx, it) })
	parallel(retry, func(it *item) { d.retry(ctx, b, it) })
	parallel(permanent, func(it *item) {
		d.deadLetter(ctx, b, it, dlq.ReasonPermanent, d.failAttempt(ctx, it, "", it.res.Err))
	})
	for _, it := range isolate {
		d.write(ctx, []*item{it})
		more, err := d.settleResults(ctx, b, []*item{it}, true)
		if len(more) > 0 {
			outage, cause = append(outage, more...), err
		}
	}
	return outage, cause
}

// write sends items to Salesforce and stores each one's result.
func (d *Deliverer) write(ctx context.Context, items []*item) {
	var ups, dels []*item
	for _, it := range items {
		if it.act.Kind == sfsync.Delete {
			dels = append(dels, it)
		} else {
			ups = append(ups, it)
		}
	}
	object, ext := d.cfg.Sync.Object(), d.cfg.Sync.ExternalID()
	if len(ups) > 0 {
		rows := make([]map[string]any, len(ups))
		for i, it := range ups {
			rows[i] = it.act.Fields
		}
		res, err := d.cfg.Sink.Write(ctx, object, ext, rows)
		assign(ups, res, err)
	}
	if len(dels) > 0 {
		keys := make([]any, len(dels))
		for i, it := range dels {
			keys[i] = it.act.KeyValue
		}
		res, err := d.cfg.Sink.Delete(ctx, object, ext, keys)
		assign(dels, res, err)
	}
}

// assign stores results; an error for the whole call (invalid arguments, a
// failed describe) becomes every item's result.
func assign(items []*item, res []salesforce.Result, err error) {
	if err == nil && len(res) != len(items) {
		err = failure.Fatal(errors.New("salesforce: the sink returned a result count that does not match the rows"))
	}
	for i, it := range items {
		if err != nil {
			it.res = salesforce.Result{Err: err}
		} else {
			it.res = res[i]
		}
	}
}

// delivered settles a written record: store its version (compare-and-set),
// then ack (invariant 4, then invariant 2).
func (d *Deliverer) delivered(ctx context.Context, it *item) {
	// Before the save: if it fails and the record is handed back, a batch
	// waiting for the key still knows what Salesforce holds.
	d.ord.written(it.act.Key, it.act.Version)
	var err error
	if it.durable || d.ord.shared(it.act.Key) {
		if !it.durable {
			d.stats.durable.Add(1) // stored: another batch in hand holds the key
		}
		err = d.guard.save(ctx, it.act.Key, it.prev, it.act.Version, d.cfg.Now())
	}
	switch {
	case errors.Is(err, errNewerStored):
		d.log.Warn("another writer (a process or a batch) delivered a newer version of this key at the same time; Salesforce holds whichever it wrote last",
			"key", it.act.Key, "version", it.act.Version.String())
	case err != nil:
		// Written but not recorded: hand it back, so it is written again
		// (idempotent) and its version stored.
		d.log.Warn("cannot store the delivered version; the record will be written again", "key", it.act.Key, "err", err)
		d.releaseOne(ctx, it)
		return
	}
	d.ord.ended(it)
	d.clearLedger(ctx, it)
	d.win.delivered()
	if it.incomparable {
		d.stats.incomparable.Add(1)
	}
	d.ack(ctx, it, &d.stats.delivered)
}

// supersede settles a record a newer version of its key made moot.
func (d *Deliverer) supersede(ctx context.Context, it *item) {
	d.ord.ended(it)
	d.clearLedger(ctx, it)
	d.ack(ctx, it, &d.stats.superseded)
}

// retry settles a retryable record error: the failure goes to the ledger
// and the record is nacked with backoff, or dead-lettered once the ledger
// holds max_attempts failures.
func (d *Deliverer) retry(ctx context.Context, b *batch, it *item) {
	if d.ord.newerWritten(it) {
		d.supersede(ctx, it) // moot: a newer version is in Salesforce
		return
	}
	history := d.failAttempt(ctx, it, "", it.res.Err)
	if len(history) >= d.cfg.MaxAttempts {
		d.deadLetter(ctx, b, it, dlq.ReasonMaxAttempts, history)
		return
	}
	if err := d.ledger.save(ctx, it.del.ID(), history); err != nil {
		d.log.Warn("cannot record the failed attempt; it will not count", "id", it.del.ID(), "err", err)
	}
	delay := d.cfg.Backoff.Delay(len(history))
	if w := salesforce.Classify(it.res.Err).Wait; w > delay {
		delay = w
	}
	d.ord.delay(it)
	if err := settle(ctx, func(c context.Context) error { return it.del.Nack(c, delay) }); err != nil {
		d.log.Debug("nack failed; the record comes back after the ack wait", "id", it.del.ID(), "err", err)
	}
	it.settled.Store(true)
	d.stats.retried.Add(1)
}

// failAttempt returns the record's failure history with err appended.
func (d *Deliverer) failAttempt(ctx context.Context, it *item, code string, err error) []dlq.Attempt {
	history := d.history(ctx, it)
	a := dlq.Attempt{
		N: len(history) + 1, Delivery: it.del.Attempt(), At: d.cfg.Now().UTC(),
		Class: salesforce.Classify(err).Class.String(), Code: code, Message: err.Error(),
	}
	var re *salesforce.RecordError
	var api *salesforce.APIError
	switch {
	case errors.As(err, &re):
		a.Code, a.Message, a.Fields = re.Code, re.Message, re.Fields
	case errors.As(err, &api):
		a.Code, a.Fields = api.Code, api.Fields
	}
	return append(history, a)
}

// history loads the record's earlier failures. A first delivery has none,
// so the ledger is read only for redeliveries.
func (d *Deliverer) history(ctx context.Context, it *item) []dlq.Attempt {
	if it.del.Attempt() <= 1 {
		return nil
	}
	h, err := d.ledger.load(ctx, it.del.ID())
	if err != nil {
		d.log.Warn("cannot read the record's failed attempts", "id", it.del.ID(), "err", err)
	}
	return h
}

// clearLedger removes the record's failure history, if it has one.
func (d *Deliverer) clearLedger(ctx context.Context, it *item) {
	if it.del.Attempt() <= 1 {
		return
	}
	if h, err := d.ledger.load(ctx, it.del.ID()); err != nil || len(h) == 0 {
		return
	}
	if err := d.ledger.clear(ctx, it.del.ID()); err != nil {
		d.log.Debug("cannot clear the record's failed attempts", "id", it.del.ID(), "err", err)
	}
}

// deadLetter stores the record in the DLQ with its reason and history, then
// terminates the delivery (invariant 2: DLQ, then ack). When the DLQ window
// refuses it, the record is handed back and the sync stops.
func (d *Deliverer) deadLetter(ctx context.Context, b *batch, it *item, reason dlq.Reason, history []dlq.Attempt) {
	if d.ord.newerWritten(it) {
		d.supersede(ctx, it) // moot: a newer version is in Salesforce
		return
	}
	if d.ord != nil && it.decoded {
		if err := d.ord.pin(ctx, it, d.cfg.Now()); err != nil {
			d.log.Error("cannot pin the key of a dead letter in the state store; the record is handed back", "id", it.del.ID(), "err", err)
			d.releaseOne(ctx, it)
			return
		}
	}
	ok, tripped := d.win.admit()
	if tripped {
		d.stopSelf(d.win.describe())
	}
	if !ok {
		d.releaseOne(ctx, it)
		return
	}
	last := history[len(history)-1]
	headers := it.del.Headers()
	delete(headers, dlq.HeaderReplayFor)
	delete(headers, dlq.HeaderReplayOf)
	e := dlq.Entry{
		Sync: d.name, Reason: reason, Code: last.Code, Message: last.Message, Fields: last.Fields,
		Attempts: history, DeadAt: d.cfg.Now().UTC(),
		Subject: it.del.Subject(), MessageID: it.del.ID(), Headers: headers, Published: it.del.Published().UTC(),
		Raw: it.del.Data(),
	}
	if it.decoded {
		e.Record = &dlq.Identity{
			ID: it.rec.ID, Source: it.rec.Source, Collection: it.rec.Collection, Op: string(it.rec.Op),
			Key: it.rec.Key.String(), Version: it.rec.Version.String(),
		}
	}
	if _, err := d.dlq.Put(ctx, e); err != nil {
		d.log.Error("cannot write to the DLQ; the record is handed back", "id", it.del.ID(), "err", err)
		d.releaseOne(ctx, it)
		return
	}
	d.ord.ended(it)
	d.clearLedger(ctx, it)
	if err := settle(ctx, it.del.Term); err != nil {
		d.log.Debug("term failed; the record comes back and its DLQ entry is deduplicated", "id", it.del.ID(), "err", err)
	}
	it.settled.Store(true)
	d.stats.deadLettered.Add(1)
	b.deadLettered(e.Code)
	d.cfg.Alerts.DeadLettered(d.name, e.Code)
}

// ack settles it as done and counts it in c.
func (d *Deliverer) ack(ctx context.Context, it *item, c *atomic.Int64) {
	if err := settle(ctx, it.del.Ack); err != nil {
		d.log.Debug("ack failed; the record comes back after the ack wait", "id", it.del.ID(), "err", err)
		d.ord.delay(it)
	}
	it.settled.Store(true)
	c.Add(1)
}

// releaseOne hands it back without spending an attempt.
func (d *Deliverer) releaseOne(ctx context.Context, it *item) {
	d.ord.delay(it)
	_ = settle(ctx, func(c context.Context) error { return it.del.Nack(c, 0) })
	it.settled.Store(true)
	d.stats.released.Add(1)
}

func (d *Deliverer) releaseAll(ctx context.Context, items []*item) {
	for _, it := range items {
		d.releaseOne(ctx, it)
	}
}

// heartbeat keeps the batch's unsettled deliveries from being redelivered
// (InProgress every sixth of the ack wait) until the returned func is
// called: a slow write, a wait for a key, an outage. With the stream-order
// guard, a heartbeat that fails may have let the broker send a delivery in
// hand again: the guard catches up. A stall of the whole process is the
// watchdog's to notice: two signals to one delivery are at most a third of
// the ack wait apart (a tick, plus a round bounded by the same interval),
// so only a stall of over half the ack wait, which the watchdog sees, lets
// a delivery in hand expire.
func (d *Deliverer) heartbeat(items []*item) (stop func()) {
	every := max(d.cfg.AckWait/6, 5*time.Millisecond)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(d.hardCtx, every)
				failed := false
				for _, it := range items {
					if !it.settled.Load() {
						err := it.del.InProgress(ctx)
						if err != nil && !errors.Is(err, queue.ErrSettled) && !it.settled.Load() {
							failed = true
						}
					}
				}
				cancel()
				if d.ord != nil && failed && d.hardCtx.Err() == nil {
					d.log.Warn("a heartbeat failed: the broker may send the batch's deliveries again; catching up")
					d.ord.doubt()
				}
			}
		}
	}()
	return func() { close(done) }
}

// report logs a batch's dead letters: one line per batch, for a person to
// look at the DLQ.
func (d *Deliverer) report(b *batch) {
	if len(b.dead) == 0 {
		return
	}
	n := 0
	codes := make([]string, 0, len(b.dead))
	for _, code := range slices.Sorted(maps.Keys(b.dead)) {
		n += b.dead[code]
		if code == "" {
			code = "(none)"
		}
		codes = append(codes, code)
	}
	d.log.Warn("records dead-lettered; see sfbridge dlq list --sync "+d.name, "count", n, "codes", strings.Join(codes, ","))
}

// pick returns xs[i] for each i of idx.
func pick(xs []*item, idx []int) []*item {
	out := make([]*item, len(idx))
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

// parallel runs f on every x of xs, at most DefaultKVParallel at once: the
// state-store and broker calls of a batch are round trips worth overlapping.
// A few workers take the items in turn, rather than a goroutine per item:
// each new goroutine grows its stack again for the same calls.
func parallel(xs []*item, f func(*item)) {
	if len(xs) <= 1 {
		for _, x := range xs {
			f(x)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(xs), DefaultKVParallel) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(xs)) {
					return
				}
				f(xs[i])
			}
		})
	}
	wg.Wait()
}

// settleTimeout bounds one ack, nack or term (awaited only with
// natsjs.Config.ConfirmAcks).
const settleTimeout = 10 * time.Second

// settle runs an ack, nack or term. Settling is worth doing even when the
// work is being abandoned (it saves a redelivery after the ack wait) and it
// is cheap, so it outlives ctx, for at most settleTimeout.
func settle(ctx context.Context, op func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	return op(c)
}
