package source

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/retry"
)

// Source reads changes from one system and publishes them to the queue as
// records. The engine constructs it from config, then calls Start once and
// Stop once.
type Source interface {
	// Name is the source's configured name.
	Name() string
	// Start checks what can be checked (a bad table or column is an error
	// here), then runs in the background until Stop. A dependency that is
	// down is not an error: the source logs it and keeps retrying.
	Start(ctx context.Context) error
	// Stop asks the source to finish the page or batch in hand (publish it
	// and save its checkpoint), then waits for it to end. When ctx ends
	// first, the work in hand is abandoned without saving its checkpoint
	// (it is read again on the next start) and Stop returns ctx's error.
	Stop(ctx context.Context) error
}

// Triggerer is a Source that can run on demand (sfbridge trigger, the
// admin API), besides its schedule.
type Triggerer interface {
	// Trigger asks for a run of one collection ("" for every collection)
	// as soon as the run in progress, if any, is over, and returns the
	// collections it asked. It does not wait for the run. Triggers that
	// arrive while a run is waiting to start merge into that run. An
	// unknown collection is ErrUnknownCollection.
	Trigger(collection string) ([]string, error)
}

// Errors a Triggerer returns (wrapped; test with errors.Is).
var (
	// ErrUnknownCollection: the source does not read that collection.
	ErrUnknownCollection = errors.New("unknown collection")
	// ErrNotRunning: the source is not started, or stopped.
	ErrNotRunning = errors.New("source not running")
)

// Subject is the queue subject of a source's records:
// "in.<source>.<collection>". Dots in the collection ("public.counselors")
// stay token separators, so a sync's filter can say "in.platform_db.public.>"
// or "in.platform_db.*.counselors". Bytes a subject token cannot hold
// (spaces, control characters, '*', '>') and '%' are percent-encoded
// ("public.My Table" → "in.db.public.My%20Table"); an empty token becomes
// "%". SubjectToken encodes one token the same way.
func Subject(source, collection string) string {
	parts := strings.Split(collection, ".")
	for i, p := range parts {
		parts[i] = SubjectToken(p)
	}
	return "in." + SubjectToken(source) + "." + strings.Join(parts, ".")
}

// SubjectToken encodes s as one subject token (see Subject). The encoding is
// injective: '%' itself is encoded.
func SubjectToken(s string) string {
	if s == "" {
		return "%"
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || c == '*' || c == '>' || c == '%' || c == '.' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0f])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DefaultBackoff is the wait between a source's failed runs (its system,
// the queue or the state store unreachable): 1s doubling to 1m, with
// jitter. A scheduled run that comes sooner is not delayed.
func DefaultBackoff() retry.Policy {
	return retry.Policy{Initial: time.Second, Max: time.Minute, Multiplier: 2, Jitter: 0.2, Rand: rand.Float64}
}

// SizeLimiter is a Publisher that knows its largest message (queue.Queue
// does): a source passes over, or dead-letters, a record that would be
// larger instead of failing its whole batch.
type SizeLimiter interface {
	MaxMessageSize() int
}
