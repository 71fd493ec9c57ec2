package s3src

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
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
	log  *sourcetest.LogBuffer
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
	bus := sourcetest.Open(t, t.TempDir(), natsjs.Config{})
	b := &bundle{
		s3: newFakeS3(t), in: bus.In, dlq: bus.DLQ, state: bus.State,
		gate: &gate{next: bus.Queue, entered: make(chan struct{}, 100)}, log: &sourcetest.LogBuffer{},
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
		State:       bus.State,
		Logger:      sourcetest.Logger(b.log),
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

// eventually polls cond until it holds, failing after 15s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	sourcetest.Eventually(t, 15*time.Second, what, cond)
}

// drain reads n records from the queue (sourcetest.Drain).
func (b *bundle) drain(t testing.TB, n int) []record.Record {
	t.Helper()
	return sourcetest.Drain(t, b.in, n)
}

// noMore fails if a record is waiting in the queue.
func (b *bundle) noMore(t testing.TB) {
	t.Helper()
	sourcetest.NoMore(t, b.in)
}

// deadLetters returns the DLQ entries of the test source.
func (b *bundle) deadLetters(t testing.TB) []dlq.Entry {
	t.Helper()
	return sourcetest.DeadLetters(t, b.dlq, "bucket")
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
	out := sourcetest.EventIDs(rs)
	sort.Strings(out)
	return out
}

// Event helpers shared with the other sources' tests.
var (
	ev      = sourcetest.Event
	ndjson  = sourcetest.NDJSON
	gzipped = sourcetest.Gzip
)

// manyEvents is an NDJSON object of n events "<prefix>0"….
func manyEvents(prefix string, n int) []byte {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = ev(fmt.Sprintf("%s%d", prefix, i), "order")
	}
	return ndjson(evs...)
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
	return g.next.(source.SizeLimiter).MaxMessageSize()
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
