package emit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// maxGroup bounds the events of one group commit.
const maxGroup = 1024

// Client spools events and sends them in the background. Its methods are
// safe for concurrent use.
type Client struct {
	cfg   Config
	spool *spool

	reqs       chan *request // Emit → writer (unbuffered: group commit)
	closing    chan struct{}
	writerDone chan struct{}
	senderDone chan struct{}
	wake       chan struct{} // writer → sender: events committed
	flushNow   chan struct{} // Flush → sender: skip the linger
	flushers   atomic.Int32
	sendCtx    context.Context
	cancelSend context.CancelFunc
	closeOnce  sync.Once
	closeErr   error

	progressMu sync.Mutex
	progress   chan struct{} // closed and replaced when the cursor moves

	emitted, sent, duplicates, rejected, retries atomic.Int64
	errMu                                        sync.Mutex
	lastErr                                      string
	lastErrAt                                    time.Time
	failing                                      bool
}

// New opens (or creates) the spool in cfg.SpoolDir, taking its lock, and
// starts the sender, which at once sends whatever the spool still holds
// from before (events not acknowledged when the application stopped).
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SegmentBytes, cfg.MaxSpoolBytes, cfg.Logger)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:        cfg,
		spool:      sp,
		reqs:       make(chan *request),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		senderDone: make(chan struct{}),
		wake:       make(chan struct{}, 1),
		flushNow:   make(chan struct{}, 1),
		progress:   make(chan struct{}),
	}
	c.sendCtx, c.cancelSend = context.WithCancel(context.Background())
	if _, _, n, size := sp.state(); n > 0 {
		cfg.Logger.Info("emit: spool holds unsent events from before; sending them",
			"spool", cfg.SpoolDir, "events", n, "bytes", size)
	}
	go c.writeLoop()
	go c.sendLoop()
	return c, nil
}

// Emit validates ev, writes it to the spool and returns its id once it is
// on disk (fsync'ed; concurrent calls share one fsync). It never waits for
// the destination, which may be down: the sender delivers the event
// later, retrying as long as it takes.
//
// An empty ev.ID is replaced by NewID(), a zero ev.Time by now. Emit
// fails, spooling nothing, when ev.Type is empty, an identity field is too
// long or not UTF-8, Data holds id, type, time or key or a value JSON
// cannot encode (a *FieldError naming the field), the event is larger
// than MaxEventBytes (ErrEventTooLarge), the spool is full (ErrSpoolFull),
// the disk write fails, or the Client is closed (ErrClosed).
//
// If ctx ends while the write is under way, Emit returns ctx's error with
// the id: the event may or may not be spooled, and emitting it again with
// that ID is safe.
func (c *Client) Emit(ctx context.Context, ev Event) (string, error) {
	if ev.ID == "" {
		ev.ID = NewID()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	data, err := encode(&ev, c.cfg.MaxEventBytes)
	if err != nil {
		return "", err
	}
	r := &request{data: data, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.closing:
		return "", ErrClosed
	case <-ctx.Done():
		return "", fmt.Errorf("emit: event %s not spooled: %w", ev.ID, ctx.Err())
	}
	select {
	case err := <-r.done:
		if err != nil {
			return "", err
		}
		c.emitted.Add(1)
		return ev.ID, nil
	case <-ctx.Done():
		return ev.ID, fmt.Errorf("emit: event %s: stopped waiting for the spool write (it may be spooled; emitting it again with this ID is safe): %w", ev.ID, ctx.Err())
	}
}

// writeLoop commits Emit's events in groups: every Emit that arrives
// while one fsync runs joins the next.
func (c *Client) writeLoop() {
	defer close(c.writerDone)
	group := make([]*request, 0, maxGroup)
	for {
		select {
		case r := <-c.reqs:
			group = append(group[:0], r)
		drain:
			for len(group) < maxGroup {
				select {
				case r := <-c.reqs:
					group = append(group, r)
				default:
					break drain
				}
			}
			c.spool.append(group)
			for _, r := range group {
				r.done <- r.err
			}
			clear(group)
			signal(c.wake)
		case <-c.closing:
			return
		}
	}
}

// Flush waits until every event spooled before the call is settled
// (delivered, or rejected and reported), or ctx ends. It does not cut a
// backoff short: while the destination is down, Flush waits with it.
func (c *Client) Flush(ctx context.Context) error {
	_, target, _, _ := c.spool.state()
	c.flushers.Add(1)
	defer c.flushers.Add(-1)
	signal(c.flushNow)
	for {
		c.progressMu.Lock()
		ch := c.progress
		c.progressMu.Unlock()
		cursor, _, n, _ := c.spool.state()
		if !cursor.before(target) {
			return nil
		}
		select {
		case <-ch:
		case <-c.senderDone:
			return ErrClosed
		case <-ctx.Done():
			st := c.Stats()
			msg := ""
			if st.LastError != "" {
				msg = " (last error: " + st.LastError + ")"
			}
			return fmt.Errorf("emit: flush: %d events still unsent%s: %w", n, msg, ctx.Err())
		}
	}
}

// Close stops taking events and stops the sender, letting a Send under way
// finish until ctx ends (then it is cancelled). Events not yet delivered
// stay in the spool for the next New. Close releases the spool's lock;
// calling it again does nothing.
func (c *Client) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		close(c.closing)
		<-c.writerDone
		select {
		case <-c.senderDone:
		case <-ctx.Done():
			c.cancelSend()
			<-c.senderDone
		}
		c.cancelSend()
		if err := c.spool.close(); err != nil {
			c.closeErr = fmt.Errorf("emit: close spool: %w", err)
		}
	})
	return c.closeErr
}

// Stats is a snapshot of a Client's counters (since New, except Spooled
// and SpoolBytes).
type Stats struct {
	// Spooled counts the events in the spool not yet settled, SpoolBytes
	// their size on disk.
	Spooled, SpoolBytes int64
	// Emitted counts the events Emit spooled.
	Emitted int64
	// Sent counts the events the destination took (Duplicates of them it
	// already had).
	Sent, Duplicates int64
	// Rejected counts the events the destination refused for good.
	Rejected int64
	// Retries counts failed Send calls.
	Retries int64
	// Failing is true while the last Send failed.
	Failing bool
	// LastError is the last Send failure (never cleared), at LastErrorAt.
	LastError   string
	LastErrorAt time.Time
}

// Stats returns the Client's counters.
func (c *Client) Stats() Stats {
	_, _, n, size := c.spool.state()
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return Stats{
		Spooled:     n,
		SpoolBytes:  size,
		Emitted:     c.emitted.Load(),
		Sent:        c.sent.Load(),
		Duplicates:  c.duplicates.Load(),
		Rejected:    c.rejected.Load(),
		Retries:     c.retries.Load(),
		Failing:     c.failing,
		LastError:   c.lastErr,
		LastErrorAt: c.lastErrAt,
	}
}

// moved wakes Flush callers: the cursor moved.
func (c *Client) moved() {
	c.progressMu.Lock()
	close(c.progress)
	c.progress = make(chan struct{})
	c.progressMu.Unlock()
}

// signal sets a one-slot flag channel without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
