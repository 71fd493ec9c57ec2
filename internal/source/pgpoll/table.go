package pgpoll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfbridge/sfbridge/internal/config"
)

// cursorKind is the type of a table's cursor column.
type cursorKind int

const (
	cursorTimestamptz cursorKind = iota + 1
	cursorTimestamp
	cursorInteger
)

func (k cursorKind) isTime() bool { return k == cursorTimestamptz || k == cursorTimestamp }

// tableConfig is one configured table and, once described, its columns.
type tableConfig struct {
	name       string // "schema.table", as configured
	schema     string
	rel        string
	ident      string // quoted, schema-qualified
	key        []string
	cursor     string
	columns    []string // configured; nil means all
	where      string
	softDelete *config.SoftDelete
	lag        time.Duration
	overlap    time.Duration
	batch      int
}

func newTableConfig(t config.PollTable) (*tableConfig, error) {
	schema, rel, ok := strings.Cut(t.Table, ".")
	if !ok || schema == "" || rel == "" || strings.Contains(rel, ".") {
		return nil, fmt.Errorf("table %q: want schema.table", t.Table)
	}
	if len(t.Key) == 0 || t.Cursor == "" {
		return nil, fmt.Errorf("table %s: key and cursor are required", t.Table)
	}
	if t.BatchSize < 1 {
		return nil, fmt.Errorf("table %s: batch_size must be at least 1, got %d", t.Table, t.BatchSize)
	}
	if t.Lag < 0 || t.Overlap < 0 {
		return nil, fmt.Errorf("table %s: lag and overlap must not be negative", t.Table)
	}
	return &tableConfig{
		name:       t.Table,
		schema:     schema,
		rel:        rel,
		ident:      pgx.Identifier{schema, rel}.Sanitize(),
		key:        slices.Clone(t.Key),
		cursor:     t.Cursor,
		columns:    slices.Clone(t.Columns),
		where:      strings.TrimSpace(t.Where),
		softDelete: t.SoftDelete,
		lag:        t.Lag,
		overlap:    t.Overlap,
		batch:      t.BatchSize,
	}, nil
}

// valueKind says how a column is selected and turned into a payload value.
type valueKind int

const (
	kindNative  valueKind = iota // decoded by pgx (bool, integers, floats, text, bytea, timestamps)
	kindNumeric                  // numeric, selected as text: an exact json.Number
	kindJSON                     // json, jsonb: selected as text, embedded as JSON
	kindToJSON                   // arrays and composites: to_json(col), embedded as JSON
	kindText                     // anything else: its text form
)

// Type OIDs (pg_type.oid, stable across versions).
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidJSONB       = 3802
)

// column is one column of a described table.
type column struct {
	name     string
	notNull  bool   // declared NOT NULL
	typ      string // format_type of the column's type: for casts
	baseOID  uint32 // the type, or a domain's base type
	baseType string // format_type of baseOID
	kind     valueKind
	domain   bool
}

// expr is the column's select expression.
func (c column) expr() string {
	id := pgx.Identifier{c.name}.Sanitize()
	switch c.kind {
	case kindNative:
		if c.domain {
			return id + "::" + c.baseType
		}
		return id
	case kindToJSON:
		return "to_json(" + id + ")::text"
	default:
		return id + "::text"
	}
}

func kindOf(baseOID uint32, category, typtype string) valueKind {
	switch baseOID {
	case oidBool, oidBytea, oidName, oidInt8, oidInt2, oidInt4, oidText, oidOID, oidFloat4, oidFloat8,
		oidBpchar, oidVarchar, oidTimestamp, oidTimestamptz:
		return kindNative
	case oidNumeric:
		return kindNumeric
	case oidJSON, oidJSONB:
		return kindJSON
	}
	if category == "A" || typtype == "c" {
		return kindToJSON
	}
	return kindText
}

// table is a described table: the config plus what the database says.
type table struct {
	*tableConfig
	cols       []column // the columns read, in select order
	cursorKind cursorKind
	cursorType string   // format_type, for casts
	keyTypes   []string // format_type of each key column
	cursorIdx  int      // index of the cursor in cols
	keyIdx     []int    // index of each key column in cols
	selectList string
}

