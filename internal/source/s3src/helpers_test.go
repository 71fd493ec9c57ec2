package s3src

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/state/natskv"
)

// testSecret is the secret access key of the test sources; tests check it
// never appears in the log.
const testSecret = "s3cr3t-9f1c7a2e-4b6d-4e8a-a1b2-c3d4e5f60718"

// testNow is the clock of the test sources.
var testNow = time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)

// bundle is what a test works with.
type bundle struct {
	// opts make the next source (start).
	opts Options
	src  *Source
	s3   *fakeS3
	sqs  *fakeSQS // nil unless the test asked for it
	// in reads back what the sources queued.
	in    queue.Consumer
	dlq   *dlq.Store
	state *natskv.Store
	// gate sits between the sources and the queue and can fail or hold.
	gate *gate
	log  *syncBuffer
}

// testConfig is an s3 source on the fake S3, prefix "in/", listing once
// an hour (tests trigger runs), mark: state.
func testConfig(endpoint string) config.S3 {
	return config.S3{
		Bucket:           testBucket,
		Prefix:           "in/",
		Region:           "us-east-1",
		Endpoint:         endpoint,
		ForcePathStyle:   true,
		AccessKeyID:      config.NewSecret("AKIDTEST"),
		SecretAccessKey:  config.NewSecret(testSecret),
		Every:            time.Hour,
		Mark:             config.MarkState,
		ProcessedPrefix:  "sfbridge/processed/",
		QuarantinePrefix: "sfbridge/quarantine/",
		FileFormat:       config.FileFormat{Format: config.FormatAuto, Compression: config.CompressionAuto},
		EventFields: config.EventFields{
			IDField: "id", TypeField: "type", TimeField: "time", KeyField: "id", MaxEventBytes: 1 << 20,
		},
	}
}

// setup makes the fake S3 (and SQS when withSQS), an embedded broker with
// a consumer of everything queued, the DLQ and the state, and the options
// of a source (edited by edit). It does not start a source.
func setup(t testing.TB, withSQS bool, edit ...func(*Options)) *bundle {
	t.Helper()
	ctx := context.Background()
	br := brokertest.Embedded(t, t.TempDir())
	q, err := natsjs.Open(ctx, br, natsjs.Config{})
	require.NoError(t, err)
	// Interest retention: the consumer must exist before anything is published.
	in, err := q.Consumer(ctx, queue.ConsumerConfig{Name: "test", Subject: "in.>"})
	require.NoError(t, err)
	st, err := natskv.Open(ctx, br, natskv.Options{})
	require.NoError(t, err)
	b := &bundle{
		s3: newFakeS3(t), in: in, dlq: dlq.NewStore(q), state: st,
		gate: &gate{next: q, entered: make(chan struct{}, 100)}, log: &syncBuffer{},
	}
	cfg := testConfig(b.s3.srv.URL)
	if withSQS {
		b.sqs = newFakeSQS(t)
		cfg.SQSQueueURL = b.sqs.url
	}
	b.opts = Options{
		Name:        "bucket",
		Config:      cfg,
		Queue:       b.gate,
		DLQ:         b.dlq,
		State:       st,
		Logger:      slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:         func() time.Time { return testNow },
		Backoff:     fastBackoff(),
		SQSWait:     time.Second,
		MaxAttempts: 1,
	}
	for _, e := range edit {
		e(&b.opts)
	}
	t.Cleanup(func() { require.NotContains(t, b.log.String(), testSecret, "the secret access key was logged") })
	return b
}

// fastBackoff retries failed runs within tens of milliseconds.
func fastBackoff() retry.Policy {
	return retry.Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2}
}

// start makes a source from b.opts, starts it and waits for its first
// listing run to end (well or not).
func (b *bundle) start(t testing.TB) *Source {
	t.Helper()
	src, err := New(b.opts)
	require.NoError(t, err)
	require.NoError(t, src.Start(context.Background()))
	t.Cleanup(func() { _ = src.Stop(context.Background()) })
	b.src = src
	eventually(t, "the first listing run ends", func() bool {
		st := src.Stats()
		return st.Listings+st.Failures > 0
	})
	return src
}

