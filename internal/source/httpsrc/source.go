package httpsrc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/source"
)

// Defaults of the Options left zero.
const (
	// DefaultPublishTimeout bounds the wait for the broker's confirmation
	// of one request's events; past it the request gets 503.
	DefaultPublishTimeout = 5 * time.Second
	// DefaultMaxInFlight bounds the requests handled at once; more get 503
	// with Retry-After: 1.
	DefaultMaxInFlight = 64
	// DefaultRetryAfter is the Retry-After of a 503 when the queue cannot
	// take the events, or the source is stopping.
	DefaultRetryAfter = 2 * time.Second
	// DefaultMaxRejected bounds the rejected events one request may list;
	// a request with more is refused as a whole (400).
	DefaultMaxRejected = 10000
	// DefaultReadTimeout bounds reading one request, body included.
	DefaultReadTimeout = time.Minute
)

// Server timeouts that need no setting.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Options are what a Source needs.
type Options struct {
	// Name is the source's configured name.
	Name string
	// Config is the source's settings, defaults applied (config.Load does).
	Config config.HTTP
	// Queue receives the records; Publish must return once the broker
	// confirmed every message, and give up when its context ends.
	Queue event.Publisher
	// Logger receives one line per request at debug level, and what
	// someone must act on at warn. Nil discards.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil): a record's Time, and its
	// version when the events carry no time field.
	Now func() time.Time

	// PublishTimeout bounds the wait for the broker to confirm a
	// request's events (DefaultPublishTimeout when zero).
	PublishTimeout time.Duration
	// MaxInFlight bounds the requests handled at once (DefaultMaxInFlight
	// when zero). Memory is bounded by it times max_body_bytes.
	MaxInFlight int
	// RetryAfter is the Retry-After of a 503 when the queue cannot take
	// the events or the source is stopping (DefaultRetryAfter when zero;
	// rounded up to whole seconds).
	RetryAfter time.Duration
	// MaxRejected bounds the rejected events one request may list
	// (DefaultMaxRejected when zero); a request with more is refused as a
	// whole with 400, nothing queued.
	MaxRejected int
	// ReadTimeout bounds reading one request, body included
	// (DefaultReadTimeout when zero).
	ReadTimeout time.Duration
	// MaxMessageSize is the largest message the queue takes, in bytes; an
	// event whose record is larger is rejected on its own (resending it
	// could never succeed). Zero asks Queue, when it has a
	// MaxMessageSize() int method (queue.Queue does); without either the
	// broker's refusal fails the whole request with 503.
	MaxMessageSize int
}

// Stats are a source's counters since it was created.
type Stats struct {
	// Requests counts the requests answered (every path but /healthz).
	Requests int64
	// Accepted counts the events queued: the broker confirmed them.
	Accepted int64
	// Rejected counts the events refused one by one (listed in a 202's
	// "rejected"; the client owns them, they are not dead-lettered).
	Rejected int64
	// Duplicates counts the events that repeated an earlier event of the
	// same request and were queued once.
	Duplicates int64
	// Bytes counts the request body bytes read, as sent (compressed).
	Bytes int64
	// ClientErrors and ServerErrors count the 4xx and 5xx answers.
	ClientErrors int64
	ServerErrors int64
	// InFlight is the number of requests being handled now.
	InFlight int
}

// Source is an http source. Its methods are safe for concurrent use.
type Source struct {
	name           string
	cfg            config.HTTP
	intake         event.Intake
	log            *slog.Logger
	now            func() time.Time
	tokenSum       [32]byte
	maxBody        int64
	maxMsg         int // the queue's largest message; 0: unknown
	publishTimeout time.Duration
	maxInFlight    int
	retryAfter     string // whole seconds
	maxRejected    int
	readTimeout    time.Duration
	mux            *http.ServeMux

	// hard ends the publishes in hand when Stop's context ends.
	hard       context.Context
	hardCancel context.CancelFunc

	mu       sync.Mutex
	started  bool
	stopped  bool
	inFlight int
	handlers sync.WaitGroup // requests past admission, until answered
	srv      *http.Server
	ln       net.Listener
	served   chan struct{} // closed when Serve returned

	requests, accepted, rejected, duplicates, bytes, clientErrs, serverErrs atomic.Int64
}

