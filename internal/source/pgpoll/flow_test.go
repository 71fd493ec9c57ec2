package pgpoll

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/record"
)

func TestRowsFlowInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("counselors")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, last_name text NOT NULL, email text, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES
		(1, 'Okafor', 'a@x.org', '2024-05-01 10:00:00.000003+00'),
		(2, 'Nguyen', NULL,      '2024-05-01 10:00:00.000001+00'),
		(3, 'Berg',   'c@x.org', '2024-05-01 10:00:00.000002+00')`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("counselors"), Key: []string{"id"}, Cursor: "updated_at", BatchSize: 2}))

	stats := run(t, s)
	require.Equal(t, RunStats{Table: b.db.Table("counselors"), Pages: 2, Rows: 3, Published: 3, Watermark: stats.Watermark}, stats)
	rs := b.drain(t, 3)
	require.Equal(t, []string{`[["id",2]]`, `[["id",3]]`, `[["id",1]]`}, keys(rs), "cursor order")
	r := rs[0]
	require.Equal(t, "db", r.Source)
	require.Equal(t, b.db.Table("counselors"), r.Collection)
	require.Equal(t, record.OpUpsert, r.Op)
	require.Equal(t, map[string]any{"id": json.Number("2"), "last_name": "Nguyen", "email": nil, "updated_at": "2024-05-01T10:00:00.000001Z"}, r.Payload)
	require.Equal(t, record.TimeVersion(time.Date(2024, 5, 1, 10, 0, 0, 1000, time.UTC), 0), r.Version)
	id, err := r.DerivedID()
	require.NoError(t, err)
	require.Equal(t, id, r.ID, "deterministic ID")
	pos, err := ParsePosition(r.Position)
	require.NoError(t, err)
	require.Equal(t, Position{Table: b.db.Table("counselors"), CursorColumn: "updated_at", KeyColumns: []string{"id"}, Cursor: "2024-05-01 10:00:00.000001+00", Key: []string{"2"}}, pos)
	require.Equal(t, &Position{Table: b.db.Table("counselors"), CursorColumn: "updated_at", KeyColumns: []string{"id"}, Cursor: "2024-05-01 10:00:00.000003+00", Key: []string{"1"}}, b.watermark(t, b.db.Table("counselors")))

	// Nothing changed: nothing read.
	stats = run(t, s)
	require.Zero(t, stats.Rows)
	b.drain(t, 0)

	// An update and an insert flow as new versions of their keys.
	b.db.Exec(t, `UPDATE `+tbl+` SET last_name = 'Okafor-Berg', updated_at = '2024-05-02 08:00:00+00' WHERE id = 1`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (4, 'Diallo', NULL, '2024-05-02 07:00:00+00')`)
	stats = run(t, s)
	require.Equal(t, 2, stats.Published)
	rs2 := b.drain(t, 2)
	require.Equal(t, []string{`[["id",4]]`, `[["id",1]]`}, keys(rs2))
	require.Equal(t, "Okafor-Berg", rs2[1].Payload["last_name"])
	cmp, err := rs2[1].Version.Compare(rs[2].Version)
	require.NoError(t, err)
	require.Equal(t, 1, cmp, "the update is a newer version of id 1")
	require.NotEqual(t, rs[2].ID, rs2[1].ID)
}

func TestTiesAcrossPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (org text, id int, updated_at timestamp NOT NULL, PRIMARY KEY (org, id))`)
	// 25 rows share one updated_at, 5 others surround them; pages of 7
	// split the tie several times.
	b.db.Exec(t, `INSERT INTO `+tbl+` SELECT 'o' || (g % 3), g, '2024-01-01 00:00:00.5' FROM generate_series(1, 25) g`)
	b.db.Exec(t, `INSERT INTO `+tbl+` SELECT 'o', g, '2024-01-01 00:00:00.5'::timestamp + (g - 27) * interval '1 microsecond' FROM generate_series(26, 30) g`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"org", "id"}, Cursor: "updated_at", BatchSize: 7}))

	stats := run(t, s)
	require.Equal(t, 30, stats.Published)
	require.Equal(t, 5, stats.Pages)
	rs := b.drain(t, 30)
	seen := map[string]bool{}
	for _, r := range rs {
		require.False(t, seen[r.ID], "duplicate %s", r.Key)
		seen[r.ID] = true
	}
	// Order: by cursor, then key (org, id).
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s/%s/%s", r.Payload["updated_at"], r.Payload["org"], r.Payload["id"]))
	}
	var want []string
	ctx := context.Background()
	rows, err := b.db.Pool.Query(ctx, `SELECT to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), org, id FROM `+tbl+` ORDER BY updated_at, org, id`)
	require.NoError(t, err)
	for rows.Next() {
		var ts, org string
		var id int
		require.NoError(t, rows.Scan(&ts, &org, &id))
		want = append(want, fmt.Sprintf("%s/%s/%d", ts, org, id))
	}
	require.NoError(t, rows.Err())
	require.Len(t, want, 30)
	for i := range want {
		// RFC 3339 drops trailing zeros of the fraction; compare instants.
		require.Equal(t, normalizeTS(t, want[i]), normalizeTS(t, got[i]), "row %d", i)
	}
	require.Zero(t, run(t, s).Rows, "nothing left, nothing repeated")
}

func normalizeTS(t *testing.T, s string) string {
	t.Helper()
	var ts, rest string
	for i := range s {
		if s[i] == '/' {
			ts, rest = s[:i], s[i:]
			break
		}
	}
	tm, err := time.Parse(time.RFC3339Nano, ts)
	require.NoError(t, err, s)
	return tm.UTC().Format(time.RFC3339Nano) + rest
}

func TestMicrosecondPrecision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	// Three rows one microsecond apart, read one per page: truncating the
	// watermark to milliseconds would re-read or skip them.
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (3, '2024-05-01 10:00:00.999998+00'), (1, '2024-05-01 10:00:00.999999+00'), (2, '2024-05-01 10:00:01+00')`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", BatchSize: 1}))
	stats := run(t, s)
	require.Equal(t, 3, stats.Published)
	rs := b.drain(t, 3)
	require.Equal(t, []string{`[["id",3]]`, `[["id",1]]`, `[["id",2]]`}, keys(rs))
	require.Equal(t, "2024-05-01T10:00:00.999999Z", rs[1].Version.Time().Format(time.RFC3339Nano))
	require.Equal(t, "2024-05-01 10:00:00.999998+00", mustPosition(t, rs[0].Position).Cursor)

	// A row one microsecond after the watermark is new; one at it with a
	// smaller key is not (it would have been read before).
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (0, '2024-05-01 10:00:01+00'), (9, '2024-05-01 10:00:01.000001+00')`)
	require.Equal(t, 1, run(t, s).Published)
	require.Equal(t, []string{`[["id",9]]`}, keys(b.drain(t, 1)))
}

func mustPosition(t *testing.T, p record.Position) Position {
	t.Helper()
	pos, err := ParsePosition(p)
	require.NoError(t, err)
	return pos
}

// TestQueryExecModes covers DSNs set up for PgBouncer's transaction pooling
// (no prepared statements), as docs/sources.md advises.
func TestQueryExecModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tbl := b.db.Ident("t")
			b.db.Exec(t, `CREATE TABLE `+tbl+` (org text, id bigint, updated_at timestamptz NOT NULL, n numeric, by bytea, PRIMARY KEY (org, id))`)
			b.db.Exec(t, `INSERT INTO `+tbl+` VALUES ('a', 1, '2024-01-01 00:00:00.000001+00', 1.50, '\x00ff'), ('a', 2, '2024-01-01 00:00:00.000001+00', NULL, NULL), ('b', 1, '2024-01-01 00:00:00.000002+00', 2, '\x')`)
			sep := "?"
			if strings.Contains(b.db.URL, "?") {
				sep = "&"
			}
			cfg := b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"org", "id"}, Cursor: "updated_at", BatchSize: 1})
			cfg.DSN = config.NewSecret(b.db.URL + sep + "default_query_exec_mode=" + mode)
			s := b.newSource(t, cfg)
			require.Equal(t, 3, run(t, s).Published)
			rs := b.drain(t, 3)
			require.Equal(t, []string{`[["org","a"],["id",1]]`, `[["org","a"],["id",2]]`, `[["org","b"],["id",1]]`}, keys(rs))
			require.Equal(t, map[string]any{"org": "a", "id": json.Number("1"), "updated_at": "2024-01-01T00:00:00.000001Z", "n": json.Number("1.50"), "by": "AP8="}, rs[0].Payload)
			require.Zero(t, run(t, s).Rows)
		})
	}
}
