package pgpoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/state"
)

// Publisher is the part of queue.Queue a source uses. Publish returns nil
// only once the broker stored every message. When it also has
// MaxMessageSize (queue.Queue does), a row whose record would be larger is
// logged and passed instead of failing every run of its table.
type Publisher interface {
	Publish(ctx context.Context, msgs ...queue.Message) error
}

// Options are what a Source needs.
type Options struct {
	// Name is the source's configured name.
	Name string
	// Config is the source's settings, defaults applied (config.Load does).
	Config config.PostgresPoll
	// Queue receives the records.
	Queue Publisher
	// State keeps the watermarks.
	State state.Store
	// Logger receives what someone must act on. Nil discards.
	Logger *slog.Logger
	// Backoff spaces retries of failed runs; a zero Initial means
	// source.DefaultBackoff.
	Backoff retry.Policy
	// Backpressure, when set, is flow control: it is called before each
	// page is published and returns once publishing may go on (nil), or
	// with an error when ctx ends. ctx also ends when the source stops;
	// the page is then left unpublished and its watermark unsaved, to be
	// read again by the next run. It is called with no transaction open
	// and no connection held, from each table's goroutine at once.
	Backpressure func(ctx context.Context) error
}

// Source is a postgres_poll source. Its methods are safe for concurrent use.
type Source struct {
	name    string
	cfg     config.PostgresPoll
	queue   Publisher
	state   state.Store
	log     *slog.Logger
	backoff retry.Policy
	sched   Schedule
	tables  []*tableConfig
	runMu   map[string]*sync.Mutex // one run at a time per table
	maxMsg  int                    // the queue's largest message; 0: unknown
	// backpressure is Options.Backpressure; stopCtx ends at Stop, to end
	// its wait.
	backpressure func(ctx context.Context) error
	stopCtx      context.Context
	stopNow      context.CancelFunc

	mu       sync.Mutex
	pool     *pgxpool.Pool
	started  bool
	stopped  bool
	stopping chan struct{}
	cancel   context.CancelFunc
	triggers map[string]chan struct{}
	wg       sync.WaitGroup

	// afterBound, when set (tests), runs after a run read its upper bound.
	afterBound func()
}

// New checks opts without I/O and returns the source.
func New(opts Options) (*Source, error) {
	var errs []error
	if opts.Name == "" {
		errs = append(errs, errors.New("pgpoll: name is required"))
	}
	if opts.Queue == nil || opts.State == nil {
		errs = append(errs, errors.New("pgpoll: queue and state are required"))
	}
	if opts.Config.DSN.IsZero() {
		errs = append(errs, errors.New("pgpoll: dsn is required"))
	}
	if opts.Config.PoolSize < 1 {
		errs = append(errs, fmt.Errorf("pgpoll: pool_size must be at least 1, got %d", opts.Config.PoolSize))
	}
	if opts.Config.StatementTimeout < 0 {
		errs = append(errs, fmt.Errorf("pgpoll: statement_timeout must not be negative, got %s", opts.Config.StatementTimeout))
	}
	sched, err := ParseSchedule(opts.Config.Every, opts.Config.Schedule)
	if err != nil {
		errs = append(errs, fmt.Errorf("pgpoll: %w", err))
	}
	if len(opts.Config.Tables) == 0 {
		errs = append(errs, errors.New("pgpoll: at least one table is required"))
	}
	s := &Source{
		name:    opts.Name,
		cfg:     opts.Config,
		queue:   opts.Queue,
		state:   opts.State,
		log:     opts.Logger,
		backoff: opts.Backoff,
		sched:   sched,
		runMu:   map[string]*sync.Mutex{},

		backpressure: opts.Backpressure,
		stopping:     make(chan struct{}),
		triggers:     map[string]chan struct{}{},
	}
	s.stopCtx, s.stopNow = context.WithCancel(context.Background())
	if l, ok := opts.Queue.(source.SizeLimiter); ok {
		s.maxMsg = l.MaxMessageSize()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", s.name)
	if s.backoff.Initial == 0 {
		s.backoff = source.DefaultBackoff()
	}
	for _, t := range opts.Config.Tables {
		tc, err := newTableConfig(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("pgpoll: %w", err))
			continue
		}
		if _, dup := s.runMu[tc.name]; dup {
			errs = append(errs, fmt.Errorf("pgpoll: table %s is listed twice", tc.name))
			continue
		}
		s.tables = append(s.tables, tc)
		s.runMu[tc.name] = &sync.Mutex{}
		s.triggers[tc.name] = make(chan struct{}, 1)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Tables lists the tables the source reads ("schema.table"), in config order.
func (s *Source) Tables() []string {
	out := make([]string, len(s.tables))
	for i, t := range s.tables {
		out[i] = t.name
	}
	return out
}

// openPool creates the connection pool once. It does not connect:
// connections are opened when a run needs one.
func (s *Source) openPool() (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, fmt.Errorf("pgpoll: source %s: %w", s.name, source.ErrNotRunning)
	}
	if s.pool != nil {
		return s.pool, nil
	}
	pc, err := pgxpool.ParseConfig(s.cfg.DSN.Reveal())
	if err != nil {
		// pgx's message may quote the DSN; never repeat it (it holds the password).
		return nil, fmt.Errorf("pgpoll: source %s: the dsn does not parse as a PostgreSQL connection string", s.name)
	}
	pc.MaxConns = int32(s.cfg.PoolSize)
	pc.MinConns = 0
	pc.MaxConnIdleTime = time.Minute
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if _, set := pc.ConnConfig.RuntimeParams["application_name"]; !set {
		pc.ConnConfig.RuntimeParams["application_name"] = "sfbridge " + s.name
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("pgpoll: source %s: %w", s.name, err)
	}
	s.pool = pool
	return pool, nil
}

// Start implements source.Source: it checks every table (a missing table
// or column, a cursor of the wrong type, a where filter that fails is an
// error naming the table and column), then polls each table on the
// schedule in its own goroutine. When PostgreSQL cannot be reached the
// check is logged and left to the first run, which retries with backoff.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.stopped {
		s.mu.Unlock()
		return fmt.Errorf("pgpoll: source %s: Start called twice", s.name)
	}
	s.mu.Unlock()
	pool, err := s.openPool()
	if err != nil {
		return err
	}
	var problems []error
	for _, tc := range s.tables {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.readTx(cctx, pool, func(tx pgx.Tx) error {
			_, err := tc.describe(cctx, tx)
			return err
		})
		cancel()
		if err != nil && !errors.Is(err, errSchema) {
			// Unreachable, most likely: the other tables would wait as long.
			s.log.Warn("postgres_poll: cannot check the tables now; each run checks its table", "table", tc.name, "err", err)
			break
		}
		if err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		s.closePool()
		return fmt.Errorf("pgpoll: source %s: %w", s.name, errors.Join(problems...))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		cancel()
		return fmt.Errorf("pgpoll: source %s: stopped while starting: %w", s.name, source.ErrNotRunning)
	}
	s.started, s.cancel = true, cancel
	for _, tc := range s.tables {
		s.wg.Add(1)
		go s.loop(runCtx, tc)
	}
	return nil
}

