package salesforce

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeSF is a hand-written httptest server for unit tests of parsing and
// edge cases: an OAuth token endpoint and bearer checks in front of a
// per-test data handler that answers with the fact sheet's exact bodies.
// Behaviour across the whole API is tested against internal/sfemu.
type fakeSF struct {
	srv *httptest.Server

	mu         sync.Mutex
	tokens     map[string]bool
	tokenForms []url.Values
	// tokenError, when set, is the token endpoint's answer (status, body).
	tokenStatus int
	tokenBody   string
	// hold401 runs before the n-th 401 is answered (tests block it).
	hold401 func(n int64)
	// data answers /services/data/… once the bearer token is valid.
	data http.HandlerFunc

	tokenCalls  atomic.Int64
	dataCalls   atomic.Int64
	unauthCalls atomic.Int64
	used, max   atomic.Int64
}

func newFakeSF(t *testing.T) *fakeSF {
	t.Helper()
	f := &fakeSF{tokens: map[string]bool{}}
	f.max.Store(100000)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSF) URL() string { return f.srv.URL }

func (f *fakeSF) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/services/oauth2/token" {
		f.token(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/services/data/") {
		http.NotFound(w, r)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.tokens[tok]
	data, hold := f.data, f.hold401
	f.mu.Unlock()
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", f.used.Load(), f.max.Load()))
	if !ok {
		n := f.unauthCalls.Add(1)
		if hold != nil {
			hold(n)
		}
		writeJSON(w, 401, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
		return
	}
	f.dataCalls.Add(1)
	f.used.Add(1)
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", f.used.Load(), f.max.Load()))
	if data == nil {
		writeJSON(w, 200, `{"DailyApiRequests":{"Max":100000,"Remaining":99000}}`)
		return
	}
	data(w, r)
}

func (f *fakeSF) token(w http.ResponseWriter, r *http.Request) {
	n := f.tokenCalls.Add(1)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, `{"error":"invalid_request","error_description":"bad form"}`)
		return
	}
	f.mu.Lock()
	f.tokenForms = append(f.tokenForms, r.PostForm)
	status, body := f.tokenStatus, f.tokenBody
	f.mu.Unlock()
	if status != 0 {
		writeJSON(w, status, body)
		return
	}
	tok := fmt.Sprintf("00D000000000001AAA!AQ0AQtoken%d", n)
	f.mu.Lock()
	f.tokens[tok] = true
	f.mu.Unlock()
	writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"instance_url":%q,"id":"https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA","token_type":"Bearer","issued_at":"1725700000000","signature":"c2ln"}`, tok, f.srv.URL))
}

// expire invalidates every token (the org's sessions timed out).
func (f *fakeSF) expire() {
	f.mu.Lock()
	f.tokens = map[string]bool{}
	f.mu.Unlock()
}

func (f *fakeSF) allow(tok string) {
	f.mu.Lock()
	f.tokens[tok] = true
	f.mu.Unlock()
}

func (f *fakeSF) setData(h http.HandlerFunc) {
	f.mu.Lock()
	f.data = h
	f.mu.Unlock()
}

func (f *fakeSF) forms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.tokenForms...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// logBuffer collects slog output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// staticClient returns a client using the access_token flow against f with
// a token f accepts.
func staticClient(t *testing.T, f *fakeSF, mutate func(*Config)) *Client {
	t.Helper()
	const tok = "00D000000000001AAA!AQ0AQstatic"
	f.allow(tok)
	cfg := Config{
		InstanceURL: f.URL(),
		Auth:        Auth{Flow: FlowAccessToken, AccessToken: tok},
		Logger:      slog.New(slog.DiscardHandler),
		BulkPoll:    fastPoll(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}
