package pgpoll

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

func TestLagHoldsBackFreshRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (1, now()), (2, now() - interval '59 minutes'), (3, now() - interval '2 hours')`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", Lag: time.Hour}))
	require.Equal(t, 1, run(t, s).Published)
	require.Equal(t, []string{`[["id",3]]`}, keys(b.drain(t, 1)))

	// A timestamp without time zone is compared with the session's local time.
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("local")+` (id int PRIMARY KEY, updated_at timestamp NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+b.db.Ident("local")+` VALUES (1, localtimestamp), (2, localtimestamp - interval '2 hours')`)
	s2 := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("local"), Key: []string{"id"}, Cursor: "updated_at", Lag: time.Hour}))
	require.Equal(t, 1, run(t, s2).Published)
	require.Equal(t, []string{`[["id",2]]`}, keys(b.drain(t, 1)))
}

// lateCommit opens a transaction that writes row 1 with the current time,
// commits row 2 with a later time, runs the source once while the
// transaction is open, then commits it.
func lateCommit(t *testing.T, b *bundle, s *Source) (firstRun RunStats) {
	t.Helper()
	ctx := context.Background()
	tbl := b.db.Ident("t")
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `INSERT INTO `+tbl+` VALUES (1, clock_timestamp())`)
	require.NoError(t, err)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (2, clock_timestamp())`)
	firstRun = run(t, s)
	require.NoError(t, tx.Commit(ctx))
	return firstRun
}

func TestLateCommitIsDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("t")+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", Lag: 2 * time.Second}))

	first := lateCommit(t, b, s)
	require.Zero(t, first.Rows, "the poll ran within the lag: both rows wait")
	var published int
	sourcetest.Eventually(t, 20*time.Second, "both rows published once the lag passed", func() bool {
		published += run(t, s).Published
		return published == 2
	})
	require.Equal(t, []string{`[["id",1]]`, `[["id",2]]`}, keys(b.drain(t, 2)))
}

// TestLateCommitWithoutLagIsLost is the control: without a lag, the later
// row moves the watermark past the row still committing, which is never
// read. It shows what the lag is for (and that the test above can fail).
func TestLateCommitWithoutLagIsLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("t")+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", Lag: 0}))
	first := lateCommit(t, b, s)
	require.Equal(t, 1, first.Published)
	require.Zero(t, run(t, s).Rows)
	require.Equal(t, []string{`[["id",2]]`}, keys(b.drain(t, 1)))
}

// longTransaction commits row 2 (written 5s ago) while a transaction that
// wrote row 1 10s ago is still open, runs the source, then commits row 1:
// a transaction longer than the lag.
func longTransaction(t *testing.T, b *bundle, s *Source) {
	t.Helper()
	ctx := context.Background()
	tbl := b.db.Ident("t")
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `INSERT INTO `+tbl+` VALUES (1, now() - interval '10 seconds')`)
	require.NoError(t, err)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (2, now() - interval '5 seconds')`)
	require.Equal(t, 1, run(t, s).Published)
	require.NoError(t, tx.Commit(ctx))
}

func TestOverlapCatchesTransactionsLongerThanLag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		overlap time.Duration
		want    []string // records in the queue, in order
	}{
		// The documented limit: the row is never read.
		{"without overlap the row is lost", 0, []string{`[["id",2]]`}},
		// Re-read: row 1 arrives; row 2 is published again with its ID
		// and dropped by the broker as a duplicate.
		{"with overlap it is read", 30 * time.Second, []string{`[["id",2]]`, `[["id",1]]`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.db.Exec(t, `CREATE TABLE `+b.db.Ident("t")+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
			s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", Lag: time.Second, Overlap: tt.overlap}))
			longTransaction(t, b, s)
			firstIDs := b.pub.ids()
			stats := run(t, s)
			require.Equal(t, tt.want, keys(b.drain(t, len(tt.want))))
			if tt.overlap > 0 {
				require.Equal(t, 2, stats.Reread)
				require.Equal(t, firstIDs[0], b.pub.ids()[2], "row 2 re-published with the same ID")
				require.Equal(t, "2", b.watermark(t, b.db.Table("t")).Key[0], "the watermark did not move back")
			} else {
				require.Zero(t, stats.Rows)
			}
		})
	}
}
