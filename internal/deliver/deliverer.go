package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sfbridge/sfbridge/internal/alert"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/state"
	sfsync "github.com/sfbridge/sfbridge/internal/sync"
)

// Defaults of Config, beside those of config.Delivery.
const (
	DefaultBatchSize   = 200
	DefaultLinger      = 100 * time.Millisecond
	DefaultConcurrency = 2
	DefaultMaxAttempts = 10
	DefaultAckWait     = 60 * time.Second
	// DefaultIdlePoll is how long one fetch waits for the first record of a
	// batch when the queue is empty.
	DefaultIdlePoll = time.Second
	// DefaultKVParallel bounds the state-store calls one batch makes at once.
	DefaultKVParallel = 16
)

// DefaultCircuit is the circuit breaker's backoff between probes: 1s
// doubling to 1m, with jitter.
func DefaultCircuit() retry.Policy {
	p := retry.Default()
	p.Initial, p.Max = time.Second, time.Minute
	return p
}

// ErrStopped is returned (wrapped) by Err when the sync stopped by itself:
// its DLQ window tripped.
var ErrStopped = errors.New("sync stopped")

// Config is what a Deliverer needs. Sync, Queue, State and Sink are
// required; the rest has defaults.
type Config struct {
	// Sync maps records to actions (internal/sync).
	Sync *sfsync.Sync
	// Queue is the bus; the Deliverer creates (or updates) the sync's
	// durable consumer on it and writes dead letters to its DLQ.
	Queue queue.Queue
	// State holds the version guard and the attempt ledger.
	State state.Store
	// Sink writes to Salesforce.
	Sink *salesforce.Sink
	// StreamOrder says that the sync's records of a key arrive in the order
	// of their versions (Sync.InStreamOrder) and that this process is the
	// only one delivering the sync (the embedded broker). The version guard
	// then keeps no state-store entry per key: see streamOrder and ADR 0004.
	// Off, every record is checked against and stored in the state store.
	StreamOrder bool

	// BatchSize is the most records fetched and written at once.
	BatchSize int
	// Linger is how long a batch waits for more records once it has one.
	Linger time.Duration
	// IdlePoll is how long a fetch waits for the first record.
	IdlePoll time.Duration
	// Concurrency is the batches in flight (workers on the one consumer).
	Concurrency int
	// MaxAttempts is how many record-level failures send a record to the
	// DLQ.
	MaxAttempts int
	// Backoff is the delay before a failed record is retried (by its
	// failure count); a longer Retry-After from Salesforce wins.
	Backoff retry.Policy
	// Window is the DLQ window; Size 0 turns it off.
	Window config.DLQWindow
	// AckWait is the consumer's ack wait: records in hand are kept alive
	// (InProgress) every third of it.
	AckWait time.Duration
	// MaxInFlight bounds the consumer's unsettled deliveries (default
	// max(1000, 2 × Concurrency × BatchSize)).
	MaxInFlight int
	// Circuit is the backoff between probes while Salesforce is out.
	Circuit retry.Policy
	// Probe checks whether Salesforce answers again (default: the sink
	// client's Limits call, one API call).
	Probe func(ctx context.Context) error
	// Alerts receives what people must hear about; nil sends none.
	Alerts *alert.Dispatcher
	Logger *slog.Logger
	// Now is the clock (tests inject one).
	Now func() time.Time
}