const describeSQL = `SELECT a.attname,
       format_type(a.atttypid, NULL),
       bt.oid::int8,
       format_type(bt.oid, NULL),
       bt.typcategory::text,
       bt.typtype::text,
       t.typtype = 'd',
       a.attnotnull,
       c.relkind::text
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

// errSchema marks a problem with the configured tables or columns (as
// opposed to the database being unreachable).
var errSchema = errors.New("schema problem")

// schemaErr is a mismatch between the config and the database: errors.Is
// matches errSchema, the message is err's alone.
type schemaErr struct{ err error }

func (e schemaErr) Error() string        { return e.err.Error() }
func (e schemaErr) Unwrap() error        { return e.err }
func (e schemaErr) Is(target error) bool { return target == errSchema }

func schemaError(format string, args ...any) error {
	return schemaErr{fmt.Errorf(format, args...)}
}

// describe reads the table's columns and checks the config against them:
// every named column exists, the cursor has a usable type, the table can be
// read with the where filter. tx is read-only.
func (tc *tableConfig) describe(ctx context.Context, tx pgx.Tx) (*table, error) {
	rows, err := tx.Query(ctx, describeSQL, tc.schema, tc.rel)
	if err != nil {
		return nil, fmt.Errorf("table %s: read its columns: %w", tc.name, err)
	}
	var (
		all     []column
		relkind string
	)
	for rows.Next() {
		var (
			c                 column
			oid               int64
			category, typtype string
		)
		if err := rows.Scan(&c.name, &c.typ, &oid, &c.baseType, &category, &typtype, &c.domain, &c.notNull, &relkind); err != nil {
			return nil, fmt.Errorf("table %s: read its columns: %w", tc.name, err)
		}
		c.baseOID = uint32(oid)
		c.kind = kindOf(c.baseOID, category, typtype)
		all = append(all, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table %s: read its columns: %w", tc.name, err)
	}
	if len(all) == 0 {
		return nil, schemaError("table %s not found: no table or view %q in schema %q that the database user can see", tc.name, tc.rel, tc.schema)
	}
	byName := map[string]column{}
	names := make([]string, len(all))
	for i, c := range all {
		byName[c.name] = c
		names[i] = c.name
	}
	var missing []error
	need := func(role, col string) {
		if _, ok := byName[col]; !ok {
			missing = append(missing, schemaError("table %s: %s column %q does not exist (the table has %s)", tc.name, role, col, strings.Join(names, ", ")))
		}
	}
	for _, k := range tc.key {
		need("key", k)
	}
	need("cursor", tc.cursor)
	for _, c := range tc.columns {
		need("listed", c)
	}
	if tc.softDelete != nil {
		need("soft_delete", tc.softDelete.Column)
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	if relkind == "r" || relkind == "p" {
		// A row without a key cannot be ordered or identified. Views do
		// not declare nullability: docs/sources.md says what happens there.
		for _, k := range tc.key {
			if !byName[k].notNull {
				missing = append(missing, schemaError("table %s: key column %q allows NULL; a row without a key can be neither ordered nor upserted: make it NOT NULL (a primary key is)", tc.name, k))
			}
		}
		if len(missing) > 0 {
			return nil, errors.Join(missing...)
		}
	}

	t := &table{tableConfig: tc}
	if tc.columns == nil {
		t.cols = all
	} else {
		for _, name := range tc.columns {
			t.cols = append(t.cols, byName[name])
		}
	}
	cur := byName[tc.cursor]
	switch cur.baseOID {
	case oidTimestamptz:
		t.cursorKind = cursorTimestamptz
	case oidTimestamp:
		t.cursorKind = cursorTimestamp
	case oidInt8, oidInt4, oidInt2:
		t.cursorKind = cursorInteger
	default:
		return nil, schemaError("table %s: cursor column %q is %s; it must be a timestamp, timestamptz or integer (bigint) column", tc.name, tc.cursor, cur.typ)
	}
	if tc.overlap > 0 && !t.cursorKind.isTime() {
		return nil, schemaError("table %s: overlap works with timestamp cursors only; cursor column %q is %s (set overlap: 0s for this table)", tc.name, tc.cursor, cur.typ)
	}
	t.cursorType = cur.typ
	for _, k := range tc.key {
		t.keyTypes = append(t.keyTypes, byName[k].typ)
	}
	index := func(name string) int {
		return slices.IndexFunc(t.cols, func(c column) bool { return c.name == name })
	}
	t.cursorIdx = index(tc.cursor)
	for _, k := range tc.key {
		t.keyIdx = append(t.keyIdx, index(k))
	}
	if t.cursorIdx < 0 || slices.Contains(t.keyIdx, -1) {
		// config.Validate requires them in columns; a Config built in code may not.
		return nil, schemaError("table %s: columns must include the key and cursor columns", tc.name)
	}
	exprs := make([]string, 0, len(t.cols)+len(tc.key)+2)
	for _, c := range t.cols {
		exprs = append(exprs, c.expr())
	}
	exprs = append(exprs, quote(tc.cursor)+"::text")
	for _, k := range tc.key {
		exprs = append(exprs, quote(k)+"::text")
	}
	if tc.softDelete != nil {
		exprs = append(exprs, quote(tc.softDelete.Column)+"::text")
	}
	t.selectList = strings.Join(exprs, ", ")

	// Read nothing, to learn whether the table can be read (privileges)
	// and whether the where filter is valid SQL here.
	if err := probe(ctx, tx, "SELECT "+t.selectList+" FROM "+tc.ident+" LIMIT 0"); err != nil {
		if unavailable(err) {
			return nil, err
		}
		return nil, schemaError("table %s cannot be read: %w", tc.name, err)
	}
	if tc.where != "" {
		if err := probe(ctx, tx, "SELECT 1 FROM "+tc.ident+" WHERE ("+tc.where+") LIMIT 0"); err != nil {
			if unavailable(err) {
				return nil, err
			}
			return nil, schemaError("table %s: its where filter fails: %w", tc.name, err)
		}
	}
	return t, nil
}

// probe runs sql in a savepoint, so a failure leaves tx usable.
func probe(ctx context.Context, tx pgx.Tx, sql string) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	rows, err := sp.Query(ctx, sql)
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}

func quote(col string) string { return pgx.Identifier{col}.Sanitize() }

// col renders a column qualified by the table: in ORDER BY a bare name
// would mean the output column of that name (the ::text copy).
func (t *table) col(name string) string { return t.ident + "." + quote(name) }

// tuple renders "(cursor, key1, key2)".
func (t *table) tuple() string {
	parts := []string{t.col(t.cursor)}
	for _, k := range t.key {
		parts = append(parts, t.col(k))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// window bounds one page.
type window struct {
	// after: rows strictly after this (cursor, key); nil for the first page.
	after *Position
	// through: rows up to and including this (cursor, key); nil for no
	// limit (the overlap phase re-reads up to the watermark).
	through *Position
	// since: with overlap, rows whose cursor is at least since's cursor
	// minus overlap; nil otherwise.
	since *Position
	// bound: rows whose cursor is at most this (the lag).
	bound string
}

// pageQuery builds the keyset query of one page: rows in (cursor, key)
// order, compared as row values at the column's full precision (parameters
// are PostgreSQL's own text forms, cast to the column types).
func (t *table) pageQuery(w window) (string, []any) {
	var (
		conds []string
		args  []any
	)
	param := func(v any, typ string) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args)) + "::text::" + typ
	}
	row := func(p *Position) string {
		parts := []string{param(p.Cursor, t.cursorType)}
		for i, k := range p.Key {
			parts = append(parts, param(k, t.keyTypes[i]))
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	if w.after != nil {
		conds = append(conds, t.tuple()+" > "+row(w.after))
	}
	if w.through != nil {
		conds = append(conds, t.tuple()+" <= "+row(w.through))
	}
	if w.since != nil {
		args = append(args, t.overlap.Microseconds())
		micros := "$" + strconv.Itoa(len(args)) + "::int8"
		conds = append(conds, t.col(t.cursor)+" >= "+param(w.since.Cursor, t.cursorType)+" - "+micros+" * interval '1 microsecond'")
	}
	conds = append(conds, t.col(t.cursor)+" <= "+param(w.bound, t.cursorType))
	// Keys are NOT NULL in tables (describe checks); a view's rows without
	// a key are left out rather than read without a place in the order.
	for _, k := range t.key {
		conds = append(conds, t.col(k)+" IS NOT NULL")
	}
	if t.where != "" {
		conds = append(conds, "("+t.where+")")
	}
	order := strings.Trim(t.tuple(), "()")
	sql := "SELECT " + t.selectList + " FROM " + t.ident +
		" WHERE " + strings.Join(conds, " AND ") +
		" ORDER BY " + order + " LIMIT " + strconv.Itoa(t.batch)
	return sql, args
}

// boundQuery returns the query of the run's upper bound on the cursor, as
// text: the database's now() minus the lag for timestamps (in the session's
// time zone for timestamp without time zone, as an application writing
// now() into it would), the largest committed cursor for integers (the run
// then waits out the lag before reading up to it).
func (t *table) boundQuery() (string, []any) {
	switch t.cursorKind {
	case cursorTimestamptz:
		return "SELECT (now() - $1::int8 * interval '1 microsecond')::text", []any{t.lag.Microseconds()}
	case cursorTimestamp:
		return "SELECT (localtimestamp - $1::int8 * interval '1 microsecond')::text", []any{t.lag.Microseconds()}
	default:
		return "SELECT max(" + quote(t.cursor) + ")::text FROM " + t.ident, nil
	}
}
