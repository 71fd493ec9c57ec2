package queue

import (
	"fmt"
	"strings"
)

// BatchError reports which messages of a Publish were not stored. Errs has
// one slot per published message, in order: nil where the message was stored.
type BatchError struct {
	Errs []error
	// Subjects are the subjects of the published messages, for the message.
	Subjects []string
}

// NewBatchError returns a BatchError for msgs with no failure recorded yet.
func NewBatchError(msgs []Message) *BatchError {
	e := &BatchError{Errs: make([]error, len(msgs)), Subjects: make([]string, len(msgs))}
	for i, m := range msgs {
		e.Subjects[i] = m.Subject
	}
	return e
}

// Failed returns the indexes of the messages that were not stored, in order.
func (e *BatchError) Failed() []int {
	var idx []int
	for i, err := range e.Errs {
		if err != nil {
			idx = append(idx, i)
		}
	}
	return idx
}

// OrNil returns e when a message failed and nil otherwise (a nil *BatchError
// would not compare equal to a nil error).
func (e *BatchError) OrNil() error {
	for _, err := range e.Errs {
		if err != nil {
			return e
		}
	}
	return nil
}

// Error names up to five failed messages by index and subject.
func (e *BatchError) Error() string {
	failed := e.Failed()
	var b strings.Builder
	fmt.Fprintf(&b, "queue: %d of %d messages not stored", len(failed), len(e.Errs))
	for n, i := range failed {
		if n == 5 {
			fmt.Fprintf(&b, "; and %d more", len(failed)-n)
			break
		}
		sep := ": "
		if n > 0 {
			sep = "; "
		}
		subject := ""
		if i < len(e.Subjects) && e.Subjects[i] != "" {
			subject = " (" + e.Subjects[i] + ")"
		}
		fmt.Fprintf(&b, "%s#%d%s: %v", sep, i, subject, e.Errs[i])
	}
	return b.String()
}

// Unwrap returns the failures, so errors.Is(err, context.Canceled) and the
// like see through a BatchError.
func (e *BatchError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