// Apply sets the delivery settings of the config file: delivery's, with
// the sync's batch_size and concurrency overrides.
func (c *Config) Apply(d config.Delivery, s config.Sync) {
	c.BatchSize = d.BatchSize
	if s.BatchSize > 0 {
		c.BatchSize = s.BatchSize
	}
	c.Concurrency = d.Concurrency
	if s.Concurrency > 0 {
		c.Concurrency = s.Concurrency
	}
	c.Linger = d.Linger
	c.MaxAttempts = d.MaxAttempts
	c.Backoff = retry.Default()
	if d.Backoff.Initial > 0 {
		c.Backoff.Initial = d.Backoff.Initial
	}
	if d.Backoff.Max > 0 {
		c.Backoff.Max = d.Backoff.Max
	}
	c.Window = d.DLQWindow
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.IdlePoll == 0 {
		c.IdlePoll = DefaultIdlePoll
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Backoff.Initial == 0 {
		c.Backoff = retry.Default()
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = max(1000, 2*c.Concurrency*c.BatchSize)
	}
	if c.Circuit.Initial == 0 {
		c.Circuit = DefaultCircuit()
	}
	if c.Probe == nil && c.Sink != nil {
		client := c.Sink.Client()
		c.Probe = func(ctx context.Context) error {
			_, err := client.Limits(ctx)
			return err
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem of c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Sync == nil {
		bad("sync: required")
	}
	if c.Queue == nil {
		bad("queue: required")
	}
	if c.State == nil {
		bad("state: required")
	}
	if c.Sink == nil {
		bad("sink: required")
	}
	if c.BatchSize < 1 {
		bad("batch_size: must be at least 1, got %d", c.BatchSize)
	}
	if c.Linger < 0 {
		bad("linger: must not be negative, got %s", c.Linger)
	}
	if c.Concurrency < 1 {
		bad("concurrency: must be at least 1, got %d", c.Concurrency)
	}
	if c.MaxAttempts < 1 {
		bad("max_attempts: must be at least 1, got %d", c.MaxAttempts)
	}
	if err := c.Backoff.Validate(); err != nil {
		bad("backoff: %v", err)
	}
	if err := c.Circuit.Validate(); err != nil {
		bad("circuit: %v", err)
	}
	if c.Window.Size < 0 || c.Window.Size > 0 && (c.Window.Threshold <= 0 || c.Window.Threshold > 100) {
		bad("dlq_window: size must be ≥ 0 and threshold in (0%%, 100%%], got %d and %s", c.Window.Size, c.Window.Threshold)
	}
	if c.AckWait < 10*time.Millisecond {
		bad("ack_wait: must be at least 10ms, got %s", c.AckWait)
	}
	if c.MaxInFlight < c.BatchSize*c.Concurrency {
		bad("max_in_flight: %d is below batch_size × concurrency (%d)", c.MaxInFlight, c.BatchSize*c.Concurrency)
	}
	if err := errors.Join(errs...); err != nil {
		name := "?"
		if c.Sync != nil {
			name = c.Sync.Name()
		}
		return fmt.Errorf("deliver: sync %s: %w", name, err)
	}
	return nil
}

// Deliverer is one sync's delivery loop: Concurrency workers on the sync's
// durable consumer. See the package doc.
type Deliverer struct {
	cfg    Config
	name   string
	log    *slog.Logger
	dlq    *dlq.Store
	guard  *guard
	ord    *streamOrder // nil unless Config.StreamOrder
	ledger *ledger
	keys   *keyLocks
	circ   *circuit
	win    *window
	stats  counters

	authFailing atomic.Bool
	fetchFailed atomic.Bool

	mu      sync.Mutex
	started bool
	cons    queue.Consumer
	stopCtx context.Context // cancelled when the loop must stop fetching
	stop    context.CancelFunc
	hardCtx context.Context // cancelled when in-flight work must be abandoned
	abandon context.CancelFunc
	done    chan struct{}
	err     error
}

// New checks cfg and returns a Deliverer. It does no I/O.
func New(cfg Config) (*Deliverer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	name := cfg.Sync.Name()
	d := &Deliverer{
		cfg:    cfg,
		name:   name,
		log:    cfg.Logger.With("sync", name),
		dlq:    dlq.NewStore(cfg.Queue),
		guard:  newGuard(cfg.State, name),
		ledger: newLedger(cfg.State, name),
		keys:   newKeyLocks(),
		circ:   newCircuit(cfg.Circuit),
		win:    newWindow(cfg.Window),
		done:   make(chan struct{}),
	}
	if cfg.StreamOrder {
		d.ord = newStreamOrder(cfg.State, name, cfg.AckWait)
	}
	return d, nil
}

// Name is the sync's name.
func (d *Deliverer) Name() string { return d.name }

// ConsumerConfig is the durable consumer the Deliverer uses. The engine may
// create it before starting the sources, so that no record published in
// between is lost to interest retention.
func (d *Deliverer) ConsumerConfig() queue.ConsumerConfig {
	return queue.ConsumerConfig{
		Name:        d.name,
		Subject:     d.cfg.Sync.Subject(),
		AckWait:     d.cfg.AckWait,
		MaxInFlight: d.cfg.MaxInFlight,
	}
}

// Start creates or updates the sync's durable consumer and runs the
// workers and the circuit's prober until Stop, ctx's end, or the DLQ window
// trips. It returns the consumer's error, if any; it may be called once.
func (d *Deliverer) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return fmt.Errorf("deliver: sync %s: already started", d.name)
	}
	cons, err := d.cfg.Queue.Consumer(ctx, d.ConsumerConfig())
	if err != nil {
		return fmt.Errorf("deliver: sync %s: %w", d.name, err)
	}
	if d.ord != nil {
		st, err := cons.Stats(ctx)
		if err != nil {
			return fmt.Errorf("deliver: sync %s: %w", d.name, err)
		}
		last, err := d.cfg.Queue.LastPosition(ctx) // after the stats: at least what they saw
		if err != nil {
			return fmt.Errorf("deliver: sync %s: %w", d.name, err)
		}
		if err := d.ord.load(ctx, st, last); err != nil {
			return fmt.Errorf("deliver: sync %s: the stream-order guard's state: %w", d.name, err)
		}
		if err := d.pinDeadLetters(ctx); err != nil {
			return fmt.Errorf("deliver: sync %s: pinning the keys of its dead letters: %w", d.name, err)
		}
	} else if err := unmark(ctx, d.cfg.State, d.name); err != nil {
		// The next start in stream order must catch up on what this run
		// leaves in the queue (replays of keys it does not pin).
		return fmt.Errorf("deliver: sync %s: removing the stream-order marker: %w", d.name, err)
	}
	d.started = true
	d.cons = cons
	d.stopCtx, d.stop = context.WithCancel(ctx)
	d.hardCtx, d.abandon = context.WithCancel(context.WithoutCancel(ctx))
	d.cfg.Alerts.SyncStarted(d.name)
	var wg sync.WaitGroup
	for range d.cfg.Concurrency {
		wg.Go(d.work)
	}
	wg.Go(d.probe)
	if d.ord != nil {
		d.ord.beat.Store(time.Now().UnixNano()) // the start's own work is no lapse
		wg.Go(d.catchUp)
		wg.Go(d.watchdog)
	}
	go func() {
		wg.Wait()
		d.abandon()
		close(d.done)
	}()
	return nil
}

// Stop stops fetching, lets the batches in hand finish and settle (records
// held during an outage are handed back to the broker without spending an
// attempt), and waits for the workers. When ctx ends first, the work in
// hand is abandoned (its records come back after the ack wait) and Stop
// returns ctx's error.
func (d *Deliverer) Stop(ctx context.Context) error {
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	if !started {
		return nil
	}
	d.stop()
	select {
	case <-d.done:
		if d.ord != nil {
			// A clean stop: the next start need not catch up.
			if err := d.ord.mark(ctx); err != nil {
				d.log.Warn("cannot note the clean stop in the state store; the next start catches up", "err", err)
			}
		}
		return nil
	case <-ctx.Done():
		d.abandon()
		<-d.done
		return ctx.Err()
	}
}

// Done is closed once the loop has ended (Stop, or stopped by itself).
func (d *Deliverer) Done() <-chan struct{} { return d.done }

// Err says why the loop stopped by itself (wrapping ErrStopped), or nil.
func (d *Deliverer) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// stopSelf ends the loop from inside (the DLQ window tripped).
func (d *Deliverer) stopSelf(reason string) {
	d.mu.Lock()
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", ErrStopped, d.name, reason)
	}
	d.mu.Unlock()
	d.log.Error("sync stopped; restart sfbridge once the cause is fixed", "reason", reason)
	d.cfg.Alerts.SyncStopped(d.name, reason)
	d.stop()
}

