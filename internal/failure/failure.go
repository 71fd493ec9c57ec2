package failure

import (
	"strconv"
	"time"
)

// Kind says what the delivery path does with a failed record.
type Kind int

// Kinds, from least to most severe. The zero Kind is KindRetryable.
const (
	KindRetryable Kind = iota
	KindPermanent
	KindFatal
)

// String returns "retryable", "permanent" or "fatal".
func (k Kind) String() string {
	switch k {
	case KindRetryable:
		return "retryable"
	case KindPermanent:
		return "permanent"
	case KindFatal:
		return "fatal"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// kindError marks the error it wraps with a kind. Its message is the wrapped
// error's message, unchanged.
type kindError struct {
	kind Kind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// retryAfterError carries a delay the remote side asked for.
type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// Retryable marks err retryable, overriding a kind set deeper in its chain.
// Unmarked errors are already retryable; use it only to override.
func Retryable(err error) error { return mark(KindRetryable, err) }

// Permanent marks err permanent: the record goes to the DLQ without retries.
func Permanent(err error) error { return mark(KindPermanent, err) }

// Fatal marks err fatal: the pipeline stops.
func Fatal(err error) error { return mark(KindFatal, err) }

func mark(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: k, err: err}
}

// WithRetryAfter attaches the delay d (negative counts as zero) after which
// the remote side said to try again. The kind of err is unchanged.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{after: max(d, 0), err: err}
}

// KindOf returns the kind of err (see the package doc for how a chain is
// read). Unmarked errors and nil are KindRetryable.
func KindOf(err error) Kind {
	k, _ := kindOf(err)
	return k
}

// IsPermanent reports whether KindOf(err) is KindPermanent.
func IsPermanent(err error) bool { return err != nil && KindOf(err) == KindPermanent }

// IsFatal reports whether KindOf(err) is KindFatal.
func IsFatal(err error) bool { return err != nil && KindOf(err) == KindFatal }

// RetryAfterOf returns the delay attached by WithRetryAfter, if any.
func RetryAfterOf(err error) (time.Duration, bool) {
	return retryAfterOf(err)
}

// kindOf walks err: the first marker on a path decides it; joined branches
// combine to the most severe kind found.
func kindOf(err error) (Kind, bool) {
	for err != nil {
		switch e := err.(type) {
		case *kindError:
			return e.kind, true
		case interface{ Unwrap() []error }:
			best, found := KindRetryable, false
			for _, branch := range e.Unwrap() {
				if k, ok := kindOf(branch); ok {
					best, found = max(best, k), true
				}
			}
			return best, found
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return KindRetryable, false
		}
	}
	return KindRetryable, false
}

// retryAfterOf walks err like kindOf; joined branches combine to the longest
// delay found.
func retryAfterOf(err error) (time.Duration, bool) {
	for err != nil {
		switch e := err.(type) {
		case *retryAfterError:
			return e.after, true
		case interface{ Unwrap() []error }:
			var best time.Duration
			found := false
			for _, branch := range e.Unwrap() {
				if d, ok := retryAfterOf(branch); ok {
					best, found = max(best, d), true
				}
			}
			return best, found
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return 0, false
		}
	}
	return 0, false
}