// New checks opts without I/O and returns the source.
func New(opts Options) (*Source, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("httpsrc: source %s: "+format, append([]any{opts.Name}, args...)...))
	}
	if opts.Name == "" {
		errs = append(errs, errors.New("httpsrc: name is required"))
	}
	if opts.Queue == nil {
		bad("queue is required")
	}
	c := opts.Config
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: %v (want host:port, e.g. 127.0.0.1:8081)", c.Listen, unwrapAddrErr(err))
	}
	token := c.Token.Reveal()
	switch {
	case token == "":
		bad("token is required")
	case strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		bad("token must not contain spaces or control characters (a client could not send it)")
	}
	if c.MaxBodyBytes <= 0 {
		bad("max_body_bytes must be positive, got %d", int64(c.MaxBodyBytes))
	}
	if c.MaxEventBytes < 0 {
		bad("max_event_bytes must not be negative, got %d", int64(c.MaxEventBytes))
	} else if c.MaxBodyBytes > 0 && c.MaxEventBytes > c.MaxBodyBytes {
		bad("max_event_bytes (%s) is larger than max_body_bytes (%s)", c.MaxEventBytes, c.MaxBodyBytes)
	}
	spec := event.Spec{IDField: c.IDField, TypeField: c.TypeField, TimeField: c.TimeField, KeyField: c.KeyField, MaxEventBytes: int(c.MaxEventBytes)}
	if err := spec.Check(); err != nil {
		bad("%v", err)
	}
	if opts.PublishTimeout < 0 {
		bad("publish timeout must not be negative, got %s", opts.PublishTimeout)
	}
	if opts.MaxInFlight < 0 {
		bad("max in-flight requests must not be negative, got %d", opts.MaxInFlight)
	}
	if opts.RetryAfter < 0 {
		bad("retry-after must not be negative, got %s", opts.RetryAfter)
	}
	if opts.MaxRejected < 0 {
		bad("max rejected events must not be negative, got %d", opts.MaxRejected)
	}
	if opts.MaxMessageSize < 0 {
		bad("max message size must not be negative, got %d", opts.MaxMessageSize)
	}
	if opts.ReadTimeout < 0 {
		bad("read timeout must not be negative, got %s", opts.ReadTimeout)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	s := &Source{
		name:           opts.Name,
		cfg:            c,
		intake:         event.Intake{Source: opts.Name, Spec: spec, Queue: opts.Queue, Now: opts.Now},
		log:            opts.Logger,
		now:            opts.Now,
		tokenSum:       digest(token),
		maxBody:        int64(c.MaxBodyBytes),
		publishTimeout: orDefault(opts.PublishTimeout, DefaultPublishTimeout),
		maxInFlight:    orDefault(opts.MaxInFlight, DefaultMaxInFlight),
		maxRejected:    orDefault(opts.MaxRejected, DefaultMaxRejected),
		readTimeout:    orDefault(opts.ReadTimeout, DefaultReadTimeout),
	}
	s.retryAfter = seconds(orDefault(opts.RetryAfter, DefaultRetryAfter))
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", s.name)
	s.maxMsg = opts.MaxMessageSize
	if l, ok := opts.Queue.(source.SizeLimiter); ok && s.maxMsg == 0 {
		s.maxMsg = l.MaxMessageSize()
	}
	s.hard, s.hardCancel = context.WithCancel(context.Background())
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/v1/events", s.serveEvents)
	s.mux.HandleFunc("/healthz", serveHealth)
	s.mux.HandleFunc("/", s.serveNotFound)
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

// seconds renders d as a Retry-After value: whole seconds, rounded up, at
// least 1.
func seconds(d time.Duration) string {
	n := int64((d + time.Second - 1) / time.Second)
	return fmt.Sprint(max(n, 1))
}

// unwrapAddrErr drops net.AddrError's repetition of the address.
func unwrapAddrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Start implements source.Source: it listens on the configured address (an
// address that is not one, or a port in use, is an error naming it) and
// serves requests in the background until Stop.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return fmt.Errorf("httpsrc: source %s: Start called twice, or after Stop", s.name)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("httpsrc: source %s: cannot listen on %s: %w", s.name, s.cfg.Listen, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// The server's own complaints (TLS handshakes, broken
		// connections) are noise for an operator: debug.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.served = make(chan struct{})
	s.started = true
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http: serving stopped", "listen", ln.Addr().String(), "err", err)
		}
	}(s.srv, s.served)
	s.log.Info("http: accepting events", "listen", ln.Addr().String())
	return nil
}

// Addr returns the address the source listens on ("127.0.0.1:41234" when
// the configured port was 0), or "" before Start.
func (s *Source) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop implements source.Source: the source stops accepting connections,
// answers 503 to requests that arrive on open ones, and lets the requests
// in flight finish (their 202 goes out only once the broker confirmed their
// events). When ctx ends first, their publishes are abandoned (the client
// gets a 503 or loses the connection, and resends) and Stop returns ctx's
// error.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	srv, served := s.srv, s.served
	s.mu.Unlock()

	var err error
	if srv != nil {
		if err = srv.Shutdown(ctx); err != nil {
			s.hardCancel()
			_ = srv.Close()
		}
		<-served
	}
	// No request is admitted any more (stopped is set): wait for those
	// admitted before. Their publishes end at once if ctx ended.
	s.handlers.Wait()
	s.hardCancel()
	return err
}

// Stats returns the source's counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	inFlight := s.inFlight
	s.mu.Unlock()
	return Stats{
		Requests:     s.requests.Load(),
		Accepted:     s.accepted.Load(),
		Rejected:     s.rejected.Load(),
		Duplicates:   s.duplicates.Load(),
		Bytes:        s.bytes.Load(),
		ClientErrors: s.clientErrs.Load(),
		ServerErrors: s.serverErrs.Load(),
		InFlight:     inFlight,
	}
}

// admit reserves a place for a request that will read a body and publish:
// errStopping or errBusy when there is none. release gives it back.
func (s *Source) admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return errStopping
	case s.inFlight >= s.maxInFlight:
		return errBusy
	}
	s.inFlight++
	s.handlers.Add(1)
	return nil
}

func (s *Source) release() {
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	s.handlers.Done()
}

var (
	errStopping = errors.New("the source is stopping")
	errBusy     = errors.New("too many requests in flight")
)

var _ source.Source = (*Source)(nil)