// catchUp runs beside the workers of a stream-order sync: while the guard
// is catching up (deliveries an earlier process left unsettled, or one that
// reached no one), it watches the consumer's ack floor until they are
// settled (streamOrder.caughtUp).
func (d *Deliverer) catchUp() {
	every := max(min(d.cfg.AckWait/4, time.Second), 10*time.Millisecond)
	logged := false
	for {
		if d.ord.catchingUp.Load() {
			if !logged {
				d.log.Info("deliveries left unsettled by an earlier process, or lost on their way, will come back; every record is checked against the state store until they are settled")
				logged = true
			}
			// With intake held, no fetch is under way: a delivery the broker
			// sent before the read has been observed (a doubt, or registered).
			d.ord.intake.Lock()
			seen := d.ord.doubtCount()
			ctx, cancel := context.WithTimeout(d.stopCtx, every)
			st, err := d.cons.Stats(ctx)
			cancel()
			d.ord.intake.Unlock()
			if err == nil && d.ord.caughtUp(st, seen) {
				d.log.Info("the deliveries that were to come back are settled")
				logged = false
			}
		}
		if d.stopCtx.Err() != nil {
			return
		}
		sleep(d.stopCtx, every)
	}
}

// watchdog beats for the stream-order guard (streamOrder.tick): on its own,
// so that nothing but the process being paused or starved delays it.
func (d *Deliverer) watchdog() {
	every := max(min(d.cfg.AckWait/10, 100*time.Millisecond), time.Millisecond)
	for {
		if d.ord.tick(time.Now()) {
			d.log.Warn("the process was paused or starved for over half the ack wait; the broker may send deliveries in hand again, so the guard catches up")
		}
		if d.stopCtx.Err() != nil {
			return
		}
		sleep(d.stopCtx, every)
	}
}

