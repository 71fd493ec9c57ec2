package failure_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
)

var errBase = errors.New("boom")

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want failure.Kind
	}{
		{"nil", nil, failure.KindRetryable},
		{"plain error is retryable", errBase, failure.KindRetryable},
		{"permanent", failure.Permanent(errBase), failure.KindPermanent},
		{"fatal", failure.Fatal(errBase), failure.KindFatal},
		{"permanent through %w", fmt.Errorf("upsert: %w", failure.Permanent(errBase)), failure.KindPermanent},
		{"fatal through two %w", fmt.Errorf("a: %w", fmt.Errorf("b: %w", failure.Fatal(errBase))), failure.KindFatal},
		{"outermost marker wins on a path", failure.Permanent(failure.Fatal(errBase)), failure.KindPermanent},
		{"retryable overrides deeper permanent", failure.Retryable(fmt.Errorf("x: %w", failure.Permanent(errBase))), failure.KindRetryable},
		{"join: most severe wins", errors.Join(failure.Permanent(errBase), failure.Fatal(errBase), errBase), failure.KindFatal},
		{"join: marked beats unmarked", errors.Join(errBase, failure.Permanent(errBase)), failure.KindPermanent},
		{"join of unmarked", errors.Join(errBase, errors.New("other")), failure.KindRetryable},
		{"join inside %w", fmt.Errorf("batch: %w", errors.Join(errBase, failure.Permanent(errBase))), failure.KindPermanent},
		{"multi %w", fmt.Errorf("%w and %w", errBase, failure.Fatal(errBase)), failure.KindFatal},
		{"marker outside join overrides", failure.Permanent(errors.Join(failure.Fatal(errBase))), failure.KindPermanent},
		{"retry-after keeps the kind", failure.WithRetryAfter(failure.Permanent(errBase), time.Second), failure.KindPermanent},
		{"retry-after alone is retryable", failure.WithRetryAfter(errBase, time.Second), failure.KindRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, failure.KindOf(tt.err))
			require.Equal(t, tt.err != nil && tt.want == failure.KindPermanent, failure.IsPermanent(tt.err))
			require.Equal(t, tt.err != nil && tt.want == failure.KindFatal, failure.IsFatal(tt.err))
		})
	}
}

func TestRetryAfterOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{"nil", nil, 0, false},
		{"plain", errBase, 0, false},
		{"direct", failure.WithRetryAfter(errBase, 3*time.Second), 3 * time.Second, true},
		{"zero is present", failure.WithRetryAfter(errBase, 0), 0, true},
		{"negative clamps to zero", failure.WithRetryAfter(errBase, -time.Second), 0, true},
		{"through %w and a kind", fmt.Errorf("sf: %w", failure.Fatal(failure.WithRetryAfter(errBase, time.Minute))), time.Minute, true},
		{"outermost wins on a path", failure.WithRetryAfter(failure.WithRetryAfter(errBase, time.Hour), time.Second), time.Second, true},
		{"join: longest wins", errors.Join(failure.WithRetryAfter(errBase, time.Second), errBase, failure.WithRetryAfter(errBase, time.Minute)), time.Minute, true},
		{"join without delays", errors.Join(errBase, failure.Permanent(errBase)), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, ok := failure.RetryAfterOf(tt.err)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, d)
		})
	}
}

func TestWrappingKeepsMessageAndChain(t *testing.T) {
	t.Parallel()
	wrappers := map[string]func(error) error{
		"Retryable":      failure.Retryable,
		"Permanent":      failure.Permanent,
		"Fatal":          failure.Fatal,
		"WithRetryAfter": func(err error) error { return failure.WithRetryAfter(err, time.Second) },
	}
	for name, wrap := range wrappers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, wrap(nil), "wrapping nil gives nil")
			err := wrap(fmt.Errorf("ctx: %w", errBase))
			require.EqualError(t, err, "ctx: boom")
			require.ErrorIs(t, err, errBase)
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "retryable", failure.KindRetryable.String())
	require.Equal(t, "permanent", failure.KindPermanent.String())
	require.Equal(t, "fatal", failure.KindFatal.String())
	require.Equal(t, "kind(7)", failure.Kind(7).String())
}
