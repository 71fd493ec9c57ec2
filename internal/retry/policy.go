package retry

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Delivery backoff defaults (DESIGN.md §4, `delivery.backoff`).
const (
	DefaultInitial    = 30 * time.Second
	DefaultMax        = 15 * time.Minute
	DefaultMultiplier = 2.0
	DefaultJitter     = 0.2
)

// Policy is an exponential backoff with jitter.
//
// Without jitter the delay before retry n (n ≥ 1) is
// min(Max, Initial × Multiplier^(n-1)). With jitter j and a draw u in [0, 1)
// from Rand the delay is d × (1 − j×u): Jitter 1 is "full jitter" (anywhere in
// [0, d)), 0.5 is "equal jitter" ([d/2, d)), 0 turns jitter off.
type Policy struct {
	// Initial is the delay before the first retry.
	Initial time.Duration
	// Max caps every delay. Zero means no cap.
	Max time.Duration
	// Multiplier grows the delay per attempt; values below 1 count as 1.
	Multiplier float64
	// Jitter is the fraction of the delay that may be taken off, in [0, 1].
	Jitter float64
	// Rand returns a uniform draw in [0, 1). Nil means no jitter is applied,
	// whatever Jitter says. Draws outside [0, 1) are clamped.
	Rand func() float64
}

// Default returns the delivery backoff: 30s doubling to 15m, 20% jitter drawn
// from math/rand/v2.
func Default() Policy {
	return Policy{
		Initial:    DefaultInitial,
		Max:        DefaultMax,
		Multiplier: DefaultMultiplier,
		Jitter:     DefaultJitter,
		Rand:       rand.Float64,
	}
}

// Validate reports every problem with p, each naming its field.
func (p Policy) Validate() error {
	var errs []error
	if p.Initial <= 0 {
		errs = append(errs, fmt.Errorf("initial: must be > 0, got %s", p.Initial))
	}
	if p.Max < 0 {
		errs = append(errs, fmt.Errorf("max: must be ≥ 0, got %s", p.Max))
	} else if p.Max > 0 && p.Max < p.Initial {
		errs = append(errs, fmt.Errorf("max: %s is below initial %s", p.Max, p.Initial))
	}
	if math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0) || p.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("multiplier: must be a number ≥ 1, got %v", p.Multiplier))
	}
	if math.IsNaN(p.Jitter) || p.Jitter < 0 || p.Jitter > 1 {
		errs = append(errs, fmt.Errorf("jitter: must be in [0, 1], got %v", p.Jitter))
	}
	return errors.Join(errs...)
}

// Delay returns the wait before retry number attempt (1 = the first retry).
// Attempts ≤ 0 count as 1. Growth that overflows is capped at Max (or at the
// largest time.Duration when Max is zero). A negative Initial gives zero.
func (p Policy) Delay(attempt int) time.Duration {
	if p.Initial <= 0 {
		return 0
	}
	attempt = max(attempt, 1)
	ceiling := float64(math.MaxInt64)
	if p.Max > 0 {
		ceiling = float64(p.Max)
	}
	mult := p.Multiplier
	if !(mult >= 1) { // also catches NaN
		mult = 1
	}
	d := float64(p.Initial) * math.Pow(mult, float64(attempt-1))
	if !(d < ceiling) { // also catches +Inf
		d = ceiling
	}
	if p.Rand != nil && p.Jitter > 0 {
		j := min(p.Jitter, 1)
		u := min(max(p.Rand(), 0), math.Nextafter(1, 0))
		d -= d * j * u
	}
	if d >= float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}
