package pgpoll

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/pgtest"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
	"github.com/sfbridge/sfbridge/internal/state"
)

// bundle is what a test works with.
type bundle struct {
	db    *pgtest.DB
	queue *natsjs.Queue
	state state.Store
	// in reads back what the source published to the queue.
	in queue.Consumer
	// pub sits between the source and the queue: it records every
	// message and can be told to fail.
	pub *recorder
	log *sourcetest.LogBuffer
}

// setup gives a test a schema, an embedded broker with the queue, the
// state store and a consumer of everything published.
func setup(t *testing.T) *bundle {
	t.Helper()
	bus := sourcetest.Open(t, t.TempDir(), natsjs.Config{})
	return &bundle{
		db: pgtest.New(t), queue: bus.Queue, state: bus.State, in: bus.In,
		pub: &recorder{next: bus.Queue, failAt: -1}, log: &sourcetest.LogBuffer{},
	}
}

// pollConfig is a source config with one table and test-friendly settings
// (no lag), changed by edit.
func (b *bundle) pollConfig(table config.PollTable, edit ...func(*config.PostgresPoll)) config.PostgresPoll {
	if table.BatchSize == 0 {
		table.BatchSize = 1000
	}
	cfg := config.PostgresPoll{
		DSN:              config.NewSecret(b.db.URL),
		Every:            time.Hour,
		BatchSize:        table.BatchSize,
		StatementTimeout: 30 * time.Second,
		PoolSize:         2,
		Tables:           []config.PollTable{table},
	}
	for _, e := range edit {
		e(&cfg)
	}
	return cfg
}

// newSource builds a source over the bundle's recorder; Stop runs at cleanup.
func (b *bundle) newSource(t *testing.T, cfg config.PostgresPoll) *Source {
	t.Helper()
	s, err := New(Options{
		Name:   "db",
		Config: cfg,
		Queue:  b.pub,
		State:  b.state,
		Logger: b.newLogger(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func (b *bundle) newLogger() *slog.Logger {
	return sourcetest.Logger(b.log)
}

// run runs the source's only table once and fails the test on error.
func run(t *testing.T, s *Source) RunStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stats, err := s.Run(ctx, s.Tables()[0])
	require.NoError(t, err)
	return stats
}

// drain fetches the records published so far (n of them) and acks them
// (sourcetest.Drain).
func (b *bundle) drain(t *testing.T, n int) []record.Record {
	t.Helper()
	return sourcetest.Drain(t, b.in, n)
}

// watermark returns the table's saved watermark, nil when there is none.
func (b *bundle) watermark(t *testing.T, table string) *Position {
	t.Helper()
	e, err := b.state.Get(context.Background(), StateKey("db", table))
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	require.NoError(t, err)
	p, err := ParsePosition(e.Value)
	require.NoError(t, err)
	return &p
}

// keys returns the "id" payload field of each record, as text.
func keys(rs []record.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = keyText(r)
	}
	return out
}

func keyText(r record.Record) string {
	s := r.Key.String()
	return s
}

// recorder is a Publisher that records what passes through it to next
// (nil: nothing further) and can be made to fail.
type recorder struct {
	next Publisher

	mu sync.Mutex
	// failAt makes the call with this index (0-based) fail without
	// publishing; -1 never.
	failAt int
	calls  int
	// batches holds the IDs of each call, failed or not.
	batches [][]string
	// before runs at the start of each call, with its index.
	before func(call int, msgs []queue.Message)
}

var errInjected = errors.New("injected publish failure")

func (r *recorder) Publish(ctx context.Context, msgs ...queue.Message) error {
	r.mu.Lock()
	call := r.calls
	r.calls++
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	r.batches = append(r.batches, ids)
	fail := r.failAt == call && r.failAt >= 0
	before := r.before
	r.mu.Unlock()
	if before != nil {
		before(call, msgs)
	}
	if fail {
		return errInjected
	}
	if r.next == nil {
		return nil
	}
	return r.next.Publish(ctx, msgs...)
}

// ids returns every ID recorded, in order.
func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches, r.calls, r.failAt = nil, 0, -1
}
