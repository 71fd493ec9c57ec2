package emit

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultMaxEventBytes = 1 << 20
	DefaultMaxSpoolBytes = 1 << 30
	DefaultSegmentBytes  = 16 << 20
	DefaultBatchSize     = 500
	DefaultBatchBytes    = 1 << 20
	DefaultLinger        = 50 * time.Millisecond
	DefaultMinBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff    = time.Minute
)

// maxRetryAfter caps how long a destination's Retry-After can hold
// delivery (beyond MaxBackoff).
const maxRetryAfter = 15 * time.Minute

// Errors a Client returns.
var (
	// ErrSpoolFull is wrapped by Emit's error when the unsent events
	// already take Config.MaxSpoolBytes: the event was not spooled.
	ErrSpoolFull = errors.New("emit: spool full")
	// ErrClosed is returned by Emit and Flush after Close.
	ErrClosed = errors.New("emit: client closed")
	// ErrSpoolInUse is wrapped by New's error when another Client, in
	// this process or another, has the spool directory open.
	ErrSpoolInUse = errors.New("emit: spool directory in use")
)

// Config configures a Client. SpoolDir and Sink are required; every other
// zero value means the default.
type Config struct {
	// SpoolDir is the directory of the spool (created if missing). One
	// Client at a time may use it; New fails with ErrSpoolInUse while
	// another has it open.
	SpoolDir string
	// Sink delivers the events: NewHTTPSink (sfbridge's http source),
	// NewFolderSink (its files source), or your own.
	Sink Sink

	// MaxEventBytes bounds one event's JSON encoding (default 1 MiB, as
	// sfbridge's max_event_bytes).
	MaxEventBytes int
	// MaxSpoolBytes bounds the unsent events on disk (default 1 GiB;
	// negative: no bound). Emit returns ErrSpoolFull beyond it.
	MaxSpoolBytes int64
	// SegmentBytes is the size at which a spool segment file is sealed and
	// the next begun (default 16 MiB). Sealed segments are deleted once
	// every event in them is delivered.
	SegmentBytes int64

	// BatchSize bounds the events of one Send (default 500).
	BatchSize int
	// BatchBytes bounds the bytes of one Send (default 1 MiB); a single
	// larger event still goes, alone.
	BatchBytes int
	// Linger is how long the sender waits for more events when it wakes
	// to fewer than BatchSize (default 50ms; negative: no wait). A lone
	// event goes after at most Linger.
	Linger time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed Send; it
	// doubles from MinBackoff (with jitter) up to MaxBackoff (defaults
	// 250ms and 1m). Refused credentials wait MaxBackoff; a destination's
	// Retry-After is honoured (up to 15 minutes).
	MinBackoff, MaxBackoff time.Duration

	// Logger receives what someone may have to act on: outages and
	// recoveries (once per change), rejected events (id and reason,
	// never their data), spool damage. Default slog.Default().
	Logger *slog.Logger
	// OnReject, when set, is called for each event the destination
	// refused for good (it is not sent again and leaves the spool), with
	// the event as spooled (numbers in Data as json.Number) and the
	// destination's reason. It runs on the sender goroutine: it should
	// return quickly and must not call Flush or Close.
	OnReject func(ev Event, reason string)
}

// withDefaults fills the zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("SpoolDir is required"))
	}
	if c.Sink == nil {
		errs = append(errs, errors.New("sink is required (NewHTTPSink or NewFolderSink)"))
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxEventBytes, DefaultMaxEventBytes)
	def(&c.BatchSize, DefaultBatchSize)
	def(&c.BatchBytes, DefaultBatchBytes)
	switch {
	case c.MaxSpoolBytes == 0:
		c.MaxSpoolBytes = DefaultMaxSpoolBytes
	case c.MaxSpoolBytes < 0:
		c.MaxSpoolBytes = 0 // no bound
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	switch {
	case c.Linger == 0:
		c.Linger = DefaultLinger
	case c.Linger < 0:
		c.Linger = 0
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxEventBytes < 0 || c.MaxEventBytes > maxRecordSize {
		errs = append(errs, fmt.Errorf("MaxEventBytes %d: must be between 1 and %d", c.MaxEventBytes, maxRecordSize))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("BatchSize %d: must be positive", c.BatchSize))
	}
	if c.BatchBytes < 0 {
		errs = append(errs, fmt.Errorf("BatchBytes %d: must be positive", c.BatchBytes))
	}
	if c.SegmentBytes < 1024 {
		errs = append(errs, fmt.Errorf("SegmentBytes %d: must be at least 1024", c.SegmentBytes))
	}
	if c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("MinBackoff %s and MaxBackoff %s: need 0 < MinBackoff <= MaxBackoff", c.MinBackoff, c.MaxBackoff))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("emit: config: %w", errors.Join(errs...))
	}
	return c, nil
}
