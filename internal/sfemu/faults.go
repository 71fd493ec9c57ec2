package sfemu

import (
	"crypto/tls"
	"fmt"
	"html"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults injects the failures of a FaultConfig into one emulator: per-record
// errors through the org's record hook, HTTP errors, latency and the
// concurrency limit through a CallHook, outages in front of the router.
// Admin endpoints (/__emulator/…) are never affected. Probabilistic faults
// draw from one generator per rule seeded from the config's seed (else
// Options.Seed), so a sequence of calls fails the same way every run.
type Faults struct {
	org  *Org
	seed int64

	mu  sync.Mutex // serialises Set, Add and Clear
	cfg FaultConfig
	set atomic.Pointer[faultSet]

	inflight    atomic.Int64
	rejected    sync.Map // *Call answered by the concurrency limit
	concRejects atomic.Int64
	outageHits  atomic.Int64
}

// faultSet is the compiled config; replaced whole, never modified (the
// rules' counters have their own locks).
type faultSet struct {
	records []*recordRule
	http    []*httpRule
	latency []LatencyFault
	maxConc int
	outage  *outageWindow
}

type outageWindow struct {
	mode        string
	from, until time.Time
}

const msgConcurrentRequests = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."

func init() {
	extend(func(e *Emulator) {
		f := &Faults{org: e.org, seed: e.opts.Seed}
		e.faults = f
		e.Use(CallHook{Before: f.before, After: f.after})
		e.org.SetRecordHook(f.recordHook)
	})
}

// Faults returns the emulator's fault injector.
func (e *Emulator) Faults() *Faults { return e.faults }

// Set replaces the fault config (an empty config clears every fault) and
// applies its one-shot actions (apiLimit, expireSessions, the outage
// window's start).
func (f *Faults) Set(cfg FaultConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = FaultConfig{}
	f.set.Store(nil)
	f.merge(cfg)
	return nil
}

// Add merges cfg into the current config: its rules are appended (the
// existing ones keep their counters), its concurrency limit and outage
// replace the current ones, its one-shot actions are applied.
func (f *Faults) Add(cfg FaultConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.merge(cfg)
	return nil
}

// Clear removes every fault (API limit and sessions are left as they are).
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = FaultConfig{}
	f.set.Store(nil)
}

// merge runs under f.mu.
func (f *Faults) merge(cfg FaultConfig) {
	now := f.org.Now()
	if cfg.APILimit != nil {
		if cfg.APILimit.Max != nil {
			f.org.SetAPILimit(*cfg.APILimit.Max)
		}
		if cfg.APILimit.Used != nil {
			f.org.SetAPIUsage(*cfg.APILimit.Used)
		}
	}
	if cfg.ExpireSessions {
		f.org.ExpireSessions()
	}
	if cfg.Seed != nil {
		f.cfg.Seed = cfg.Seed
	}
	seed := f.seed
	if f.cfg.Seed != nil {
		seed = *f.cfg.Seed
	}
	old := f.set.Load()
	if old == nil {
		old = &faultSet{}
	}
	next := &faultSet{
		records: append([]*recordRule(nil), old.records...),
		http:    append([]*httpRule(nil), old.http...),
		latency: append(append([]LatencyFault(nil), old.latency...), cfg.Latency...),
		maxConc: old.maxConc,
		outage:  old.outage,
	}
	for _, r := range cfg.Records {
		next.records = append(next.records, newRecordRule(r, ruleRNG(seed, 1, len(next.records))))
	}
	for _, h := range cfg.HTTP {
		next.http = append(next.http, &httpRule{HTTPFault: h, rng: ruleRNG(seed, 2, len(next.http)), remaining: h.Next})
	}
	f.cfg.Records = append(f.cfg.Records, cfg.Records...)
	f.cfg.HTTP = append(f.cfg.HTTP, cfg.HTTP...)
	f.cfg.Latency = append(f.cfg.Latency, cfg.Latency...)
	if cfg.Concurrency != nil {
		c := *cfg.Concurrency
		f.cfg.Concurrency = &c
		next.maxConc = c.Max
	}
	if cfg.Outage != nil {
		o := *cfg.Outage
		f.cfg.Outage = &o
		from := now.Add(time.Duration(o.Delay))
		next.outage = &outageWindow{mode: o.Mode, from: from, until: from.Add(time.Duration(o.Duration))}
	}
	f.set.Store(next)
}

