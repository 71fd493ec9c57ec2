package s3src

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/state"
)

// Defaults of the Options left zero.
const (
	// DefaultBatchSize is the most events published (and confirmed) at
	// once; the object's checkpoint is saved after each batch.
	DefaultBatchSize = 500
	// DefaultFullListEvery makes every 10th listing run a full listing of
	// the prefix (the others start after the last key processed).
	DefaultFullListEvery = 10
	// DefaultSQSWait is the long-polling wait of ReceiveMessage (the most
	// SQS allows).
	DefaultSQSWait = 20 * time.Second
)

// maxBatchBytes bounds the encoded events of one batch, whatever the count.
const maxBatchBytes = 8 << 20

// Options are what a Source needs.
type Options struct {
	// Name is the source's configured name.
	Name string
	// Config is the source's settings, defaults applied (config.Load does).
	Config config.S3
	// Queue receives the records; Publish must return once the broker
	// confirmed every message.
	Queue event.Publisher
	// DLQ receives the bad items (dlq.Store).
	DLQ event.DeadLetters
	// State keeps the per-object checkpoints and marks and the listing's
	// start-after key.
	State state.Store
	// Logger receives what someone must act on. Nil discards.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil): tag values and checkpoint
	// times. A record's time is its object's LastModified, so that reading
	// an object again gives the same records.
	Now func() time.Time

	// Backoff spaces retries of failed runs; a zero Initial means
	// source.DefaultBackoff.
	Backoff retry.Policy
	// BatchSize is the most events per confirmed publish
	// (DefaultBatchSize when zero).
	BatchSize int
	// FullListEvery makes every n-th listing run list the whole prefix
	// instead of starting after the last key processed
	// (DefaultFullListEvery when zero; 1 lists everything every time).
	FullListEvery int
	// SQSWait is the long-polling wait of ReceiveMessage, at most 20s
	// (DefaultSQSWait when zero).
	SQSWait time.Duration
	// MaxAttempts bounds the tries of each AWS request, the SDK's own
	// retries included (0: the SDK's default, 3). The source retries
	// failed runs itself, with Backoff.
	MaxAttempts int
}

// Stats are a source's counters since it was created.
type Stats struct {
	// Objects counts the objects read to the end, every event confirmed,
	// and marked processed (the inputs done).
	Objects int64
	// Events counts the events published: the broker confirmed them.
	Events int64
	// DeadLettered counts the bad items stored in the DLQ.
	DeadLettered int64
	// Quarantined counts the objects moved under quarantine_prefix.
	Quarantined int64
	// Bytes counts the object bytes read, as stored (compressed).
	Bytes int64
	// Listings and FullListings count the listing runs that completed,
	// and of them the full ones.
	Listings     int64
	FullListings int64
	// Failures counts what failed and is retried: an object's processing,
	// a listing run (not for an object's sake), a ReceiveMessage call.
	Failures int64
	// Notifications counts the SQS messages handled and deleted;
	// Malformed those of them that could not be read.
	Notifications int64
	Malformed     int64
}

// Source is an s3 source. Its methods are safe for concurrent use.
type Source struct {
	name          string
	cfg           config.S3
	intake        event.Intake
	state         state.Store
	log           *slog.Logger
	now           func() time.Time
	backoff       retry.Policy
	batchSize     int
	fullListEvery int
	sqsWait       time.Duration
	maxAttempts   int
	maxMsg        int // the queue's largest message; 0: unknown
	skip          []string
	locks         keyLocks

	mu       sync.Mutex
	s3       *s3.Client
	sqs      *sqs.Client
	started  bool
	stopped  bool
	stopping chan struct{}
	// halt ends ReceiveMessage's long poll when Stop is called; cancel
	// ends everything when Stop's context ends.
	halt    context.CancelFunc
	cancel  context.CancelFunc
	trigger chan struct{}
	retries map[string]struct{} // keys whose processing failed: retried first by the next run
	wg      sync.WaitGroup

	objects, events, deadLettered, quarantined, bytes     atomic.Int64
	listings, fullListings, failures, notified, malformed atomic.Int64
}

