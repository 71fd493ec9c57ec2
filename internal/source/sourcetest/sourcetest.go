// Package sourcetest holds what the tests of every source package share: an
// embedded broker with the queue, the DLQ and the state store a source
// writes to, a consumer that reads back what the source published, a log
// buffer safe for the logger's goroutines, and polling a condition with a
// deadline. It is used only by tests.
package sourcetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/state/natskv"
)

// InSubject is the subject filter of Bus.In: every source's records.
const InSubject = "in.>"

// Bus is an embedded broker with what a source writes to and a consumer of
// everything it publishes.
type Bus struct {
	// Broker is the embedded broker; it closes at cleanup (or earlier,
	// when a test closes it to simulate an outage).
	Broker *broker.Broker
	// Queue is the queue on Broker, the one a source publishes to.
	Queue *natsjs.Queue
	// State is the state store on Broker (checkpoints, watermarks).
	State *natskv.Store
	// DLQ is the dead-letter store on Queue.
	DLQ *dlq.Store
	// In is the durable consumer "test" on InSubject; it exists before
	// anything is published (the stream has interest retention).
	In queue.Consumer
}

// Open opens an embedded broker storing under dir (t.TempDir(), or the same
// dir again to test a restart) with the queue configured by qc, the state
// store, the DLQ store and the consumer In. The broker closes at cleanup.
func Open(t testing.TB, dir string, qc natsjs.Config) *Bus {
	t.Helper()
	ctx := context.Background()
	br := brokertest.Embedded(t, dir)
	q, err := natsjs.Open(ctx, br, qc)
	require.NoError(t, err)
	st, err := natskv.Open(ctx, br, natskv.Options{})
	require.NoError(t, err)
	in, err := q.Consumer(ctx, queue.ConsumerConfig{Name: "test", Subject: InSubject})
	require.NoError(t, err)
	return &Bus{Broker: br, Queue: q, State: st, DLQ: dlq.NewStore(q), In: in}
}

// noMoreWait is how long NoMore waits for a record that should not come.
const noMoreWait = 300 * time.Millisecond

// Drain reads n records from in (waiting up to 30s in all for them), checks
// that each message's ID is its record's ID, acks them, and fails if more
// arrive (NoMore).
func Drain(t testing.TB, in queue.Consumer, n int) []record.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []record.Record
	for len(out) < n {
		ds, err := in.Fetch(ctx, n-len(out), 5*time.Second)
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
	NoMore(t, in)
	return out
}

// NoMore fails if a record is waiting in in, or arrives within 300ms.
func NoMore(t testing.TB, in queue.Consumer) {
	t.Helper()
	extra, err := in.Fetch(context.Background(), 1, noMoreWait)
	require.NoError(t, err)
	require.Empty(t, extra, "more records than expected")
}

// DeadLetters returns the DLQ entries of the named source (up to 10,000),
// failing on an entry that cannot be read.
func DeadLetters(t testing.TB, d *dlq.Store, source string) []dlq.Entry {
	t.Helper()
	items, _, err := d.List(context.Background(), dlq.Filter{Sync: source}, 0, 10000)
	require.NoError(t, err)
	out := make([]dlq.Entry, len(items))
	for i, it := range items {
		require.NoError(t, it.Err)
		out[i] = it.Entry
	}
	return out
}

// LogBuffer is a bytes.Buffer safe for the logger's goroutines, so a test
// can read what was logged while the source runs.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a text logger at debug level writing to w.
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Eventually polls cond every 10ms until it holds, and fails the test,
// naming what it waited for, if it does not within the given time.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for one
	}
}

// Event is a JSON event with the default identity fields (id, type and a
// fixed time); extra are more JSON members (`"a":1`).
func Event(id, typ string, extra ...string) string {
	s := fmt.Sprintf(`{"id":%q,"type":%q,"time":"2024-05-01T12:00:00Z"`, id, typ)
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

// NDJSON joins events into newline-terminated lines.
func NDJSON(events ...string) []byte {
	return []byte(strings.Join(events, "\n") + "\n")
}

// Gzip compresses data with gzip.
func Gzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// EventIDs returns the "event_id" metadata of each record, in order.
func EventIDs(rs []record.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Metadata["event_id"]
	}
	return out
}
