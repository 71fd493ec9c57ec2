package pgpoll

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sfbridge/sfbridge/internal/record"
)

// Position framing: record.MarshalPosition(PositionKind, PositionVersion, …).
const (
	PositionKind    = "pgpoll"
	PositionVersion = 1
)

// KeyPrefix starts every state key of this source type; the layout is
// "pgpoll/<source>/<schema>.<table>".
const KeyPrefix = "pgpoll/"

// StateKey is the state key of a table's watermark.
func StateKey(source, table string) string {
	return KeyPrefix + source + "/" + table
}

// Position is a table's watermark: the cursor and key of the last row whose
// record the broker confirmed. The next run reads the rows after it in
// (cursor, key) order. Values are kept as PostgreSQL prints them (DateStyle
// ISO), so they round-trip exactly, at full precision, into the next query
// (cast from text to the column's type there).
type Position struct {
	// Table is "schema.table", as configured.
	Table string `json:"table"`
	// CursorColumn and KeyColumns are the columns the values belong to; a
	// watermark saved for other columns is refused rather than misread.
	CursorColumn string   `json:"cursor_column"`
	KeyColumns   []string `json:"key_columns"`
	// Cursor is the cursor value of the last row, e.g.
	// "2024-05-01 10:00:00.123456+00" or "1042".
	Cursor string `json:"cursor"`
	// Key holds the key values of the last row, in KeyColumns order.
	Key []string `json:"key"`
}

// Marshal frames p as a record.Position (the state value and every
// record's Position).
func (p Position) Marshal() (record.Position, error) {
	return record.MarshalPosition(PositionKind, PositionVersion, p)
}

// ParsePosition decodes a watermark written by Marshal and checks that it
// is complete.
func ParsePosition(b []byte) (Position, error) {
	var p Position
	if err := record.UnmarshalPosition(b, PositionKind, PositionVersion, &p); err != nil {
		return Position{}, err
	}
	return p, p.Validate()
}

// Validate reports every problem with p.
func (p Position) Validate() error {
	var errs []error
	if p.Table == "" {
		errs = append(errs, errors.New("position: table: required"))
	}
	if p.CursorColumn == "" {
		errs = append(errs, errors.New("position: cursor_column: required"))
	}
	if len(p.KeyColumns) == 0 {
		errs = append(errs, errors.New("position: key_columns: at least one"))
	}
	if len(p.Key) != len(p.KeyColumns) {
		errs = append(errs, fmt.Errorf("position: key has %d values for %d key_columns", len(p.Key), len(p.KeyColumns)))
	}
	return errors.Join(errs...)
}

// matches reports why p cannot be a watermark of t, or nil.
func (p Position) matches(t *tableConfig) error {
	if p.Table != t.name || p.CursorColumn != t.cursor || !slices.Equal(p.KeyColumns, t.key) {
		return fmt.Errorf("the watermark was saved for table %s, cursor %q, key %s but the config says table %s, cursor %q, key %s; "+
			"move it with sfbridge state set, or reset it (a full re-read) with sfbridge state reset",
			p.Table, p.CursorColumn, quoteList(p.KeyColumns), t.name, t.cursor, quoteList(t.key))
	}
	return nil
}

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = fmt.Sprintf("%q", c)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
