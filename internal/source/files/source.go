package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/state"
)

// Defaults of the Options left zero.
const (
	// DefaultBatchEvents is the most events (and bad items) per confirmed
	// publish and checkpoint.
	DefaultBatchEvents = 500
	// DefaultBatchBytes bounds a batch by the bytes of its events as read.
	DefaultBatchBytes = 1 << 20
)

// Options are what a Source needs.
type Options struct {
	// Name is the source's configured name.
	Name string
	// Config is the source's settings, defaults applied (config.Load does).
	Config config.Files
	// Queue receives the records; Publish must return once the broker
	// confirmed every message.
	Queue event.Publisher
	// DLQ receives the bad items (dlq.Store).
	DLQ event.DeadLetters
	// State keeps the per-file checkpoints.
	State state.Store
	// Logger receives what someone must act on. Nil discards.
	Logger *slog.Logger
	// Now is the clock of timestamps (time.Now when nil): DLQ entries and
	// .error files. A record's time is its file's modification time, so
	// that reading a file again gives the same records; settle and backoff
	// are measured on the monotonic clock.
	Now func() time.Time

	// Backoff spaces retries of failed attempts; a zero Initial means
	// source.DefaultBackoff.
	Backoff retry.Policy
	// BatchEvents is the most items per confirmed publish and checkpoint
	// (DefaultBatchEvents when zero).
	BatchEvents int
	// BatchBytes bounds a batch by the bytes of its items as read
	// (DefaultBatchBytes when zero).
	BatchBytes int
	// Backpressure, when set, is flow control: it is called before each
	// batch is published and returns once publishing may go on (nil), or
	// with an error when ctx ends. ctx also ends when the source stops;
	// the batch is then left unpublished and its checkpoint unsaved, and
	// the file is finished from the previous checkpoint on the next start.
	Backpressure func(ctx context.Context) error
}

// Stats are a source's counters since it was created.
type Stats struct {
	// Files counts the files read to the end, every event confirmed and
	// every bad item dead-lettered, then moved or deleted (the inputs done).
	Files int64
	// Events counts the events published: the broker confirmed them. A
	// batch sent again after a failure counts again.
	Events int64
	// DeadLettered counts the bad items stored in the DLQ.
	DeadLettered int64
	// Quarantined counts the files moved to quarantine_dir.
	Quarantined int64
	// Bytes counts the file bytes read, as stored (compressed).
	Bytes int64
	// Failures counts the attempts that failed and are retried (the queue,
	// DLQ or state store unreachable; a file that could not be moved).
	Failures int64
	// Pending is the number of files seen and not yet taken (waiting to
	// settle, still being written, or waiting for a retry).
	Pending int64
	// Watching says the folder is watched with inotify; false means it is
	// only listed every rescan interval (see the log for why).
	Watching bool
}

// Source is a files source. Its methods are safe for concurrent use.
type Source struct {
	name          string
	cfg           config.Files
	dir           string // the folder, absolute
	processedDir  string // absolute; "" with after: delete
	quarantineDir string // absolute
	// skipNames are the folder's entries that are processed_dir or
	// quarantine_dir.
	skipNames   map[string]bool
	intake      event.Intake
	state       state.Store
	log         *slog.Logger
	now         func() time.Time
	backoff     retry.Policy
	batchEvents int
	batchBytes  int
	maxMsg      int // the queue's largest message; 0: unknown
	// backpressure is Options.Backpressure; stopCtx ends at Stop, to end
	// its wait and the loop.
	backpressure func(ctx context.Context) error
	stopCtx      context.Context
	stopNow      context.CancelFunc

	mu      sync.Mutex
	started bool
	stopped bool
	trigger chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// noWatch (tests) leaves the folder unwatched: listings only.
	noWatch bool

	files, events, deadLettered, quarantined, bytes, failures, pending atomic.Int64
	watching                                                           atomic.Bool
}

