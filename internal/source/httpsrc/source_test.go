package httpsrc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
)

func TestNewChecksEverything(t *testing.T) {
	t.Parallel()
	_, err := New(Options{
		Config: config.HTTP{
			Listen:       "localhost",
			Token:        config.NewSecret("two words"),
			MaxBodyBytes: 1 << 10,
			EventFields:  config.EventFields{MaxEventBytes: 1 << 20},
		},
		PublishTimeout: -time.Second,
		MaxInFlight:    -1,
		RetryAfter:     -time.Second,
		MaxRejected:    -1,
		ReadTimeout:    -time.Second,
		MaxMessageSize: -1,
	})
	require.Error(t, err)
	require.Equal(t, strings.Join([]string{
		"httpsrc: name is required",
		"httpsrc: source : queue is required",
		`httpsrc: source : listen "localhost": missing port in address (want host:port, e.g. 127.0.0.1:8081)`,
		"httpsrc: source : token must not contain spaces or control characters (a client could not send it)",
		"httpsrc: source : max_event_bytes (1MiB) is larger than max_body_bytes (1KiB)",
		"httpsrc: source : event spec: the id field is required\nevent spec: the type field is required",
		"httpsrc: source : publish timeout must not be negative, got -1s",
		"httpsrc: source : max in-flight requests must not be negative, got -1",
		"httpsrc: source : retry-after must not be negative, got -1s",
		"httpsrc: source : max rejected events must not be negative, got -1",
		"httpsrc: source : max message size must not be negative, got -1",
		"httpsrc: source : read timeout must not be negative, got -1s",
	}, "\n"), err.Error())

	cfg := testConfig()
	cfg.Token = config.Secret{}
	_, err = New(Options{Name: "events", Config: cfg, Queue: &gate{}})
	require.EqualError(t, err, "httpsrc: source events: token is required")
	cfg = testConfig()
	cfg.MaxBodyBytes = 0
	_, err = New(Options{Name: "events", Config: cfg, Queue: &gate{}})
	require.EqualError(t, err, "httpsrc: source events: max_body_bytes must be positive, got 0")
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	// The port is taken (by the running source).
	cfg := testConfig()
	cfg.Listen = b.src.Addr()
	other, err := New(Options{Name: "other", Config: cfg, Queue: b.gate})
	require.NoError(t, err)
	err = other.Start(ctx)
	require.ErrorContains(t, err, "httpsrc: source other: cannot listen on "+b.src.Addr()+": ")
	require.ErrorContains(t, err, "address already in use")
	require.Empty(t, other.Addr())
	require.NoError(t, other.Stop(ctx))

	// An address that parses but cannot be listened on.
	cfg.Listen = "127.0.0.1:99999"
	other, err = New(Options{Name: "other", Config: cfg, Queue: b.gate})
	require.NoError(t, err)
	require.ErrorContains(t, other.Start(ctx), "httpsrc: source other: cannot listen on 127.0.0.1:99999: ")

	// Twice.
	require.EqualError(t, b.src.Start(ctx), "httpsrc: source events: Start called twice, or after Stop")
}

// Stop lets a request in flight finish: its 202 goes out once the broker
// confirmed its events, and Stop returns after it.
func TestStopFinishesRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hold := make(chan struct{})
	b.gate.set(func(g *gate) { g.hold = hold })
	body, ids := numbered("inflight", 3)
	answered := make(chan reply, 1)
	go func() { answered <- b.post(t, "application/x-ndjson", body) }()
	b.gate.waitEntered(t)

	stopped := make(chan error, 1)
	go func() { stopped <- b.src.Stop(context.Background()) }()
	// Stop has closed the listener once a new connection is refused.
	require.Eventually(t, func() bool {
		_, err := http.Get("http://" + b.src.Addr() + "/healthz")
		return err != nil
	}, 10*time.Second, 10*time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a request was publishing", err)
	case r := <-answered:
		t.Fatalf("the request was answered (HTTP %d) before its publish was confirmed", r.status)
	default:
	}

	close(hold)
	require.Equal(t, Response{Accepted: 3, Rejected: []Rejection{}}, (<-answered).accepted(t))
	require.NoError(t, <-stopped)
	require.Equal(t, ids, eventIDs(b.drain(t, 3)))
	require.NoError(t, b.src.Stop(context.Background()), "a second Stop is harmless")
	require.EqualError(t, b.src.Start(context.Background()), "httpsrc: source events: Start called twice, or after Stop")
}

// When Stop's context ends first, the publishes in hand are abandoned (the
// client resends) and Stop returns the context's error.
func TestStopTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PublishTimeout = time.Minute })
	b.gate.set(func(g *gate) { g.hold = make(chan struct{}) }) // never released
	body, _ := numbered("abandoned", 2)
	answered := make(chan int, 1) // the status, 0 when the connection was lost
	go func() {
		req, _ := http.NewRequest(http.MethodPost, b.url, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := b.client.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	b.gate.waitEntered(t)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.src.Stop(ctx), context.DeadlineExceeded)
	b.gate.mu.Lock()
	require.ErrorIs(t, b.gate.aborted, context.Canceled, "the publish in hand was abandoned")
	b.gate.mu.Unlock()
	// The client gets a 503 or loses its connection (whichever comes
	// first), never a 202: it resends.
	require.Contains(t, []int{0, http.StatusServiceUnavailable}, <-answered)
	b.drain(t, 0)
}

// A request that reaches the handler while the source stops gets 503.
func TestStoppingAnswers503(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.RetryAfter = 4 * time.Second })
	require.NoError(t, b.src.Stop(context.Background()))
	body, _ := numbered("late", 1)
	req := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	rec := httptest.NewRecorder()
	b.src.mux.ServeHTTP(rec, req)
	r := reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	require.Equal(t, "the source is stopping; retry after 4 s", r.failed(t, http.StatusServiceUnavailable))
	require.Equal(t, "4", r.header.Get("Retry-After"))
	require.Zero(t, b.gate.callCount())
}
