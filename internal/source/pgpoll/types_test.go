package pgpoll

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/record"
)

func TestPayloadTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("types")
	b.db.Exec(t, `CREATE TYPE `+b.db.Ident("mood")+` AS ENUM ('calm', 'busy')`)
	b.db.Exec(t, `CREATE DOMAIN `+b.db.Ident("positive")+` AS int CHECK (VALUE > 0)`)
	b.db.Exec(t, `CREATE TABLE `+tbl+` (
		id uuid PRIMARY KEY,
		updated_at timestamptz NOT NULL,
		b bool, i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision, f8nan double precision,
		n numeric, n_scale numeric(10,2), n_nan numeric,
		t text, vc varchar(10), ch char(3),
		by bytea, ts timestamp, ts_inf timestamptz, d date, tm time, iv interval,
		js json, jsb jsonb, arr int[], tarr text[],
		ip inet, m `+b.db.Ident("mood")+`, pos `+b.db.Ident("positive")+`, nul text
	)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (
		'6f1c2a2e-8d1b-4f6a-9a3e-2b7c1d0e9f10', '2024-05-01 12:00:00.123456+02',
		true, -32768, 2147483647, 9223372036854775807, 0.1, 0.1, 'NaN',
		123456789012345678901234567890.000000000000000000000001, 1.5, 'NaN',
		'Zoë "quoted" 🚀', 'short', 'ab',
		'\xdeadbeef', '2024-05-01 10:00:00.5', 'infinity', '2024-05-01', '13:14:15.5', '1 day 2 hours',
		'{"b": [1, 2.50], "a": 12345678901234567890}', '{"z": null, "a": 1.0}', '{1,2,3}', '{"x","y z"}',
		'10.0.0.1/8', 'busy', 7, NULL
	)`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("types"), Key: []string{"id"}, Cursor: "updated_at"}))
	require.Equal(t, 1, run(t, s).Published)
	r := b.drain(t, 1)[0]
	// The envelope's decoded payload: numbers come back as json.Number.
	require.Equal(t, map[string]any{
		"id":         "6f1c2a2e-8d1b-4f6a-9a3e-2b7c1d0e9f10",
		"updated_at": "2024-05-01T10:00:00.123456Z",
		"b":          true,
		"i2":         json.Number("-32768"),
		"i4":         json.Number("2147483647"),
		"i8":         json.Number("9223372036854775807"),
		"f4":         json.Number("0.1"),
		"f8":         json.Number("0.1"),
		"f8nan":      "NaN",
		"n":          json.Number("123456789012345678901234567890.000000000000000000000001"),
		"n_scale":    json.Number("1.50"),
		"n_nan":      "NaN",
		"t":          `Zoë "quoted" 🚀`,
		"vc":         "short",
		"ch":         "ab ",
		"by":         "3q2+7w==",
		"ts":         "2024-05-01T10:00:00.5Z",
		"ts_inf":     "infinity",
		"d":          "2024-05-01",
		"tm":         "13:14:15.5",
		"iv":         "1 day 02:00:00",
		"js":         map[string]any{"b": []any{json.Number("1"), json.Number("2.50")}, "a": json.Number("12345678901234567890")},
		"jsb":        map[string]any{"z": nil, "a": json.Number("1.0")},
		"arr":        []any{json.Number("1"), json.Number("2"), json.Number("3")},
		"tarr":       []any{"x", "y z"},
		"ip":         "10.0.0.1/8",
		"m":          "busy",
		"pos":        json.Number("7"),
		"nul":        nil,
	}, r.Payload)
	require.Equal(t, record.Key{{Name: "id", Value: "6f1c2a2e-8d1b-4f6a-9a3e-2b7c1d0e9f10"}}, r.Key)
}

func TestSoftDeletes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		column string
		sd     config.SoftDelete
	}{
		{"a set timestamp means deleted", "deleted_at timestamptz", config.SoftDelete{Column: "deleted_at"}},
		{"a value means deleted", "status text", config.SoftDelete{Column: "status", Value: "deleted"}},
		{"a boolean", "is_deleted boolean", config.SoftDelete{Column: "is_deleted", Value: "true"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tbl := b.db.Ident("t")
			b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL, `+tt.column+`)`)
			var live, gone string
			switch tt.sd.Column {
			case "deleted_at":
				live, gone = "NULL", "now()"
			case "status":
				live, gone = "'active'", "'deleted'"
			default:
				live, gone = "false", "true"
			}
			b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (1, '2024-01-01', `+live+`), (2, '2024-01-02', `+gone+`), (3, '2024-01-03', NULL)`)
			sd := tt.sd
			s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", SoftDelete: &sd}))
			run(t, s)
			rs := b.drain(t, 3)
			require.Equal(t, record.OpUpsert, rs[0].Op)
			require.Equal(t, record.OpDelete, rs[1].Op)
			require.NotNil(t, rs[1].Payload, "a delete keeps the row (mappings may need its fields)")
			require.Equal(t, record.OpUpsert, rs[2].Op, "NULL is never deleted")

			// Deleting a live row later produces a delete of a newer version.
			b.db.Exec(t, `UPDATE `+tbl+` SET `+tt.sd.Column+` = `+gone+`, updated_at = '2024-02-01' WHERE id = 1`)
			run(t, s)
			del := b.drain(t, 1)[0]
			require.Equal(t, record.OpDelete, del.Op)
			require.Equal(t, `[["id",1]]`, del.Key.String())
		})
	}
}