// New checks opts without I/O and returns the source.
func New(opts Options) (*Source, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("files: source %s: "+format, append([]any{opts.Name}, args...)...))
	}
	if opts.Name == "" {
		errs = append(errs, errors.New("files: name is required"))
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
	var dir, processed, quarantine string
	if c.Path == "" {
		bad("path is required")
	} else {
		dir = absPath(c.Path)
	}
	if c.Pattern == "" {
		bad("pattern is required (\"*\" takes every name)")
	} else if _, err := filepath.Match(c.Pattern, "x"); err != nil {
		bad("pattern %q: %v", c.Pattern, err)
	}
	if c.Settle < 0 {
		bad("settle must not be negative, got %s", c.Settle)
	}
	if c.Rescan <= 0 {
		bad("rescan must be positive, got %s", c.Rescan)
	}
	switch c.After {
	case config.AfterMove:
		if c.ProcessedDir == "" {
			bad("processed_dir is required with after: move")
		} else if processed = absPath(c.ProcessedDir); processed == dir {
			bad("processed_dir %s is the watched folder itself; it must differ from path", c.ProcessedDir)
		}
	case config.AfterDelete:
	default:
		bad("after %q is not move or delete", c.After)
	}
	if c.QuarantineDir == "" {
		bad("quarantine_dir is required")
	} else if quarantine = absPath(c.QuarantineDir); quarantine == dir {
		bad("quarantine_dir %s is the watched folder itself; it must differ from path", c.QuarantineDir)
	}
	if _, _, err := event.Detect("x.ndjson", string(c.Format), string(c.Compression)); err != nil {
		bad("%v", err)
	}
	if c.MaxEventBytes < 0 {
		bad("max_event_bytes must not be negative, got %d", int64(c.MaxEventBytes))
	}
	spec := event.Spec{IDField: c.IDField, TypeField: c.TypeField, TimeField: c.TimeField, KeyField: c.KeyField, MaxEventBytes: int(c.MaxEventBytes)}
	if err := spec.Check(); err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				bad("%v", e)
			}
		} else {
			bad("%v", err)
		}
	}
	if opts.Backoff.Initial != 0 {
		if err := opts.Backoff.Validate(); err != nil {
			bad("backoff: %v", err)
		}
	}
	if opts.BatchEvents < 0 {
		bad("batch events must not be negative, got %d", opts.BatchEvents)
	}
	if opts.BatchBytes < 0 {
		bad("batch bytes must not be negative, got %d", opts.BatchBytes)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	s := &Source{
		name:          opts.Name,
		cfg:           c,
		dir:           dir,
		processedDir:  processed,
		quarantineDir: quarantine,
		skipNames:     map[string]bool{},
		intake:        event.Intake{Source: opts.Name, Spec: spec, Queue: opts.Queue, DLQ: opts.DLQ, Now: opts.Now},
		state:         opts.State,
		log:           opts.Logger,
		now:           opts.Now,
		backoff:       opts.Backoff,
		batchEvents:   opts.BatchEvents,
		batchBytes:    opts.BatchBytes,
		backpressure:  opts.Backpressure,
		trigger:       make(chan struct{}, 1),
	}
	for _, d := range []string{processed, quarantine} {
		if d != "" && filepath.Dir(d) == dir {
			s.skipNames[filepath.Base(d)] = true
		}
	}
	s.stopCtx, s.stopNow = context.WithCancel(context.Background())
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", s.name)
	if s.backoff.Initial == 0 {
		s.backoff = source.DefaultBackoff()
	}
	if s.batchEvents == 0 {
		s.batchEvents = DefaultBatchEvents
	}
	if s.batchBytes == 0 {
		s.batchBytes = DefaultBatchBytes
	}
	if l, ok := opts.Queue.(source.SizeLimiter); ok {
		s.maxMsg = l.MaxMessageSize()
	}
	return s, nil
}

// absPath cleans p and makes it absolute (relative to the working
// directory); p is returned cleaned when the working directory is unknown.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Dir is the watched folder, absolute.
func (s *Source) Dir() string { return s.dir }