// pinDeadLetters pins the keys of the sync's dead letters already in the
// DLQ (written before the sync was in stream order, or by an older
// sfbridge), so that a replay of one finds what was written since.
func (d *Deliverer) pinDeadLetters(ctx context.Context) error {
	now := d.cfg.Now()
	return d.dlq.Each(ctx, dlq.Filter{Sync: d.name}, func(e dlq.Item) (bool, error) {
		if e.Err != nil {
			return true, nil // an entry that cannot be read cannot be replayed either
		}
		rec, err := record.Decode(e.Entry.Raw)
		if err != nil {
			return true, nil // undecodable: a replay cannot give it a key
		}
		it := &item{rec: rec, decoded: true}
		if act, err := d.cfg.Sync.Map(rec); err == nil && act.Kind != sfsync.Skip {
			it.act = act
		}
		return true, d.ord.pin(ctx, it, now)
	})
}

// work is one worker: wait for a closed circuit, fetch, process, repeat.
// With the stream-order guard, a worker holds the intake from its fetch
// until its batch's keys are registered.
func (d *Deliverer) work() {
	admitted := func() {}
	for {
		if err := d.circ.waitClosed(d.stopCtx); err != nil {
			return
		}
		if d.ord != nil {
			d.ord.intake.Lock()
			admitted = d.ord.intake.Unlock
		}
		ds, err := d.fetch()
		stopped := d.stopCtx.Err() != nil // read once: a stop between two reads must not skip admitted
		if d.ord != nil {
			switch gap, stray := d.ord.observe(ds); {
			case gap:
				d.stats.gaps.Add(1)
				d.log.Warn("a delivery reached no one (a fetch gave up as it was sent); until it is back and settled, every record is checked against the state store")
			case stray:
				d.stats.gaps.Add(1)
				d.log.Warn("a delivery came back that this process did not hand back (its ack wait ran out); until the others of its time are settled, every record is checked against the state store")
			}
		}
		if stopped || err != nil || len(ds) == 0 {
			admitted()
		}
		if stopped {
			release(d.hardCtx, ds)
			d.stats.released.Add(int64(len(ds)))
			d.stats.received.Add(int64(len(ds)))
			return
		}
		if err != nil {
			if !d.fetchFailed.Swap(true) {
				d.log.Warn("cannot fetch from the queue; retrying", "err", err)
			}
			sleep(d.stopCtx, time.Second)
			continue
		}
		if d.fetchFailed.Swap(false) {
			d.log.Info("fetching from the queue again")
		}
		if len(ds) > 0 {
			d.process(ds, admitted)
		}
	}
}

