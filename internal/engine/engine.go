package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sfbridge/sfbridge/internal/alert"
	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/metrics"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/state"
	"github.com/sfbridge/sfbridge/internal/state/natskv"
	sfsync "github.com/sfbridge/sfbridge/internal/sync"
	"github.com/sfbridge/sfbridge/internal/web"
)

// Options tune an Engine; the zero value is the daemon's.
type Options struct {
	Logger *slog.Logger
	// Version is shown on the dashboard.
	Version string
	// HTTPClient carries Salesforce and webhook calls (nil: a default with
	// sane timeouts).
	HTTPClient *http.Client
	// Namespace prefixes the queue's streams and the state bucket (tests
	// sharing an external NATS use it).
	Namespace string
	// NoAdmin skips the admin HTTP server (tests that do not need it).
	NoAdmin bool
	// BudgetWait, when set, overrides salesforce.budget_wait: how long the
	// Salesforce client holds calls once the org's daily API allowance is
	// below the reserve, before one probe call. Tests shorten it.
	BudgetWait time.Duration
}

// Engine is one running sfbridge.
type Engine struct {
	cfg  *config.Config
	opts Options
	log  *slog.Logger

	syncs []*sfsync.Sync

	broker  *broker.Broker
	queue   *natsjs.Queue
	state   state.Store
	sf      *salesforce.Client
	alerts  *alert.Dispatcher
	loops   []*deliver.Deliverer
	cons    []queue.Consumer // each loop's durable consumer, for its backlog
	sources []*sourceEntry
	admin   *web.Server
	started time.Time

	mu       sync.Mutex
	notReady string
}

// sourceEntry is a started source with what the dashboard shows of it.
type sourceEntry struct {
	cfg *config.Source
	src source.Source
	pub *countingPublisher
	bp  *backpressure // nil: no flow control
}

// consumersOf returns the consumers of the configured syncs that read the
// named source (not those of removed syncs, still on the broker).
func (e *Engine) consumersOf(source string) []queue.Consumer {
	var out []queue.Consumer
	for i, s := range e.syncs {
		if s.Source() == source {
			out = append(out, e.cons[i])
		}
	}
	return out
}

// New compiles the config (every sync's expressions) and checks what needs
// no I/O. The config must come from config.Load or have passed Validate.
func New(cfg *config.Config, opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Minute} // Salesforce's own request timeout
	}
	syncs, err := sfsync.Compile(cfg)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Sources {
		if s.Type == config.SourcePostgresCDC {
			return nil, fmt.Errorf("sources: %s has type %s, which this build cannot run yet (postgres_poll, files, s3 and http can)", s.Name, s.Type)
		}
	}
	return &Engine{cfg: cfg, opts: opts, log: opts.Logger, syncs: syncs, notReady: "starting"}, nil
}

// Start brings everything up in order; on error it stops what it started.
func (e *Engine) Start(ctx context.Context) (err error) {
	e.started = time.Now()
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = e.Stop(stopCtx)
		}
	}()
	e.broker, err = broker.Open(ctx, broker.Options{URL: e.cfg.NATS.URL.Reveal(), DataDir: e.cfg.DataDir, Logger: e.log})
	if err != nil {
		return err
	}
	if e.queue, err = natsjs.Open(ctx, e.broker, natsjs.Config{Namespace: e.opts.Namespace, Duplicates: e.cfg.Queue.DedupWindow, ConfirmAcks: e.broker.IsEmbedded()}); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if e.state, err = natskv.Open(ctx, e.broker, natskv.Options{Prefix: e.opts.Namespace}); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	sfc := SalesforceConfig(e.cfg.Salesforce, e.log, e.opts.HTTPClient)
	if e.opts.BudgetWait > 0 {
		sfc.BudgetWait = e.opts.BudgetWait
	}
	if e.sf, err = salesforce.New(sfc); err != nil {
		return fmt.Errorf("salesforce: %w", err)
	}
	sink, err := salesforce.NewSink(e.sf, salesforce.SinkConfig{BulkThreshold: e.cfg.Salesforce.BulkThreshold})
	if err != nil {
		return fmt.Errorf("salesforce: %w", err)
	}
	if e.alerts, err = alert.New(e.cfg.Alerts, alert.Options{Logger: e.log, HTTPClient: e.opts.HTTPClient}); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	e.alerts.Start(ctx)

	// Every sync's durable consumer exists before any source publishes.
	for i, s := range e.syncs {
		dc := deliver.Config{Sync: s, Queue: e.queue, State: e.state, Sink: sink, Alerts: e.alerts, Logger: e.log}
		// The embedded broker's store admits one process: no other can
		// deliver this sync, so a sync in stream order needs no per-key
		// guard state (ADR 0004).
		dc.StreamOrder = e.cfg.Delivery.VersionGuard != config.GuardStateStore && e.broker.IsEmbedded() && s.InStreamOrder()
		dc.Apply(e.cfg.Delivery, e.cfg.Syncs[i])
		d, err := deliver.New(dc)
		if err != nil {
			return fmt.Errorf("syncs[%d] %s: %w", i, s.Name(), err)
		}
		c, err := e.queue.Consumer(ctx, d.ConsumerConfig())
		if err != nil {
			return fmt.Errorf("syncs[%d] %s: consumer: %w", i, s.Name(), err)
		}
		e.loops = append(e.loops, d)
		e.cons = append(e.cons, c)
	}
	for _, d := range e.loops {
		if err := d.Start(ctx); err != nil {
			return fmt.Errorf("sync %s: %w", d.Name(), err)
		}
	}
	for i := range e.cfg.Sources {
		sc := &e.cfg.Sources[i]
		pub := &countingPublisher{next: e.queue}
		src, bp, err := e.buildSource(sc, pub, e.log.With("source", sc.Name))
		if err != nil {
			return fmt.Errorf("sources[%d] %s: %w", i, sc.Name, err)
		}
		if err := src.Start(ctx); err != nil {
			return fmt.Errorf("sources[%d] %s: %w", i, sc.Name, err)
		}
		e.sources = append(e.sources, &sourceEntry{cfg: sc, src: src, pub: pub, bp: bp})
	}
	if !e.opts.NoAdmin {
		if err := e.startAdmin(); err != nil {
			return err
		}
	}
	e.setNotReady("")
	return nil
}