func ruleRNG(seed int64, kind, idx int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(kind)<<32|uint64(idx)))
}

// FaultStatus is the config in force and what it has done so far.
type FaultStatus struct {
	Config FaultConfig `json:"config"`
	// RecordsFired and HTTPFired count the failures each rule injected,
	// in config order; HTTPRemaining is what is left of each "next".
	RecordsFired  []int64 `json:"recordsFired"`
	HTTPFired     []int64 `json:"httpFired"`
	HTTPRemaining []int   `json:"httpRemaining"`
	// ConcurrencyRejected counts calls refused by the concurrency limit,
	// OutageHits requests refused or answered 503 by an outage.
	ConcurrencyRejected int64 `json:"concurrencyRejected"`
	OutageHits          int64 `json:"outageHits"`
	// InFlight is the number of API calls being served now.
	InFlight int64 `json:"inFlight"`
	// Outage is the outage window, if one is configured.
	Outage *OutageStatus `json:"outage,omitempty"`
}

// OutageStatus is an outage window on the org's clock.
type OutageStatus struct {
	Mode   string    `json:"mode"`
	From   time.Time `json:"from"`
	Until  time.Time `json:"until"`
	Active bool      `json:"active"`
}

// Status returns the config in force and the fault counters.
func (f *Faults) Status() FaultStatus {
	f.mu.Lock()
	st := FaultStatus{Config: f.cfg, RecordsFired: []int64{}, HTTPFired: []int64{}, HTTPRemaining: []int{}}
	f.mu.Unlock()
	st.ConcurrencyRejected = f.concRejects.Load()
	st.OutageHits = f.outageHits.Load()
	st.InFlight = f.inflight.Load()
	if s := f.set.Load(); s != nil {
		for _, r := range s.records {
			r.mu.Lock()
			st.RecordsFired = append(st.RecordsFired, r.fired)
			r.mu.Unlock()
		}
		for _, h := range s.http {
			h.mu.Lock()
			st.HTTPFired = append(st.HTTPFired, h.fired)
			st.HTTPRemaining = append(st.HTTPRemaining, h.remaining)
			h.mu.Unlock()
		}
		if o := s.outage; o != nil {
			now := f.org.Now()
			st.Outage = &OutageStatus{Mode: o.mode, From: o.from, Until: o.until, Active: o.active(now)}
		}
	}
	return st
}

func (o *outageWindow) active(now time.Time) bool {
	return o != nil && !now.Before(o.from) && now.Before(o.until)
}

// isAdmin reports whether a call is an admin endpoint, which faults never
// touch.
func isAdmin(c *Call) bool { return strings.HasPrefix(c.Endpoint, "admin.") }

// front runs before routing: during an outage window every request but
// the admin endpoints is refused (the connection is closed with a reset) or
// answered 503. Composite subrequests are never refused.
func (f *Faults) front(w http.ResponseWriter, r *http.Request) bool {
	s := f.set.Load()
	if s == nil || s.outage == nil || !s.outage.active(f.org.Now()) ||
		strings.HasPrefix(r.URL.Path, adminPrefix) || parentCall(r.Context()) != nil {
		return false
	}
	f.outageHits.Add(1)
	if s.outage.mode == Outage503 {
		body := htmlErrorPage(http.StatusServiceUnavailable, "")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(body)
		return true
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a writer that cannot be hijacked: abort the response,
		// which the server turns into a reset stream or closed connection.
		panic(http.ErrAbortHandler)
	}
	resetConn(conn)
	return true
}

