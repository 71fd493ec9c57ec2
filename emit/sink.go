package emit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sink delivers batches of spooled events to a destination: sfbridge's
// HTTP endpoint (NewHTTPSink), a folder sfbridge's files source watches
// (NewFolderSink), or anything else (an S3 PutObject of an NDJSON file).
//
// The Client calls Send from one goroutine, one batch at a time, in spool
// order, and retries what a failed Send left unsettled; a Sink need not be
// safe for concurrent use by several Clients unless it says so.
type Sink interface {
	// Send delivers batch. A nil error means every event of the batch is
	// settled: durably accepted (or already known, a duplicate) by the
	// destination, except those listed in Result.Rejected, which the
	// destination will never accept and which are not sent again.
	//
	// A non-nil error means the events from batch[Result.Settled] on were
	// not delivered and will be sent again later, after a backoff: the
	// first Result.Settled events are settled as above (a Sink that
	// delivers all or nothing leaves Settled at 0). The error decides the
	// backoff: one wrapping ErrAuth waits the longest (credentials need a
	// person), one that is or wraps a *RetryAfterError waits as long as the
	// destination asked; any other error counts as an outage (exponential
	// backoff with jitter). No event is ever dropped because Send failed.
	Send(ctx context.Context, batch []Message) (Result, error)
}

// Message is one spooled event as a Sink receives it.
type Message struct {
	// ID is the event's id.
	ID string
	// JSON is the event as one flat JSON object (no trailing newline):
	// {"id":…,"type":…,"time":…,"key":…, then the event's Data fields}.
	// It must not be modified or retained after Send returns.
	JSON []byte
}

// Result is what a Send settled.
type Result struct {
	// Settled counts the events, from the start of the batch, that are
	// settled. It is read only when Send returns an error; a nil error
	// settles the whole batch.
	Settled int
	// Rejected lists the settled events the destination refused for good,
	// each with its reason. The Client reports them (Config.OnReject, the
	// logger) and drops them from the spool.
	Rejected []Rejection
	// Duplicates counts settled events the destination already had
	// (informational, for Stats).
	Duplicates int
}

// Rejection is one event a destination refused for good.
type Rejection struct {
	// Index is the event's 0-based position in the batch given to Send.
	Index int
	// ID is the event's id.
	ID string
	// Reason says why, in the destination's words.
	Reason string
}

// ErrAuth marks a Send error caused by refused credentials (HTTP 401 or
// 403). The Client keeps every event spooled and retries at the longest
// backoff (Config.MaxBackoff), logging once when this starts.
var ErrAuth = errors.New("emit: the endpoint refused the credentials")

// RetryAfterError is a Send error after which the destination asked to be
// left alone for a while (HTTP 429 or 503 with Retry-After). The Client
// waits at least After before sending again.
type RetryAfterError struct {
	// After is how long the destination asked to wait.
	After time.Duration
	// Err is the failure itself.
	Err error
}

// Error says what failed and how long the destination asked to wait.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

// Unwrap returns the failure itself.
func (e *RetryAfterError) Unwrap() error { return e.Err }
