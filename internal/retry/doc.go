// Package retry computes backoff delays: exponential growth from Initial by
// Multiplier, capped at Max, with optional jitter.
//
// Policy.Delay is a pure function of the attempt number and of the Policy,
// including its injected Rand source: with a deterministic Rand (tests) the
// delays are reproducible; production code injects math/rand/v2.Float64
// (Default does). Jitter only ever shortens a delay, so no delay exceeds Max.
//
// The broker counts attempts (JetStream NumDelivered), so a retry schedule
// survives restarts: callers pass the attempt number, this package keeps no
// state. Delivery defaults (DESIGN.md §4: backoff initial 30s, max 15m) are
// declared here, in one place.
package retry
