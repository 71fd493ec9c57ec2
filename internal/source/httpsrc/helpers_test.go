package httpsrc

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
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
	log  *syncBuffer
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
	br := brokertest.Embedded(t, dir)
	q, err := natsjs.Open(ctx, br, natsjs.Config{})
	require.NoError(t, err)
	// Interest retention: the consumer must exist before anything is published.
	in, err := q.Consumer(ctx, queue.ConsumerConfig{Name: "test", Subject: "in.>"})
	require.NoError(t, err)
	b := &bundle{queue: q, broker: br, dir: dir, in: in, gate: &gate{next: q, entered: make(chan struct{}, 100)}, log: &syncBuffer{}}
	opts := Options{
		Name:   "events",
		Config: testConfig(),
		Queue:  b.gate,
		Logger: slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, e := range edit {
		e(&opts)
	}
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

// drain reads n records from the queue (waiting for them up to a
// deadline), acks them, and fails if more arrive.
func (b *bundle) drain(t testing.TB, n int) []record.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []record.Record
	for len(out) < n {
		ds, err := b.in.Fetch(ctx, n-len(out), 5*time.Second)
		require.NoError(t, err)
		require.NotEmpty(t, ds, "timed out with %d of %d records", len(out), n)
		for _, d := range ds {
			r, err := record.Decode(d.Data())
			require.NoError(t, err)
			require.Equal(t, r.ID, d.ID(), "message ID is the record ID")
			require.NoError(t, d.Ack(ctx))
			out = append(out, r)
		}
	}
	extra, err := b.in.Fetch(ctx, 1, 200*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, extra, "more records than expected")
	return out
}

// eventIDs returns the "event_id" metadata of each record.
func eventIDs(rs []record.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Metadata["event_id"]
	}
	return out
}

// ev is an event with the default identity fields; extra is more JSON
// members (`"a":1`).
func ev(id, typ string, extra ...string) string {
	s := fmt.Sprintf(`{"id":%q,"type":%q,"time":"2024-05-01T12:00:00Z"`, id, typ)
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

// ndjson joins events into lines.
func ndjson(events ...string) []byte {
	return []byte(strings.Join(events, "\n") + "\n")
}

// array joins events into a JSON array.
func array(events ...string) []byte {
	return []byte("[" + strings.Join(events, ",") + "]")
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
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
	return g.next.(sizeLimiter).MaxMessageSize()
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

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