// Stop implements source.Source: a run in progress (scheduled, triggered or
// started with Run) finishes its current page (publish, then save the
// watermark) and the source stops; when ctx ends first, scheduled runs are
// cancelled, their page abandoned unsaved (re-read on the next start).
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	close(s.stopping)
	s.stopNow() // a page waiting on Backpressure is abandoned
	cancel := s.cancel
	s.mu.Unlock()

	err := source.WaitWorkers(ctx, &s.wg, cancel)
	// Runs started with Run (not by the schedule) stop after their page
	// too; wait for them while ctx allows.
	for _, tc := range s.tables {
		idle := make(chan struct{})
		go func(mu *sync.Mutex) { mu.Lock(); mu.Unlock(); close(idle) }(s.runMu[tc.name])
		select {
		case <-idle:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.closePool()
	return err
}

func (s *Source) closePool() {
	s.mu.Lock()
	pool := s.pool
	s.pool = nil
	s.mu.Unlock()
	if pool != nil {
		pool.Close()
	}
}

// Trigger implements source.Triggerer. collection is "schema.table", a bare
// "table" (public.table), or "" for every table.
func (s *Source) Trigger(collection string) ([]string, error) {
	s.mu.Lock()
	running := s.started && !s.stopped
	s.mu.Unlock()
	if !running {
		return nil, fmt.Errorf("pgpoll: source %s: %w", s.name, source.ErrNotRunning)
	}
	var names []string
	if collection == "" {
		names = s.Tables()
	} else {
		name, err := s.resolve(collection)
		if err != nil {
			return nil, err
		}
		names = []string{name}
	}
	for _, n := range names {
		select {
		case s.triggers[n] <- struct{}{}:
		default: // a trigger is already pending: this one merges into it
		}
	}
	return names, nil
}

// resolve maps a collection as a user writes it to a configured table.
func (s *Source) resolve(collection string) (string, error) {
	name := collection
	if !strings.Contains(name, ".") {
		name = "public." + name
	}
	if _, ok := s.runMu[name]; !ok {
		return "", fmt.Errorf("%w %q: source %s reads %s", source.ErrUnknownCollection, collection, s.name, strings.Join(s.Tables(), ", "))
	}
	return name, nil
}

// loop runs one table on the schedule and on triggers until Stop.
func (s *Source) loop(ctx context.Context, tc *tableConfig) {
	defer s.wg.Done()
	log := s.log.With("table", tc.name)
	now := time.Now()
	next := now
	if !s.sched.Immediate() {
		next = s.sched.Next(now, now)
	}
	failures := 0
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-s.stopping:
			timer.Stop()
			return
		case <-s.triggers[tc.name]:
		case <-timer.C:
		}
		timer.Stop()
		start := time.Now()
		stats, err := s.Run(ctx, tc.name)
		end := time.Now()
		next = s.sched.Next(start, end)
		if err == nil {
			if failures > 0 {
				log.Info("postgres_poll: table read again after failures", "failures", failures, "rows", stats.Rows)
			}
			failures = 0
			continue
		}
		if s.isStopping() {
			return
		}
		failures++
		delay := s.backoff.Delay(failures)
		if retryAt := end.Add(delay); retryAt.Before(next) {
			next = retryAt
		}
		attrs := []any{"err", err, "attempt", failures, "retry_in", time.Until(next).Round(time.Millisecond).String(), "published", stats.Published}
		if unavailable(err) {
			log.Warn("postgres_poll: postgres unreachable; retrying", attrs...)
		} else {
			log.Error("postgres_poll: run failed; retrying", attrs...)
		}
	}
}

func (s *Source) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

var (
	_ source.Source    = (*Source)(nil)
	_ source.Triggerer = (*Source)(nil)
)