// fetch gets a batch: it waits up to IdlePoll for a first record, then up
// to Linger for the rest of the batch.
func (d *Deliverer) fetch() ([]queue.Delivery, error) {
	first, err := d.cons.Fetch(d.stopCtx, 1, d.cfg.IdlePoll)
	if err != nil || len(first) == 0 || d.cfg.BatchSize == 1 {
		return first, err
	}
	rest, err := d.cons.Fetch(d.stopCtx, d.cfg.BatchSize-1, max(d.cfg.Linger, time.Millisecond))
	if err != nil {
		if d.stopCtx.Err() == nil {
			err = nil // the first record is good; the next fetch sees the error
		}
	}
	return append(first, rest...), err
}

// release hands deliveries back for immediate redelivery without spending
// an attempt (the ledger is not touched).
func release(ctx context.Context, ds []queue.Delivery) {
	for _, del := range ds {
		_ = settle(ctx, func(c context.Context) error { return del.Nack(c, 0) })
	}
}

// probe runs the circuit's probes while it is open.
func (d *Deliverer) probe() {
	for {
		watch := d.circ.watch()
		due, wait := d.circ.probeDue(d.cfg.Now())
		if due {
			ctx, cancel := context.WithTimeout(d.stopCtx, max(d.cfg.AckWait/2, time.Second))
			err := d.cfg.Probe(ctx)
			cancel()
			if d.stopCtx.Err() != nil {
				return
			}
			v := salesforce.Classify(err)
			d.circ.probed(d.cfg.Now(), err, v.Wait)
			if err != nil {
				d.noteOutage(err, false)
			}
			continue
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-d.stopCtx.Done():
		case <-watch:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if d.stopCtx.Err() != nil {
			return
		}
	}
}

// noteOutage logs and reports an outage error; first is true when it
// opened an episode.
func (d *Deliverer) noteOutage(err error, first bool) {
	auth := isAuthFailure(err)
	if auth {
		if !d.authFailing.Swap(true) {
			d.log.Error("Salesforce rejected the credentials; delivery is paused until they work", "err", err)
		}
		d.cfg.Alerts.AuthFailed(err.Error())
	}
	if first {
		if salesforce.Classify(err).Class == salesforce.ClassFatal && !auth {
			d.log.Error("Salesforce refuses every write (configuration or org state); delivery paused, no attempts spent, records wait until it is fixed", "err", err)
		} else {
			d.log.Warn("Salesforce unavailable; delivery paused, no attempts spent", "err", err)
		}
	}
	d.cfg.Alerts.CircuitOpened(d.name, err.Error())
}

// noteSuccess reports that a write reached Salesforce.
func (d *Deliverer) noteSuccess() {
	if ended, since := d.circ.success(); ended {
		d.log.Info("Salesforce available again; delivery resumed", "outage", d.cfg.Now().Sub(since).Round(time.Second))
		d.cfg.Alerts.CircuitClosed(d.name)
	}
	if d.authFailing.Swap(false) {
		d.cfg.Alerts.AuthRecovered()
	}
}

// isAuthFailure reports an error about sfbridge's credentials or session
// (as opposed to Salesforce being down).
func isAuthFailure(err error) bool {
	var api *salesforce.APIError
	if !errors.As(err, &api) {
		return false
	}
	if api.HTTPStatus == 401 {
		return true
	}
	switch salesforce.Classify(err).Class {
	case salesforce.ClassReauth:
		return true
	case salesforce.ClassFatal:
		switch normCode(api.Code) {
		case "INVALIDGRANT", "INVALIDCLIENTID", "INVALIDCLIENT", "UNSUPPORTEDGRANTTYPE", "INACTIVEUSER", "INACTIVEORG",
			"INVALIDSESSIONID", "INVALIDAUTHHEADER", "INVALIDOPERATIONWITHEXPIREDPASSWORD":
			return true
		}
	}
	return false
}

func normCode(code string) string {
	b := make([]byte, 0, len(code))
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '_':
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
