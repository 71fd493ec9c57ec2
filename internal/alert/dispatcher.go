package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/retry"
)

// Webhook retry defaults: 5 tries, 1s doubling (1s, 2s, 4s, 8s between them).
const (
	DefaultTries = 5
)

// DefaultRetry is the backoff between tries of one webhook call.
func DefaultRetry() retry.Policy {
	return retry.Policy{Initial: time.Second, Max: 30 * time.Second, Multiplier: 2}
}

// Options tune a Dispatcher; the zero value is the production one.
type Options struct {
	Logger *slog.Logger
	// HTTPClient sends the webhook calls (default: a client of its own).
	HTTPClient *http.Client
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Retry is the backoff between tries of one call; Tries how many tries
	// a message gets.
	Retry retry.Policy
	Tries int
}

// Dispatcher routes what the delivery loops report to the alert channels.
// Its methods are safe for concurrent use, never block on the network, and
// do nothing on a nil *Dispatcher (alerts not configured).
type Dispatcher struct {
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	trackers []*tracker
	hooks    []*webhook
	wake     chan struct{}

	cancel  context.CancelFunc
	drain   context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// New builds a Dispatcher for the configured alert channels. It checks
// each channel's URL (http or https, with a host) and names the channel of
// every problem, never the URL.
func New(alerts []config.Alert, opts Options) (*Dispatcher, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Retry.Initial == 0 {
		opts.Retry = DefaultRetry()
	}
	if opts.Tries == 0 {
		opts.Tries = DefaultTries
	}
	d := &Dispatcher{log: opts.Logger, now: opts.Now, wake: make(chan struct{}, 1)}
	var errs []error
	for i, a := range alerts {
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("alerts[%d]", i)
		}
		if a.Type != config.AlertWebhook {
			errs = append(errs, fmt.Errorf("alert %s: type %q is not supported (want webhook)", name, a.Type))
			continue
		}
		u, err := url.Parse(a.URL.Reveal())
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("alert %s: url must be an http or https URL with a host", name))
			continue
		}
		timeout := a.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		d.trackers = append(d.trackers, newTracker(a))
		d.hooks = append(d.hooks, &webhook{
			name: name, url: a.URL, timeout: timeout, client: opts.HTTPClient,
			policy: opts.Retry, tries: opts.Tries, log: opts.Logger, wake: make(chan struct{}, 1),
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

// Start runs the senders and the timer that ends DLQ windows and circuit
// thresholds. Messages reported before Start wait for it.
func (d *Dispatcher) Start(ctx context.Context) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return
	}
	d.started = true
	ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	drain, drainCancel := context.WithCancel(context.Background())
	d.drain = drainCancel
	for _, w := range d.hooks {
		d.wg.Go(func() { w.run(ctx, drain) })
	}
	d.wg.Go(func() { d.tick(ctx) })
}

// Stop ends the timer and sends the messages already due, each with one
// try, until ctx ends.
func (d *Dispatcher) Stop(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	if !started {
		return nil
	}
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		d.drain()
		return nil
	case <-ctx.Done():
		d.drain()
		<-done
		return ctx.Err()
	}
}

// tick runs due() when the earliest deadline of any channel passes.
func (d *Dispatcher) tick(ctx context.Context) {
	for {
		d.mu.Lock()
		var next time.Time
		for _, t := range d.trackers {
			if at := t.next(); !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		d.mu.Unlock()
		var timer *time.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(max(next.Sub(d.now()), time.Millisecond))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-fire:
			d.apply(func(t *tracker, now time.Time) []Message { return t.due(now) })
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// apply runs f on every channel's tracker and queues what it returns.
func (d *Dispatcher) apply(f func(*tracker, time.Time) []Message) {
	if d == nil {
		return
	}
	d.mu.Lock()
	now := d.now()
	for i, t := range d.trackers {
		d.hooks[i].enqueue(f(t, now)...)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}: // deadlines may have moved
	default:
	}
}

// DeadLettered reports one record of sync sent to the DLQ with its final
// error code.
func (d *Dispatcher) DeadLettered(sync, code string) {
	d.apply(func(t *tracker, now time.Time) []Message { return t.deadLettered(sync, code, now) })
}

// CircuitOpened reports that sync stopped delivering because Salesforce
// cannot be reached (or refuses calls); cause is the last error. Report it
// again while the outage lasts to update the cause.
func (d *Dispatcher) CircuitOpened(sync, cause string) {
	cause = cut(cause)
	d.apply(func(t *tracker, now time.Time) []Message { return t.circuitOpened(sync, cause, now) })
}

// CircuitClosed reports that sync delivered again.
func (d *Dispatcher) CircuitClosed(sync string) {
	d.apply(func(t *tracker, now time.Time) []Message { return t.circuitClosed(sync, now) })
}

// AuthFailed reports that Salesforce rejected the credentials.
func (d *Dispatcher) AuthFailed(cause string) {
	cause = cut(cause)
	d.apply(func(t *tracker, now time.Time) []Message { return t.authFailed(cause, now) })
}

// AuthRecovered reports that a call with the credentials succeeded.
func (d *Dispatcher) AuthRecovered() {
	d.apply(func(t *tracker, now time.Time) []Message { return t.authRecovered(now) })
}

// SyncStopped reports that sync stopped by itself (e.g. its DLQ window).
func (d *Dispatcher) SyncStopped(sync, reason string) {
	reason = cut(reason)
	d.apply(func(t *tracker, now time.Time) []Message { return t.syncStopped(sync, reason, now) })
}

// SyncStarted reports that sync runs; it resolves an earlier SyncStopped.
func (d *Dispatcher) SyncStarted(sync string) {
	d.apply(func(t *tracker, now time.Time) []Message { return t.syncStarted(sync, now) })
}

// Stats counts one channel's messages.
type Stats struct {
	Name    string `json:"name"`
	Sent    int    `json:"sent"`
	Failed  int    `json:"failed"`
	Dropped int    `json:"dropped"`
	Pending int    `json:"pending"`
}

// Stats returns every channel's counts.
func (d *Dispatcher) Stats() []Stats {
	if d == nil {
		return nil
	}
	out := make([]Stats, len(d.hooks))
	for i, w := range d.hooks {
		w.mu.Lock()
		out[i] = Stats{Name: w.name, Sent: w.sent, Failed: w.failed, Dropped: w.dropped, Pending: len(w.queue)}
		w.mu.Unlock()
	}
	return out
}
