package pgpoll

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

// fiveRows creates table t with ids 1–5, in cursor order.
func fiveRows(t *testing.T, b *bundle) config.PollTable {
	t.Helper()
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` SELECT g, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 5) g`)
	return config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", BatchSize: 2}
}

func TestWatermarkSavedOnlyAfterPublish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newSource(t, b.pollConfig(fiveRows(t, b)))
	table := b.db.Table("t")

	// While a page is being published, the watermark is still at the end
	// of the previous page.
	var seen []string
	b.pub.before = func(call int, msgs []queue.Message) {
		wm := b.watermark(t, table)
		if wm == nil {
			seen = append(seen, fmt.Sprintf("call %d: none", call))
		} else {
			seen = append(seen, fmt.Sprintf("call %d: id %s", call, wm.Key[0]))
		}
	}
	b.pub.failAt = 1 // the second page's publish fails
	_, err := s.Run(context.Background(), table)
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, []string{"call 0: none", "call 1: id 2"}, seen)
	require.Equal(t, "2", b.watermark(t, table).Key[0], "unchanged by the failed page")
	failedIDs := b.pub.batches[1]

	// The next run publishes the same records again, with the same IDs.
	b.pub.reset()
	b.pub.before = nil
	stats := run(t, s)
	require.Equal(t, 3, stats.Published)
	require.Equal(t, failedIDs, b.pub.batches[0])
	require.Equal(t, "5", b.watermark(t, table).Key[0])
	require.Equal(t, []string{`[["id",1]]`, `[["id",2]]`, `[["id",3]]`, `[["id",4]]`, `[["id",5]]`}, keys(b.drain(t, 5)))
}

// storedButUnconfirmed publishes to the queue, then fails: the broker has
// the records but the source never heard so (a crash or a lost
// confirmation between publish and checkpoint).
type storedButUnconfirmed struct{ next Publisher }

func (p storedButUnconfirmed) Publish(ctx context.Context, msgs ...queue.Message) error {
	if err := p.next.Publish(ctx, msgs...); err != nil {
		return err
	}
	return errInjected
}

// A crash between a confirmed publish and the checkpoint: the restarted
// source publishes the page again (invariant 1: duplicates, never a loss).
// Without overlap the broker does not deduplicate them (it would have to
// remember every ID of a backfill): the page is delivered twice, as the same
// records with the same IDs, which the delivery writes idempotently.
func TestCrashBetweenPublishAndCheckpointRepublishesThePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.pollConfig(fiveRows(t, b))
	b.pub.next = storedButUnconfirmed{next: b.queue}
	s := b.newSource(t, cfg)
	_, err := s.Run(context.Background(), b.db.Table("t"))
	require.ErrorIs(t, err, errInjected)
	require.Nil(t, b.watermark(t, b.db.Table("t")))

	// "Restart": a new source on the same state re-reads from the start.
	b.pub.next = b.queue
	s2 := b.newSource(t, cfg)
	require.Equal(t, 5, run(t, s2).Published)
	// The first page (2 rows) was stored before the crash; then all 5.
	got := b.drain(t, 7)
	require.Equal(t, []string{`[["id",1]]`, `[["id",2]]`, `[["id",1]]`, `[["id",2]]`, `[["id",3]]`, `[["id",4]]`, `[["id",5]]`}, keys(got))
	require.Equal(t, got[0].ID, got[2].ID, "the same record, the same ID")
	require.Equal(t, got[1].ID, got[3].ID, "the same record, the same ID")
}

// With overlap, re-read rows keep the broker's deduplication: a crash
// re-publish within the window is stored once.
func TestCrashRepublishWithOverlapIsDeduplicated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tc := fiveRows(t, b)
	tc.Overlap = time.Minute
	cfg := b.pollConfig(tc)
	b.pub.next = storedButUnconfirmed{next: b.queue}
	s := b.newSource(t, cfg)
	_, err := s.Run(context.Background(), b.db.Table("t"))
	require.ErrorIs(t, err, errInjected)

	b.pub.next = b.queue
	s2 := b.newSource(t, cfg)
	require.Equal(t, 5, run(t, s2).Published)
	require.Equal(t, []string{`[["id",1]]`, `[["id",2]]`, `[["id",3]]`, `[["id",4]]`, `[["id",5]]`}, keys(b.drain(t, 5)), "and no more")
}

