package retry_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/retry"
)

func fixed(u float64) func() float64 { return func() float64 { return u } }

func TestDelay(t *testing.T) {
	t.Parallel()
	base := retry.Policy{Initial: time.Second, Max: time.Minute, Multiplier: 2}
	with := func(mod func(*retry.Policy)) retry.Policy {
		p := base
		mod(&p)
		return p
	}
	tests := []struct {
		name    string
		policy  retry.Policy
		attempt int
		want    time.Duration
	}{
		{"first retry is Initial", base, 1, time.Second},
		{"attempt 0 counts as 1", base, 0, time.Second},
		{"negative attempt counts as 1", base, -5, time.Second},
		{"doubles", base, 2, 2 * time.Second},
		{"doubles again", base, 4, 8 * time.Second},
		{"last below the cap", base, 6, 32 * time.Second},
		{"capped at Max", base, 7, time.Minute},
		{"huge attempt stays capped", base, math.MaxInt, time.Minute},
		{"no Max: overflow caps at the largest duration", with(func(p *retry.Policy) { p.Max = 0 }), 10_000, time.Duration(math.MaxInt64)},
		{"multiplier 1 is constant", with(func(p *retry.Policy) { p.Multiplier = 1 }), 9, time.Second},
		{"multiplier below 1 counts as 1", with(func(p *retry.Policy) { p.Multiplier = 0.5 }), 3, time.Second},
		{"NaN multiplier counts as 1", with(func(p *retry.Policy) { p.Multiplier = math.NaN() }), 3, time.Second},
		{"fractional multiplier", with(func(p *retry.Policy) { p.Multiplier = 1.5 }), 3, 2250 * time.Millisecond},
		{"zero Initial gives zero", with(func(p *retry.Policy) { p.Initial = 0 }), 3, 0},
		{"jitter without Rand is off", with(func(p *retry.Policy) { p.Jitter = 1 }), 2, 2 * time.Second},
		{"full jitter, draw 0", with(func(p *retry.Policy) { p.Jitter, p.Rand = 1, fixed(0) }), 2, 2 * time.Second},
		{"full jitter, draw 0.75", with(func(p *retry.Policy) { p.Jitter, p.Rand = 1, fixed(0.75) }), 2, 500 * time.Millisecond},
		{"equal jitter, draw 0.5", with(func(p *retry.Policy) { p.Jitter, p.Rand = 0.5, fixed(0.5) }), 3, 3 * time.Second},
		{"jitter applies after the cap", with(func(p *retry.Policy) { p.Jitter, p.Rand = 0.5, fixed(0.5) }), 20, 45 * time.Second},
		{"draw above 1 clamps below 1", with(func(p *retry.Policy) { p.Jitter, p.Rand = 0.5, fixed(7) }), 1, 500 * time.Millisecond},
		{"negative draw clamps to 0", with(func(p *retry.Policy) { p.Jitter, p.Rand = 0.5, fixed(-1) }), 1, time.Second},
		{"jitter above 1 counts as 1", with(func(p *retry.Policy) { p.Jitter, p.Rand = 3, fixed(0.5) }), 1, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.policy.Delay(tt.attempt))
		})
	}
}

func TestDelayIsDeterministicGivenRand(t *testing.T) {
	t.Parallel()
	seq := func() func() float64 {
		draws := []float64{0.1, 0.9, 0.4, 0.0, 0.99}
		i := 0
		return func() float64 { u := draws[i%len(draws)]; i++; return u }
	}
	p1 := retry.Default()
	p1.Rand = seq()
	p2 := retry.Default()
	p2.Rand = seq()
	for attempt := 1; attempt <= 12; attempt++ {
		d1, d2 := p1.Delay(attempt), p2.Delay(attempt)
		require.Equal(t, d1, d2, "attempt %d", attempt)
		require.LessOrEqual(t, d1, retry.DefaultMax)
		require.Positive(t, d1)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	p := retry.Default()
	require.NoError(t, p.Validate())
	require.Equal(t, 30*time.Second, p.Initial)
	require.Equal(t, 15*time.Minute, p.Max)
	p.Rand = nil
	require.Equal(t, 30*time.Second, p.Delay(1))
	require.Equal(t, 8*time.Minute, p.Delay(5))
	require.Equal(t, 15*time.Minute, p.Delay(6))
	// With real randomness every delay stays within [d×(1−Jitter), d].
	p = retry.Default()
	for range 100 {
		d := p.Delay(2)
		require.GreaterOrEqual(t, d, time.Duration(float64(time.Minute)*(1-retry.DefaultJitter)))
		require.LessOrEqual(t, d, time.Minute)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy retry.Policy
		errs   []string
	}{
		{"valid", retry.Policy{Initial: time.Second, Max: time.Minute, Multiplier: 2, Jitter: 0.5}, nil},
		{"valid without cap", retry.Policy{Initial: time.Second, Multiplier: 1}, nil},
		{"everything wrong", retry.Policy{Initial: -1, Max: -1, Multiplier: 0.5, Jitter: 2},
			[]string{"initial: must be > 0", "max: must be ≥ 0", "multiplier: must be a number ≥ 1", "jitter: must be in [0, 1]"}},
		{"max below initial", retry.Policy{Initial: time.Minute, Max: time.Second, Multiplier: 2}, []string{"max: 1s is below initial 1m0s"}},
		{"NaN", retry.Policy{Initial: time.Second, Multiplier: math.NaN(), Jitter: math.NaN()}, []string{"multiplier", "jitter"}},
		{"infinite multiplier", retry.Policy{Initial: time.Second, Multiplier: math.Inf(1)}, []string{"multiplier"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.Validate()
			if tt.errs == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, e := range tt.errs {
				require.ErrorContains(t, err, e)
			}
		})
	}
}