// rerun triggers a full listing run and waits for it to end well.
func (b *bundle) rerun(t testing.TB) {
	t.Helper()
	n := b.src.Stats().Listings
	_, err := b.src.Trigger("")
	require.NoError(t, err)
	eventually(t, "the triggered run ends", func() bool { return b.src.Stats().Listings > n })
}

// stop stops the running source.
func (b *bundle) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.src.Stop(ctx))
}

// eventually polls cond every 10ms until it holds, failing after 15s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	b.noMore(t)
	return out
}

// noMore fails if a record is waiting in the queue.
func (b *bundle) noMore(t testing.TB) {
	t.Helper()
	extra, err := b.in.Fetch(context.Background(), 1, 200*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, extra, "more records than expected")
}

// deadLetters returns the DLQ entries of the test source.
func (b *bundle) deadLetters(t testing.TB) []dlq.Entry {
	t.Helper()
	items, _, err := b.dlq.List(context.Background(), dlq.Filter{Sync: "bucket"}, 0, 1000)
	require.NoError(t, err)
	out := make([]dlq.Entry, len(items))
	for i, it := range items {
		require.NoError(t, it.Err)
		out[i] = it.Entry
	}
	return out
}

// checkpoint returns the stored checkpoint of key; ok is false when none.
func (b *bundle) checkpoint(t testing.TB, key string) (Checkpoint, bool) {
	t.Helper()
	e, err := b.state.Get(context.Background(), ObjectKey("bucket", key))
	if err != nil {
		return Checkpoint{}, false
	}
	c, err := ParseCheckpoint(e.Value)
	require.NoError(t, err)
	return c, true
}

// eventIDs returns the "event_id" metadata of each record, sorted.
func eventIDs(rs []record.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Metadata["event_id"]
	}
	sort.Strings(out)
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

// manyEvents is an NDJSON object of n events "<prefix>0"….
func manyEvents(prefix string, n int) []byte {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = ev(fmt.Sprintf("%s%d", prefix, i), "order")
	}
	return ndjson(evs...)
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

// formEncode encodes a key as S3 event notifications do.
func formEncode(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// gate is an event.Publisher in front of the real queue that can be told
// to fail (after publishing the first few messages for real) or to hold a
// publish until released, and counts what it passed on.
type gate struct {
	mu   sync.Mutex
	next event.Publisher
	// err fails each Publish once its first partial messages are published.
	err     error
	partial int
	// failAt, when > 0, fails only the failAt-th Publish (counting from 1).
	failAt int
	// hold, when set, makes Publish wait until it is closed or ctx ends.
	hold chan struct{}
	// entered receives a value as each Publish starts.
	entered chan struct{}
	calls   int
	// sent counts the messages passed to the queue.
	sent int
}

func (g *gate) Publish(ctx context.Context, msgs ...queue.Message) error {
	g.mu.Lock()
	g.calls++
	next, fail, partial, hold := g.next, g.err, g.partial, g.hold
	if g.failAt > 0 && g.calls != g.failAt {
		fail = nil
	}
	g.mu.Unlock()
	select {
	case g.entered <- struct{}{}:
	default:
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return fmt.Errorf("held publish: %w", ctx.Err())
		}
	}
	if fail != nil {
		if n := min(partial, len(msgs)); n > 0 {
			if err := next.Publish(ctx, msgs[:n]...); err != nil {
				return err
			}
			g.count(n)
		}
		return fail
	}
	if err := next.Publish(ctx, msgs...); err != nil {
		return err
	}
	g.count(len(msgs))
	return nil
}

func (g *gate) count(n int) {
	g.mu.Lock()
	g.sent += n
	g.mu.Unlock()
}

// MaxMessageSize passes the queue's limit through.
func (g *gate) MaxMessageSize() int {
	return g.next.(sizeLimiter).MaxMessageSize()
}

func (g *gate) set(edit func(g *gate)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	edit(g)
}

func (g *gate) sentCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sent
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