func TestRestartResumesFromWatermark(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.pollConfig(fiveRows(t, b))
	s := b.newSource(t, cfg)
	require.Equal(t, 5, run(t, s).Published)
	require.NoError(t, s.Stop(context.Background()))
	b.drain(t, 5)

	b.db.Exec(t, `INSERT INTO `+b.db.Ident("t")+` VALUES (6, '2024-02-01'), (0, '2023-01-01')`)
	s2 := b.newSource(t, cfg)
	stats := run(t, s2)
	require.Equal(t, 1, stats.Published, "row 0 is older than the watermark (a poll cannot see it; see the lag)")
	require.Equal(t, []string{`[["id",6]]`}, keys(b.drain(t, 1)))
}

func TestStopFinishesThePageInHand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newSource(t, b.pollConfig(fiveRows(t, b)))
	stopped := make(chan error, 1)
	b.pub.before = func(call int, _ []queue.Message) {
		if call == 0 {
			go func() { stopped <- s.Stop(context.Background()) }()
			sourcetest.Eventually(t, 5*time.Second, "stop requested", s.isStopping)
		}
	}
	stats, err := s.Run(context.Background(), b.db.Table("t"))
	require.NoError(t, err)
	require.NoError(t, <-stopped)
	require.Equal(t, 1, stats.Pages, "stopped after the first page")
	require.Equal(t, "2", b.watermark(t, b.db.Table("t")).Key[0], "its watermark saved")
	_, err = s.Run(context.Background(), b.db.Table("t"))
	require.ErrorContains(t, err, "not running")
}

func TestWatermarkMovedDuringRunIsNotOverwritten(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newSource(t, b.pollConfig(fiveRows(t, b)))
	key := StateKey("db", b.db.Table("t"))
	b.pub.before = func(call int, _ []queue.Message) {
		if call == 1 { // an operator resets the watermark mid-run
			require.NoError(t, b.state.Delete(context.Background(), key, 0))
		}
	}
	_, err := s.Run(context.Background(), b.db.Table("t"))
	require.ErrorContains(t, err, "changed during the run")
	require.Nil(t, b.watermark(t, b.db.Table("t")), "the reset stands")
}

func TestHundredThousandRowsStreamPageByPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("big")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id bigint PRIMARY KEY, name text, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `CREATE INDEX ON `+tbl+` (updated_at, id)`)
	// 100,000 rows, 1,000 per distinct updated_at: ties everywhere.
	b.db.Exec(t, `INSERT INTO `+tbl+` SELECT g, 'row ' || g, '2024-01-01'::timestamptz + (g / 1000) * interval '1 millisecond' FROM generate_series(1, 100000) g`)
	b.db.Exec(t, `ANALYZE `+tbl)
	// Only the source's own publish path: the broker is not what is measured.
	b.pub.next = nil
	const batch = 1000
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("big"), Key: []string{"id"}, Cursor: "updated_at", BatchSize: batch}))
	stats := run(t, s)
	require.Equal(t, 100_000, stats.Published)
	// Memory is bounded by the page: no call carries more than a page, and
	// the rows came in 100 pages, each read, published and checkpointed
	// before the next.
	require.Len(t, b.pub.batches, 100)
	seen := make(map[string]bool, 100_000)
	for i, ids := range b.pub.batches {
		require.LessOrEqual(t, len(ids), batch, "call %d", i)
		for _, id := range ids {
			require.False(t, seen[id], "duplicate")
			seen[id] = true
		}
	}
	require.Len(t, seen, 100_000)
	wm := b.watermark(t, b.db.Table("big"))
	require.Equal(t, "100000", wm.Key[0])
	require.Zero(t, run(t, s).Rows)
}

// smallQueue is the bundle's recorder with a small largest message.
type smallQueue struct {
	*recorder
	max int
}

func (q smallQueue) MaxMessageSize() int { return q.max }

func TestOversizedRowIsLoggedAndPassed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, body text, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (1, 'small', '2024-01-01'), (2, repeat('x', 5000), '2024-01-02'), (3, 'small', '2024-01-03')`)
	s, err := New(Options{Name: "db", Queue: smallQueue{b.pub, 2000}, State: b.state, Logger: b.newLogger(),
		Config: b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at"})})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	stats := run(t, s)
	require.Equal(t, 3, stats.Rows)
	require.Equal(t, 1, stats.Skipped)
	require.Equal(t, []string{`[["id",1]]`, `[["id",3]]`}, keys(b.drain(t, 2)), "the rows around it flow on (invariant 7)")
	require.Equal(t, "3", b.watermark(t, b.db.Table("t")).Key[0])
	require.Contains(t, b.log.String(), "row skipped: it cannot become a record")
	require.Contains(t, b.log.String(), "key=[2]")
	require.Contains(t, b.log.String(), "more than the queue's largest message (2000 bytes)")
}