// resetConn closes conn abruptly: SO_LINGER 0 makes the close a TCP reset,
// what a client sees when a server goes away.
func resetConn(conn net.Conn) {
	nc := conn
	if tc, ok := conn.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = nc.Close()
}

func (f *Faults) before(c *Call) bool {
	if isAdmin(c) {
		return false
	}
	s := f.set.Load()
	if c.api {
		n := f.inflight.Add(1)
		if s != nil && s.maxConc > 0 && n > int64(s.maxConc) {
			f.rejected.Store(c, struct{}{})
			f.concRejects.Add(1)
			c.Error(http.StatusForbidden, CodeRequestLimitExceeded, msgConcurrentRequests)
			return true
		}
	}
	if s == nil {
		return false
	}
	for _, h := range s.http {
		if !h.After && h.matches(c) && h.fire() {
			h.respond(c)
			return true
		}
	}
	return false
}

func (f *Faults) after(c *Call) {
	if isAdmin(c) {
		return
	}
	if c.api {
		defer f.inflight.Add(-1)
	}
	if _, rejected := f.rejected.LoadAndDelete(c); rejected {
		return
	}
	s := f.set.Load()
	if s == nil {
		return
	}
	for _, h := range s.http {
		if h.After && h.matches(c) && h.fire() {
			c.Reset()
			h.respond(c)
			break
		}
	}
	for _, l := range s.latency {
		if l.Match.matches(c) {
			sleepCtx(c, time.Duration(l.Fixed)+time.Duration(l.PerRecord)*time.Duration(c.Records))
			break
		}
	}
}

// sleepCtx waits d or until the client goes away.
func sleepCtx(c *Call, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.Req.Context().Done():
	}
}

func (m Match) matches(c *Call) bool {
	return (m.Endpoint == "" || globMatch(m.Endpoint, c.Endpoint)) &&
		(m.Method == "" || m.Method == c.Req.Method) &&
		(m.Path == "" || globMatch(m.Path, c.Req.URL.Path))
}

// globMatch matches s against pattern, where * matches any run of
// characters (slashes included).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

type httpRule struct {
	HTTPFault
	mu        sync.Mutex
	rng       *rand.Rand
	remaining int
	fired     int64
}

// fire decides whether the rule answers this matching call.
func (h *httpRule) fire() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.Next > 0:
		if h.remaining == 0 {
			return false
		}
		h.remaining--
	case h.Probability > 0:
		if h.rng.Float64() >= h.Probability {
			return false
		}
	}
	h.fired++
	return true
}

func (h *httpRule) respond(c *Call) {
	st := h.status()
	switch h.Body {
	case "json":
		code := h.ErrorCode
		if code == "" {
			code = CodeUnknownException
			if st == http.StatusServiceUnavailable {
				code = "SERVER_UNAVAILABLE"
			}
		}
		msg := h.Message
		if msg == "" {
			msg = defaultFaultMessage(st)
		}
		c.Error(st, code, msg)
		if h.ContentType != "" {
			c.Header().Set("Content-Type", h.ContentType)
		}
	case "empty":
		c.Body(st, h.ContentType, nil)
	default:
		ct := h.ContentType
		if ct == "" {
			ct = "text/html"
		}
		c.Body(st, ct, htmlErrorPage(st, h.Message))
	}
}

func defaultFaultMessage(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "The server is temporarily unable to service your request. Please try again later."
	case http.StatusInternalServerError:
		return "An unexpected error occurred. Please include this ErrorId if you contact support: 0-emulator-fault"
	}
	return http.StatusText(status)
}

// htmlErrorPage is the HTML page a load balancer or maintenance window
// serves instead of JSON.
func htmlErrorPage(status int, msg string) []byte {
	if msg == "" {
		msg = defaultFaultMessage(status)
	}
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return fmt.Appendf(nil, `<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>%s</title></head>
<body>
<h1>%s</h1>
<p>%s</p>
</body>
</html>
`, title, title, html.EscapeString(msg))
}
