package pgpoll

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/source"
)

// gate is a Backpressure that holds the calls the test chooses until
// the test opens it.
type gate struct {
	mu      sync.Mutex
	calls   int
	holdAt  int           // the call (0-based) that waits for open
	waiting chan struct{} // closed once that call waits
	open    chan struct{} // closed by the test to let it go on
}

func newGate(holdAt int) *gate {
	return &gate{holdAt: holdAt, waiting: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	call := g.calls
	g.calls++
	g.mu.Unlock()
	if call != g.holdAt {
		return nil
	}
	close(g.waiting)
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// backpressureSource is a source over a 10-row table read in pages of 3
// whose Backpressure is g. Its connections carry their own
// application_name, so the test can find them in pg_stat_activity.
func backpressureSource(t *testing.T, b *bundle, g *gate) (*Source, string) {
	t.Helper()
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` SELECT g, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 10) g`)
	app := "sfbridge_bp_" + b.db.Schema
	cfg := b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", BatchSize: 3}, func(c *config.PostgresPoll) {
		sep := "?"
		if strings.Contains(b.db.URL, "?") {
			sep = "&"
		}
		c.DSN = config.NewSecret(b.db.URL + sep + "application_name=" + app)
	})
	s, err := New(Options{Name: "db", Config: cfg, Queue: b.pub, State: b.state, Logger: b.newLogger(), Backpressure: g.wait})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s, app
}

// sessions counts the sessions of application app, and those of them
// inside a transaction.
func sessions(t *testing.T, b *bundle, app string) (all, inTx int) {
	t.Helper()
	err := b.db.Pool.QueryRow(context.Background(),
		`SELECT count(*), count(xact_start) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&all, &inTx)
	require.NoError(t, err)
	return all, inTx
}

func TestBackpressureHoldsThePageUntilItLetsGo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	g := newGate(1) // the second page waits
	s, app := backpressureSource(t, b, g)
	table := b.db.Table("t")

	type result struct {
		stats RunStats
		err   error
	}
	done := make(chan result, 1)
	go func() {
		stats, err := s.Run(context.Background(), table)
		done <- result{stats, err}
	}()
	select {
	case <-g.waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("the second page never asked Backpressure")
	}

	// Held: only the first page is published and checkpointed, and no
	// transaction stays open while the source waits.
	require.Equal(t, []string{`[["id",1]]`, `[["id",2]]`, `[["id",3]]`}, keys(b.drain(t, 3)))
	require.Equal(t, []string{"3"}, b.watermark(t, table).Key)
	all, inTx := sessions(t, b, app)
	require.Positive(t, all, "the source's idle connection is in pg_stat_activity")
	require.Zero(t, inTx, "a transaction is open while the source waits")
	select {
	case r := <-done:
		t.Fatalf("the run ended while Backpressure held it: %+v", r)
	default:
	}

	close(g.open)
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not go on once Backpressure let it")
	}
	require.NoError(t, r.err)
	require.Equal(t, 10, r.stats.Published)
	require.Equal(t, 4, r.stats.Pages)
	require.Equal(t, 4, g.count(), "asked once before each page")
	require.Equal(t, []string{`[["id",4]]`, `[["id",5]]`, `[["id",6]]`, `[["id",7]]`, `[["id",8]]`, `[["id",9]]`, `[["id",10]]`}, keys(b.drain(t, 7)))
	require.Equal(t, []string{"10"}, b.watermark(t, table).Key)
}

func TestStopWhileHeldLeavesThePageForTheNextRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	g := newGate(2) // the third page waits, and is never let go
	s, _ := backpressureSource(t, b, g)
	table := b.db.Table("t")

	errc := make(chan error, 1)
	go func() {
		_, err := s.Run(context.Background(), table)
		errc <- err
	}()
	select {
	case <-g.waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("the third page never asked Backpressure")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx), "Stop ends the wait")
	err := <-errc
	require.True(t, errors.Is(err, source.ErrNotRunning), "got %v", err)
	require.Len(t, b.drain(t, 6), 6, "two pages were published")
	require.Equal(t, []string{"6"}, b.watermark(t, table).Key, "the held page is not checkpointed")

	// The next source starts from the watermark: nothing lost.
	next := b.newSource(t, b.pollConfig(config.PollTable{Table: table, Key: []string{"id"}, Cursor: "updated_at", BatchSize: 3}))
	stats := run(t, next)
	require.Equal(t, 4, stats.Published)
	require.Equal(t, []string{`[["id",7]]`, `[["id",8]]`, `[["id",9]]`, `[["id",10]]`}, keys(b.drain(t, 4)))
	require.Equal(t, []string{"10"}, b.watermark(t, table).Key)
}