// Start implements source.Source. It fails for what configuration can
// fix: the folder missing or not a directory, or not writable (files are
// moved out of it); processed_dir or quarantine_dir that cannot be
// created, or that are on another filesystem than the folder (files are
// moved by rename). It then watches the folder (when inotify is not
// available it logs why and lists the folder every rescan interval only)
// and takes files in the background until Stop.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.stopped {
		s.mu.Unlock()
		return fmt.Errorf("files: source %s: Start called twice", s.name)
	}
	s.mu.Unlock()
	if err := s.checkDirs(); err != nil {
		return fmt.Errorf("files: source %s: %w", s.name, err)
	}
	// The watch is set before the first listing, so nothing written in
	// between is missed.
	var w *watcher
	if !s.noWatch {
		var err error
		if w, err = newWatcher(s.dir); err != nil {
			s.log.Warn("files: cannot watch the folder; it is listed every rescan interval instead", "path", s.dir, "rescan", s.cfg.Rescan.String(), "err", err)
		}
	}
	s.watching.Store(w != nil)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		cancel()
		if w != nil {
			w.close()
		}
		return fmt.Errorf("files: source %s: stopped while starting: %w", s.name, source.ErrNotRunning)
	}
	s.started, s.cancel = true, cancel
	s.wg.Add(1)
	go s.run(runCtx, w)
	return nil
}

// checkDirs checks the folder and creates processed_dir and
// quarantine_dir.
func (s *Source) checkDirs() error {
	fi, err := os.Stat(s.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("path %s: no such folder (create it, or fix path)", s.dir)
	case err != nil:
		return fmt.Errorf("path %s: %w", s.dir, err)
	case !fi.IsDir():
		return fmt.Errorf("path %s: not a folder", s.dir)
	}
	if err := unix.Access(s.dir, unix.R_OK|unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("path %s: sfbridge needs to read the folder and move files out of it (read, write and search permission): %w", s.dir, err)
	}
	dev := deviceOf(fi)
	check := func(key, d string) error {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("%s %s: %w", key, d, err)
		}
		di, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("%s %s: %w", key, d, err)
		}
		if !di.IsDir() {
			return fmt.Errorf("%s %s: not a folder", key, d)
		}
		if deviceOf(di) != dev {
			return fmt.Errorf("%s %s is on another filesystem than path %s; files are moved there by rename, so it must be on the same one", key, d, s.dir)
		}
		if err := unix.Access(d, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("%s %s: sfbridge needs to move files into it (write and search permission): %w", key, d, err)
		}
		return nil
	}
	var errs []error
	if s.processedDir != "" {
		errs = append(errs, check("processed_dir", s.processedDir))
	}
	errs = append(errs, check("quarantine_dir", s.quarantineDir))
	return errors.Join(errs...)
}

func deviceOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev) // uint32 on some architectures
	}
	return 0
}

// Stop implements source.Source: the file in hand finishes its current
// batch (publish, dead-letter, save the checkpoint) and the source stops;
// the file stays in the folder and is finished from its checkpoint on the
// next start. When ctx ends first, the batch in hand is abandoned unsaved
// (read again on the next start; the broker drops what it stored).
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.stopNow()
	cancel := s.cancel
	s.mu.Unlock()

	return source.WaitWorkers(ctx, &s.wg, cancel)
}

// Trigger implements source.Triggerer: it asks for a listing of the folder
// now (files are taken as usual: settled, oldest first). A files source
// has no fixed collections (they are the events' types): collection must
// be "", and the list returned is empty.
func (s *Source) Trigger(collection string) ([]string, error) {
	running := s.isStarted()
	if collection != "" {
		return nil, fmt.Errorf("%w %q: files source %s takes no collection (a trigger lists its folder)", source.ErrUnknownCollection, collection, s.name)
	}
	if !running {
		return nil, fmt.Errorf("files: source %s: %w", s.name, source.ErrNotRunning)
	}
	select {
	case s.trigger <- struct{}{}:
	default: // a listing is already asked for: this one merges into it
	}
	return []string{}, nil
}

// Stats returns the source's counters.
func (s *Source) Stats() Stats {
	return Stats{
		Files:        s.files.Load(),
		Events:       s.events.Load(),
		DeadLettered: s.deadLettered.Load(),
		Quarantined:  s.quarantined.Load(),
		Bytes:        s.bytes.Load(),
		Failures:     s.failures.Load(),
		Pending:      s.pending.Load(),
		Watching:     s.watching.Load(),
	}
}

func (s *Source) isStopping() bool { return s.stopCtx.Err() != nil }

var (
	_ source.Source    = (*Source)(nil)
	_ source.Triggerer = (*Source)(nil)
)
