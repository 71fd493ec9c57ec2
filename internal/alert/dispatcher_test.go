package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/alert"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/retry"
)

// receiver is a webhook endpoint that answers with the statuses given, in
// turn (200 once they run out), and keeps every body it accepted.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []alert.Message
	raw      []map[string]any
	calls    atomic.Int64
	statuses []int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.calls.Add(1)) - 1
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n < len(r.statuses) && r.statuses[n] != 200 {
			w.WriteHeader(r.statuses[n])
			_, _ = w.Write([]byte("no"))
			return
		}
		var m alert.Message
		var raw map[string]any
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(req.Body)
		if json.Unmarshal(buf.Bytes(), &m) != nil || json.Unmarshal(buf.Bytes(), &raw) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got, r.raw = append(r.got, m), append(r.raw, raw)
		r.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) messages() []alert.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alert.Message(nil), r.got...)
}

func dispatcher(t *testing.T, url string, log *slog.Logger, mut func(*config.Alert)) *alert.Dispatcher {
	t.Helper()
	a := config.Alert{
		Name: "ops", Type: config.AlertWebhook, URL: config.NewSecret(url), Events: config.AlertEvents,
		GroupWindow: 50 * time.Millisecond, CircuitOpenFor: 50 * time.Millisecond, Timeout: 2 * time.Second,
	}
	if mut != nil {
		mut(&a)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := alert.New([]config.Alert{a}, alert.Options{
		Logger: log, Retry: retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2}, Tries: 3,
	})
	require.NoError(t, err)
	d.Start(context.Background())
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d
}

func TestWebhookBodyIsSlackCompatible(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	d := dispatcher(t, r.srv.URL, nil, nil)
	d.AuthFailed("HTTP 400 invalid_grant: authentication failure")
	require.Eventually(t, func() bool { return len(r.messages()) == 1 }, 10*time.Second, 5*time.Millisecond)
	r.mu.Lock()
	raw := r.raw[0]
	r.mu.Unlock()
	text, ok := raw["text"].(string)
	require.True(t, ok, "a Slack incoming webhook needs a top-level text")
	require.Contains(t, text, "Salesforce rejected sfbridge's credentials")
	require.Equal(t, "sfbridge", raw["source"])
	require.Equal(t, "auth_failure", raw["event"])
	require.Equal(t, "firing", raw["status"])
	require.Equal(t, "ops", raw["alert"])
}

func TestGroupedDeadLettersThenRecovery(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	d := dispatcher(t, r.srv.URL, nil, func(a *config.Alert) { a.GroupWindow = 200 * time.Millisecond })
	for range 25 {
		d.DeadLettered("counselors", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
	}
	require.Eventually(t, func() bool { return len(r.messages()) == 2 }, 10*time.Second, 5*time.Millisecond)
	ms := r.messages()
	require.Equal(t, alert.Firing, ms[0].Status)
	require.Equal(t, 25, ms[0].Count, "one message for the 25 records")
	require.Equal(t, alert.Resolved, ms[1].Status)
	require.Equal(t, 25, ms[1].Total)
	require.Never(t, func() bool { return len(r.messages()) > 2 }, 300*time.Millisecond, 20*time.Millisecond)
}

func TestWebhookRetriesThenDelivers(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 503, 429)
	d := dispatcher(t, r.srv.URL, nil, nil)
	d.SyncStopped("counselors", "90% or more of the last 100 records would have gone to the DLQ")
	require.Eventually(t, func() bool { return len(r.messages()) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(3), r.calls.Load())
	// The receiver has the message before the dispatcher has read the reply.
	require.Eventually(t, func() bool { return d.Stats()[0].Sent == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, []alert.Stats{{Name: "ops", Sent: 1}}, d.Stats())
}

func TestWebhookGivesUpOnAClientErrorAndNeverLogsTheURL(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 404)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	secretURL := r.srv.URL + "/services/T000/B000/XXXXSECRETXXXX"
	d := dispatcher(t, secretURL, log, nil)
	d.AuthFailed("bad")
	require.Eventually(t, func() bool { return len(d.Stats()) == 1 && d.Stats()[0].Failed == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(1), r.calls.Load(), "a 404 is not retried")
	require.Contains(t, logs.String(), "webhook call failed")
	require.Contains(t, logs.String(), "alert=ops")
	require.NotContains(t, logs.String(), "XXXXSECRETXXXX")

	// Unreachable: the client error names no URL either.
	r.srv.Close()
	d.AuthRecovered()
	require.Eventually(t, func() bool { return d.Stats()[0].Failed == 2 }, 10*time.Second, 5*time.Millisecond)
	require.NotContains(t, logs.String(), "XXXXSECRETXXXX")
	require.NotContains(t, logs.String(), r.srv.URL)
}

func TestNewChecksURLsWithoutPrintingThem(t *testing.T) {
	t.Parallel()
	_, err := alert.New([]config.Alert{
		{Name: "a", Type: config.AlertWebhook, URL: config.NewSecret("ftp://hooks.example/SECRET")},
		{Name: "b", Type: config.AlertWebhook, URL: config.NewSecret("not a url SECRET")},
		{Name: "c", Type: "pager", URL: config.NewSecret("https://x/SECRET")},
	}, alert.Options{})
	require.Error(t, err)
	for _, name := range []string{"alert a", "alert b", "alert c"} {
		require.Contains(t, err.Error(), name)
	}
	require.NotContains(t, err.Error(), "SECRET")
}

func TestNilDispatcherIsANoOp(t *testing.T) {
	t.Parallel()
	var d *alert.Dispatcher
	d.Start(context.Background())
	d.DeadLettered("a", "X")
	d.CircuitOpened("a", "down")
	d.CircuitClosed("a")
	d.AuthFailed("x")
	d.AuthRecovered()
	d.SyncStopped("a", "x")
	d.SyncStarted("a")
	require.Nil(t, d.Stats())
	require.NoError(t, d.Stop(context.Background()))
}

func TestStopSendsWhatIsDue(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	a := config.Alert{Name: "ops", Type: config.AlertWebhook, URL: config.NewSecret(r.srv.URL), Events: config.AlertEvents, Timeout: time.Second}
	d, err := alert.New([]config.Alert{a}, alert.Options{})
	require.NoError(t, err)
	d.AuthFailed("x") // reported before Start: queued
	d.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, d.Stop(ctx))
	require.Len(t, r.messages(), 1)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