func TestQuotedIdentifiers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("Mixed Case Table")
	b.db.Exec(t, `CREATE TABLE `+tbl+` ("Key Col" int PRIMARY KEY, "Updated At" timestamptz NOT NULL, "select" text, "Display ""Name""" text, lower text)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (1, '2024-01-01', 'x', 'Ada', 'lo'), (2, '2024-01-02', 'y', 'hidden', 'lo')`)
	s := b.newSource(t, b.pollConfig(config.PollTable{
		Table:   b.db.Table("Mixed Case Table"),
		Key:     []string{"Key Col"},
		Cursor:  "Updated At",
		Columns: []string{"Key Col", "Updated At", "select", `Display "Name"`},
		Where:   `"Display ""Name""" <> 'hidden'`,
	}))
	require.Equal(t, 1, run(t, s).Published)
	r := b.drain(t, 1)[0]
	require.Equal(t, b.db.Table("Mixed Case Table"), r.Collection)
	require.Equal(t, map[string]any{"Key Col": json.Number("1"), "Updated At": "2024-01-01T00:00:00Z", "select": "x", `Display "Name"`: "Ada"}, r.Payload)
	require.Equal(t, `[["Key Col",1]]`, r.Key.String())
	require.Equal(t, "Key Col", b.watermark(t, b.db.Table("Mixed Case Table")).KeyColumns[0])
}

func TestWhereFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, status text, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (1, 'draft', '2024-01-01'), (2, 'published', '2024-01-02'), (3, 'published', '2024-01-03')`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at", Where: "status = 'published' OR id > 100", BatchSize: 1}))
	require.Equal(t, 2, run(t, s).Published, "OR in the filter does not escape the keyset and lag conditions")
	require.Equal(t, []string{`[["id",2]]`, `[["id",3]]`}, keys(b.drain(t, 2)))

	// Publishing the draft moves its cursor: now it matches and is read.
	b.db.Exec(t, `UPDATE `+tbl+` SET status = 'published', updated_at = '2024-01-04' WHERE id = 1`)
	require.Equal(t, 1, run(t, s).Published)
	require.Equal(t, []string{`[["id",1]]`}, keys(b.drain(t, 1)))
}

func TestIntegerCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE SEQUENCE `+b.db.Ident("v"))
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, version bigint NOT NULL DEFAULT nextval('`+b.db.Schema+`.v'))`)
	b.db.Exec(t, `INSERT INTO `+tbl+` (id) SELECT g FROM generate_series(1, 5) g`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "version", BatchSize: 3, Lag: 200 * time.Millisecond}))

	// A transaction takes a version, then a later one commits; the run
	// reads the largest committed version, waits out the lag, and reads up
	// to it: a commit landing within the lag is included, a version
	// beyond the bound waits for the next run.
	ctx := t.Context()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `INSERT INTO `+tbl+` VALUES (8, 100)`)
	require.NoError(t, err)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (9, 101)`)
	s.afterBound = func() {
		require.NoError(t, tx.Commit(ctx))
		b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (10, 102)`)
	}
	start := time.Now()
	stats := run(t, s)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "the run waited out the lag")
	require.Equal(t, 7, stats.Published)
	rs := b.drain(t, 7)
	require.Equal(t, []string{`[["id",1]]`, `[["id",2]]`, `[["id",3]]`, `[["id",4]]`, `[["id",5]]`, `[["id",8]]`, `[["id",9]]`}, keys(rs))
	s.afterBound = nil
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (6, 9223372036854775807), (7, 9223372036854775806)`)
	require.Equal(t, 3, run(t, s).Published)
	rs = append(rs, b.drain(t, 3)...)
	require.Equal(t, []string{`[["id",10]]`, `[["id",7]]`, `[["id",6]]`}, keys(rs[7:]))
	require.Equal(t, "9223372036854775807", b.watermark(t, b.db.Table("t")).Cursor)
	// Versions order as the cursor does, up to the largest bigint.
	for i := 1; i < len(rs); i++ {
		c, err := rs[i].Version.Compare(rs[i-1].Version)
		require.NoError(t, err)
		require.Equal(t, 1, c, "%s after %s", rs[i].Version, rs[i-1].Version)
	}
}

func TestViewWithNullKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("t")+` (id int, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `CREATE VIEW `+b.db.Ident("v")+` AS SELECT id, updated_at FROM `+b.db.Ident("t"))
	b.db.Exec(t, `INSERT INTO `+b.db.Ident("t")+` VALUES (NULL, '2024-01-01'), (1, '2024-01-02'), (NULL, '2024-01-03'), (NULL, '2024-01-04'), (2, '2024-01-05')`)
	s := b.newSource(t, b.pollConfig(config.PollTable{Table: b.db.Table("v"), Key: []string{"id"}, Cursor: "updated_at", BatchSize: 1}))
	stats := run(t, s) // a view's key columns cannot be checked for NOT NULL: no error
	require.Equal(t, 2, stats.Rows, "rows of a view without a key are not read")
	require.Equal(t, []string{`[["id",1]]`, `[["id",2]]`}, keys(b.drain(t, 2)))
}
