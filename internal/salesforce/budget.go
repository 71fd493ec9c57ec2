package salesforce

import (
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Usage is the org's daily API usage as Salesforce last reported it
// (Sforce-Limit-Info: api-usage=Used/Max).
type Usage struct {
	Used, Max int64
	// At is when it was reported; zero when no response carried it yet.
	At time.Time
}

// Remaining returns Max − Used (never negative).
func (u Usage) Remaining() int64 { return max(u.Max-u.Used, 0) }

var apiUsageRE = regexp.MustCompile(`(?:^|[\s,;])api-usage=(\d+)/(\d+)`)

// parseLimitInfo reads "api-usage=N/M" from a Sforce-Limit-Info header.
func parseLimitInfo(v string) (used, limit int64, ok bool) {
	m := apiUsageRE.FindStringSubmatch(v)
	if m == nil {
		return 0, 0, false
	}
	u, err1 := strconv.ParseInt(m[1], 10, 64)
	l, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil || l <= 0 {
		return 0, 0, false
	}
	return u, l, true
}

// budget keeps the org's API usage and refuses calls that would eat into
// the reserve. While the allowance is low, callers get a *BudgetError until
// blockedUntil; then one call (the probe) goes through, and its response
// tells whether usage has recovered.
type budget struct {
	reserve float64
	wait    time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu           sync.Mutex
	usage        Usage
	exhausted    bool // Salesforce refused a call for the daily limit
	blockedUntil time.Time
}

func newBudget(reserve float64, wait time.Duration, now func() time.Time, log *slog.Logger) *budget {
	return &budget{reserve: reserve, wait: wait, now: now, log: log}
}

// low reports whether the remaining allowance is below the reserve.
func (b *budget) low() bool {
	if b.exhausted {
		return true
	}
	if b.usage.Max <= 0 {
		return false
	}
	return float64(b.usage.Remaining()) < b.reserve*float64(b.usage.Max)
}

// observe records the usage a response reported.
func (b *budget) observe(h http.Header) {
	if used, limit, ok := parseLimitInfo(h.Get("Sforce-Limit-Info")); ok {
		b.set(used, limit)
	}
}

// set records the usage Salesforce reported.
func (b *budget) set(used, limit int64) {
	if limit <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.usage = Usage{Used: used, Max: limit, At: b.now()}
	if used < limit {
		b.exhausted = false
	}
	b.settle()
}

// exhaust records that Salesforce refused a call for the daily limit.
func (b *budget) exhaust() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.exhausted = true
	if b.usage.Max > 0 {
		b.usage.Used = max(b.usage.Used, b.usage.Max)
	}
	b.settle()
}

// settle starts or ends a blocked window after the state changed. b.mu held.
func (b *budget) settle() {
	now := b.now()
	switch {
	case !b.low():
		if !b.blockedUntil.IsZero() {
			b.log.Info("salesforce: daily API allowance recovered", "api_used", b.usage.Used, "api_max", b.usage.Max)
		}
		b.blockedUntil = time.Time{}
	case b.blockedUntil.IsZero():
		b.blockedUntil = now.Add(b.wait)
		b.log.Warn("salesforce: daily API allowance below the reserve; holding calls",
			"api_used", b.usage.Used, "api_max", b.usage.Max, "reserve", b.reserve, "wait", b.wait, "exhausted", b.exhausted)
	}
}

// admit returns nil when a call may be made, else the *BudgetError to give
// the caller. When a blocked window has passed it admits exactly one probe
// and opens the next window.
func (b *budget) admit() *BudgetError {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.low() {
		return nil
	}
	now := b.now()
	if !now.Before(b.blockedUntil) {
		b.blockedUntil = now.Add(b.wait)
		return nil // the probe
	}
	return &BudgetError{
		Used: b.usage.Used, Max: b.usage.Max, Reserve: b.reserve,
		Exhausted: b.exhausted, Wait: b.blockedUntil.Sub(now),
	}
}

// snapshot returns the last usage seen.
func (b *budget) snapshot() Usage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usage
}
