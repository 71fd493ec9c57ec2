package cli

import (
	"errors"

	"github.com/sfbridge/sfbridge/internal/broker"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitInvalid     = 2
	ExitUnreachable = 3
)

// exitError carries the exit code a command's error maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Invalid marks err as invalid config or input (exit 2).
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitInvalid, err: err}
}

// Unreachable marks err as a dependency that cannot be reached (exit 3).
func Unreachable(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitUnreachable, err: err}
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, broker.ErrUnreachable) {
		return ExitUnreachable
	}
	return ExitFailure
}