// New checks opts without I/O and returns the source.
func New(opts Options) (*Source, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3src: source %s: "+format, append([]any{opts.Name}, args...)...))
	}
	if opts.Name == "" {
		errs = append(errs, errors.New("s3src: name is required"))
	}
	if opts.Queue == nil {
		bad("queue is required")
	}
	if opts.DLQ == nil {
		bad("dlq is required")
	}
	if opts.State == nil {
		bad("state is required")
	}
	c := opts.Config
	if c.Bucket == "" {
		bad("bucket is required")
	}
	if c.Every <= 0 {
		bad("every must be positive, got %s", c.Every)
	}
	switch c.Mark {
	case config.MarkState, config.MarkTag:
	case config.MarkMove:
		if c.ProcessedPrefix == "" {
			bad("processed_prefix is required with mark: move")
		}
		if c.ProcessedPrefix != "" && c.ProcessedPrefix == c.QuarantinePrefix {
			bad("processed_prefix and quarantine_prefix are both %q: processed and quarantined objects would mix", c.ProcessedPrefix)
		}
	default:
		bad("mark %q is not state, move or tag", c.Mark)
	}
	if c.QuarantinePrefix == "" {
		bad("quarantine_prefix is required")
	}
	for _, p := range []struct{ name, value string }{{"processed_prefix", c.ProcessedPrefix}, {"quarantine_prefix", c.QuarantinePrefix}} {
		if p.value != "" && strings.HasPrefix(c.Prefix, p.value) {
			bad("prefix %q lies under %s %q: every object would be skipped", c.Prefix, p.name, p.value)
		}
	}
	if _, _, err := event.Detect("x.ndjson", string(c.Format), string(c.Compression)); err != nil {
		bad("%v", err)
	}
	if c.MaxEventBytes < 0 {
		bad("max_event_bytes must not be negative, got %d", int64(c.MaxEventBytes))
	}
	spec := event.Spec{IDField: c.IDField, TypeField: c.TypeField, TimeField: c.TimeField, KeyField: c.KeyField, MaxEventBytes: int(c.MaxEventBytes)}
	if err := spec.Check(); err != nil {
		bad("%v", err)
	}
	if opts.BatchSize < 0 {
		bad("batch size must not be negative, got %d", opts.BatchSize)
	}
	if opts.FullListEvery < 0 {
		bad("full list interval must not be negative, got %d", opts.FullListEvery)
	}
	if opts.SQSWait < 0 || opts.SQSWait > 20*time.Second {
		bad("SQS wait must be from 0 to 20s, got %s", opts.SQSWait)
	}
	if opts.MaxAttempts < 0 {
		bad("max attempts must not be negative, got %d", opts.MaxAttempts)
	}
	if opts.Backoff.Initial != 0 {
		if err := opts.Backoff.Validate(); err != nil {
			bad("backoff: %v", err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	s := &Source{
		name:          opts.Name,
		cfg:           c,
		intake:        event.Intake{Source: opts.Name, Spec: spec, Queue: opts.Queue, DLQ: opts.DLQ, Now: opts.Now},
		state:         opts.State,
		log:           opts.Logger,
		now:           opts.Now,
		backoff:       opts.Backoff,
		batchSize:     orDefault(opts.BatchSize, DefaultBatchSize),
		fullListEvery: orDefault(opts.FullListEvery, DefaultFullListEvery),
		sqsWait:       orDefault(opts.SQSWait, DefaultSQSWait),
		maxAttempts:   opts.MaxAttempts,
		stopping:      make(chan struct{}),
		trigger:       make(chan struct{}, 1),
		retries:       map[string]struct{}{},
		locks:         keyLocks{m: map[string]*keyLock{}},
	}
	for _, p := range []string{c.ProcessedPrefix, c.QuarantinePrefix} {
		if p != "" {
			s.skip = append(s.skip, p)
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", s.name, "bucket", c.Bucket)
	if s.backoff.Initial == 0 {
		s.backoff = source.DefaultBackoff()
	}
	if l, ok := opts.Queue.(source.SizeLimiter); ok {
		s.maxMsg = l.MaxMessageSize()
	}
	return s, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Stats returns the source's counters.
func (s *Source) Stats() Stats {
	return Stats{
		Objects:       s.objects.Load(),
		Events:        s.events.Load(),
		DeadLettered:  s.deadLettered.Load(),
		Quarantined:   s.quarantined.Load(),
		Bytes:         s.bytes.Load(),
		Listings:      s.listings.Load(),
		FullListings:  s.fullListings.Load(),
		Failures:      s.failures.Load(),
		Notifications: s.notified.Load(),
		Malformed:     s.malformed.Load(),
	}
}

// Start implements source.Source: it loads the AWS configuration (region,
// credentials) and lists the bucket once. A missing bucket, denied access,
// a wrong region or no credentials at all is an error; S3 being
// unreachable is logged and left to the runs, which retry with backoff.
// Then it lists the bucket at once and every `every`, and, with
// sqs_queue_url, reads notifications, until Stop.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.stopped {
		s.mu.Unlock()
		return fmt.Errorf("s3src: source %s: Start called twice", s.name)
	}
	s.mu.Unlock()
	s3c, sqsc, err := s.clients(ctx)
	if err != nil {
		return err
	}
	if err := s.check(ctx, s3c); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		cancel()
		return fmt.Errorf("s3src: source %s: stopped while starting: %w", s.name, source.ErrNotRunning)
	}
	haltCtx, halt := context.WithCancel(runCtx)
	s.started, s.cancel, s.halt, s.s3, s.sqs = true, cancel, halt, s3c, sqsc
	s.wg.Add(1)
	go s.loop(runCtx)
	if sqsc != nil {
		s.wg.Add(1)
		go s.notifications(runCtx, haltCtx)
	}
	return nil
}

// Stop implements source.Source: the object in hand finishes its current
// batch (publish, then save its checkpoint) and the source stops; the rest
// of that object is read on the next start. When ctx ends first, the batch
// in hand is abandoned unsaved (read again on the next start).
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	close(s.stopping)
	cancel, halt := s.cancel, s.halt
	s.mu.Unlock()
	if halt != nil {
		halt()
	}

	return source.WaitWorkers(ctx, &s.wg, cancel)
}

// Trigger implements source.Triggerer: a full listing of the prefix runs as
// soon as the run in progress, if any, is over. An s3 source has no
// collections to choose from: collection must be "".
func (s *Source) Trigger(collection string) ([]string, error) {
	s.mu.Lock()
	running := s.started && !s.stopped
	s.mu.Unlock()
	if !running {
		return nil, fmt.Errorf("s3src: source %s: %w", s.name, source.ErrNotRunning)
	}
	if collection != "" {
		return nil, fmt.Errorf("%w %q: source %s lists its whole prefix (trigger it without a table)", source.ErrUnknownCollection, collection, s.name)
	}
	select {
	case s.trigger <- struct{}{}:
	default: // a trigger is already pending: this one merges into it
	}
	return []string{}, nil
}

// loop lists the bucket at once, then every `every` and on triggers, until
// Stop. Every fullListEvery-th run, every triggered run and the run after
// a failed full one list the whole prefix.
func (s *Source) loop(ctx context.Context) {
	defer s.wg.Done()
	next := time.Now()
	failures := 0
	runs := 0
	fullPending := false
	for {
		timer := time.NewTimer(time.Until(next))
		triggered := false
		select {
		case <-s.stopping:
			timer.Stop()
			return
		case <-s.trigger:
			triggered = true
		case <-timer.C:
		}
		timer.Stop()
		full := triggered || fullPending || runs%s.fullListEvery == 0
		runs++
		start := time.Now()
		err := s.run(ctx, full)
		end := time.Now()
		next = start.Add(s.cfg.Every)
		if next.Before(end) {
			next = end
		}
		if err == nil {
			if failures > 0 {
				s.log.Info("s3: bucket listed again after failures", "failures", failures)
			}
			failures, fullPending = 0, false
			continue
		}
		if s.isStopping() {
			return
		}
		fullPending = fullPending || full
		failures++
		if oe := (*objectError)(nil); !errors.As(err, &oe) {
			s.failures.Add(1) // an object's failure was counted already
		}
		if retryAt := end.Add(s.backoff.Delay(failures)); retryAt.Before(next) {
			next = retryAt
		}
		s.log.Warn("s3: listing run failed; retrying", "err", err, "attempt", failures, "full", full,
			"retry_in", time.Until(next).Round(time.Millisecond).String())
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

// addRetry remembers a key whose processing failed, for the next run.
func (s *Source) addRetry(key string) {
	s.mu.Lock()
	s.retries[key] = struct{}{}
	s.mu.Unlock()
}

// takeRetries returns the keys to retry and forgets them.
func (s *Source) takeRetries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.retries))
	for k := range s.retries {
		out = append(out, k)
	}
	clear(s.retries)
	return out
}

// keyLocks serialises the processing of one key (a listing run and a
// notification may ask for the same object at once).
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock.
func (k *keyLocks) lock(key string) func() {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

var (
	_ source.Source    = (*Source)(nil)
	_ source.Triggerer = (*Source)(nil)
)
