package httpsrc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

// testToken is the bearer token of the test sources; tests check it never
// appears in a response or the log.
const testToken = "tok-3f9c2a7e-b1d4-4e0a-9c6b-5d8e7f1a2b3c"

// bundle is what a test works with.
type bundle struct {
	src *Source
	// url is the source's POST /v1/events.
	url    string
	client *http.Client
	queue  *natsjs.Queue
	// broker holds the queue, stored under dir.
	broker *broker.Broker
	dir    string
	// in reads back what the source queued.
	in queue.Consumer
	// gate sits between the source and the queue and can fail or hold.
	gate *gate
	log  *sourcetest.LogBuffer
}

// testConfig is an http source config on a free port of 127.0.0.1 with
// the default event fields and limits.
func testConfig() config.HTTP {
	return config.HTTP{
		Listen:       "127.0.0.1:0",
		Token:        config.NewSecret(testToken),
		MaxBodyBytes: 10 << 20,
		EventFields: config.EventFields{
			IDField: "id", TypeField: "type", TimeField: "time", KeyField: "id", MaxEventBytes: 1 << 20,
		},
	}
}

// setup starts a source (edited by edit) on an embedded broker, with a
// consumer of everything it queues; Stop runs at cleanup.
func setup(t testing.TB, edit ...func(*Options)) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	bus := sourcetest.Open(t, dir, natsjs.Config{})
	b := &bundle{
		queue: bus.Queue, broker: bus.Broker, dir: dir, in: bus.In,
		gate: &gate{next: bus.Queue, entered: make(chan struct{}, 100)}, log: &sourcetest.LogBuffer{},
	}
	opts := Options{
		Name:   "events",
		Config: testConfig(),
		Queue:  b.gate,
		Logger: sourcetest.Logger(b.log),
	}
	for _, e := range edit {
		e(&opts)
	}
	var err error
	b.src, err = New(opts)
	require.NoError(t, err)
	require.NoError(t, b.src.Start(ctx))
	t.Cleanup(func() { _ = b.src.Stop(context.Background()) })
	b.url = "http://" + b.src.Addr() + "/v1/events"
	b.client = &http.Client{Timeout: 30 * time.Second}
	t.Cleanup(b.client.CloseIdleConnections)
	return b
}

// reply is an answer of the source.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// post sends body with the test token and contentType; edit may change
// the request before it goes.
func (b *bundle) post(t testing.TB, contentType string, body []byte, edit ...func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, e := range edit {
		e(req)
	}
	return b.do(t, req)
}

func (b *bundle) do(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

// accepted checks the reply is a 202 and returns its body.
func (r reply) accepted(t testing.TB) Response {
	t.Helper()
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	require.Len(t, r.header.Get("X-Request-Id"), 24)
	var res Response
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&res), "body: %s", r.body)
	require.NotNil(t, res.Rejected, "rejected is [] when empty, never null: %s", r.body)
	return res
}

// failed checks the reply has status and an error body (exactly the keys
// "error", and "rejected": [] for a 400), and returns the error text.
func (r reply) failed(t testing.TB, status int) string {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	require.Len(t, r.header.Get("X-Request-Id"), 24)
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.body, &body), "body: %s", r.body)
	msg, ok := body["error"].(string)
	require.True(t, ok, "body: %s", r.body)
	require.NotEmpty(t, msg)
	if status == http.StatusBadRequest {
		require.Equal(t, map[string]any{"error": msg, "rejected": []any{}}, body)
	} else {
		require.Equal(t, map[string]any{"error": msg}, body)
	}
	require.NotContains(t, string(r.body), testToken)
	return msg
}

// drain reads n records from the queue (sourcetest.Drain).
func (b *bundle) drain(t testing.TB, n int) []record.Record {
	t.Helper()
	return sourcetest.Drain(t, b.in, n)
}

// Event helpers shared with the other sources' tests.
var (
	ev       = sourcetest.Event
	ndjson   = sourcetest.NDJSON
	gzipped  = sourcetest.Gzip
	eventIDs = sourcetest.EventIDs
)

// array joins events into a JSON array.
func array(events ...string) []byte {
	return []byte("[" + strings.Join(events, ",") + "]")
}

// withGzip sets Content-Encoding: gzip.
func withGzip(req *http.Request) { req.Header.Set("Content-Encoding", "gzip") }

// gate is an event.Publisher in front of the real queue that can be told
// to fail (after publishing the first few messages for real) or to hold a
// publish until released.
type gate struct {
	mu   sync.Mutex
	next event.Publisher
	// err fails each Publish once its first partial messages are published.
	err     error
	partial int
	// hold, when set, makes Publish wait until it is closed or ctx ends.
	hold chan struct{}
	// entered receives a value as each Publish starts.
	entered chan struct{}
	calls   int
	// aborted holds the ctx error a held Publish saw.
	aborted error
}

func (g *gate) Publish(ctx context.Context, msgs ...queue.Message) error {
	g.mu.Lock()
	next, fail, partial, hold := g.next, g.err, g.partial, g.hold
	g.calls++
	g.mu.Unlock()
	select {
	case g.entered <- struct{}{}:
	default:
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			g.mu.Lock()
			g.aborted = ctx.Err()
			g.mu.Unlock()
			return fmt.Errorf("held publish: %w", ctx.Err())
		}
	}
	if fail != nil {
		if n := min(partial, len(msgs)); n > 0 {
			if err := next.Publish(ctx, msgs[:n]...); err != nil {
				return err
			}
		}
		return fail
	}
	return next.Publish(ctx, msgs...)
}

// MaxMessageSize passes the queue's limit through, as the queue itself
// would give it to the source.
func (g *gate) MaxMessageSize() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.next.(source.SizeLimiter).MaxMessageSize()
}

func (g *gate) set(edit func(g *gate)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	edit(g)
}

func (g *gate) callCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// waitEntered waits for a Publish to start.
func (g *gate) waitEntered(t testing.TB) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no Publish started within 10s")
	}
}