func (e *Engine) startAdmin() error {
	mounts := map[string]http.Handler{
		// The admin server checks the token on every mount.
		"/v1/sources/": source.NewTriggerHandler("", e.triggerer),
	}
	srv, err := web.New(web.Options{
		Listen:   e.cfg.Admin.Listen,
		Token:    e.cfg.Admin.Token.Reveal(),
		Provider: e,
		Gatherer: metrics.NewRegistry(e.Status),
		Mounts:   mounts,
		Logger:   e.log,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	e.admin = srv
	return nil
}

func (e *Engine) triggerer(name string) (source.Triggerer, bool) {
	for _, s := range e.sources {
		if s.cfg.Name == name {
			t, ok := s.src.(source.Triggerer)
			return t, ok
		}
	}
	return nil, false
}

// Admin is the admin server (nil before Start or with NoAdmin).
func (e *Engine) Admin() *web.Server { return e.admin }

// Salesforce is the client (nil before Start).
func (e *Engine) Salesforce() *salesforce.Client { return e.sf }

// Queue is the queue (nil before Start). The embedded store admits one
// process at a time, so a running engine's DLQ is read and replayed
// through it (dlq.NewStore).
func (e *Engine) Queue() queue.Queue {
	if e.queue == nil {
		return nil
	}
	return e.queue
}

// Deliverers are the syncs' delivery loops, in config order.
func (e *Engine) Deliverers() []*deliver.Deliverer { return e.loops }

// Stop stops the sources (each finishes its page and saves its
// checkpoint), drains the delivery loops, then closes the broker. It waits
// until ctx ends at most; the first error is returned, every part is
// stopped regardless.
func (e *Engine) Stop(ctx context.Context) error {
	e.setNotReady("stopping")
	var errs []error
	for _, s := range e.sources {
		errs = append(errs, s.src.Stop(ctx))
	}
	for _, d := range e.loops {
		errs = append(errs, d.Stop(ctx))
	}
	if e.alerts != nil {
		errs = append(errs, e.alerts.Stop(ctx))
	}
	if e.admin != nil {
		errs = append(errs, e.admin.Stop(ctx))
	}
	if e.broker != nil {
		errs = append(errs, e.broker.Close())
	}
	return errors.Join(errs...)
}

func (e *Engine) setNotReady(why string) {
	e.mu.Lock()
	e.notReady = why
	e.mu.Unlock()
}

// Ready is nil once Start has finished, and a sync has not stopped by
// itself.
func (e *Engine) Ready() error {
	e.mu.Lock()
	why := e.notReady
	e.mu.Unlock()
	if why != "" {
		return errors.New(why)
	}
	for _, d := range e.loops {
		if err := d.Err(); err != nil {
			return fmt.Errorf("sync %s: %w", d.Name(), err)
		}
	}
	return nil
}
