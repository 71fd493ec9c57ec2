package salesforce

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// CodeInvalidRow is the code of the *RecordError for a row this package
// refuses before sending it (an unsupported value, a missing external ID).
// It is permanent: the row itself is wrong.
const CodeInvalidRow = "SFBRIDGE_INVALID_ROW"

// column is one field of a row: a field of the object, or a parent's
// external ID reached through a relationship.
type column struct {
	name  string // CSV header form: Name, Account.Org_Id__c, Lead:Who.Email
	typ   string // polymorphic parent type, or ""
	rel   string // relationship name, or "" for a field of the object
	field string
}

// parseColumn reads a column name (Field, Relationship.Field or
// Type:Relationship.Field). Every row of a batch repeats the same few
// names, so the answers are memoized (up to maxParsedColumns names).
func parseColumn(name string) (column, bool) {
	if v, ok := parsedColumns.Load(name); ok {
		pc := v.(parsedColumn)
		return pc.col, pc.ok
	}
	var pc parsedColumn
	if m := columnRE.FindStringSubmatch(name); m != nil && (m[1] == "" || m[2] != "") {
		pc = parsedColumn{col: column{name: name, typ: m[1], rel: m[2], field: m[3]}, ok: true}
	}
	if parsedColumnCount.Load() < maxParsedColumns {
		if _, loaded := parsedColumns.LoadOrStore(name, pc); !loaded {
			parsedColumnCount.Add(1)
		}
	}
	return pc.col, pc.ok
}

// parsedColumn is a memoized answer of parseColumn.
type parsedColumn struct {
	col column
	ok  bool
}

// maxParsedColumns bounds the memo: the names come from mappings and
// describe, a few thousand at most; beyond that names are parsed each time.
const maxParsedColumns = 8192

var (
	parsedColumns     sync.Map // name → parsedColumn
	parsedColumnCount atomic.Int64
)

// prepared is one row converted for the wire, or the reason it cannot be.
type prepared struct {
	index int // position in the caller's rows
	cols  []column
	cells map[string]cell // by lower-case column name
	key   cell            // the external ID value (upserts)
	err   error
}

// keyFold is the key as Salesforce compares external IDs of text fields
// (case-insensitively, which is the default), used to keep one key per
// request.
func (p *prepared) keyFold() string { return strings.ToLower(p.key.text) }

// csvSafe reports whether every value survives the CSV form.
func (p *prepared) csvSafe() bool {
	for _, c := range p.cells {
		if !c.csvSafe() {
			return false
		}
	}
	return true
}

func invalidRow(format string, args ...any) error {
	return classified(&RecordError{Code: CodeInvalidRow, Message: fmt.Sprintf(format, args...)}, Verdict{Class: ClassPermanent})
}

// prepareUpsert checks object and extField and prepares rows for an
// upsert by extField. out has one Result per row, already set for the rows
// that cannot be sent; valid are the others. The error is for invalid
// arguments only.
func prepareUpsert(object, extField string, rows []map[string]any) (out []Result, valid []*prepared, err error) {
	if err := errors.Join(checkName("object", object), checkName("external ID field", extField)); err != nil {
		return nil, nil, err
	}
	out = make([]Result, len(rows))
	for i, row := range rows {
		p := prepareRow(i, row, extField)
		if p.err != nil {
			out[i] = Result{Err: p.err}
			continue
		}
		valid = append(valid, &p)
	}
	return out, valid, nil
}

// prepareRow converts row for an upsert by extField (or, when extField is
// "", for any operation). Problems make p.err a permanent *RecordError.
func prepareRow(index int, row map[string]any, extField string) prepared {
	p := prepared{index: index, cells: make(map[string]cell, len(row))}
	names := make([]string, 0, len(row))
	for k := range row {
		if k == "attributes" {
			continue // record metadata (as a query returns it), not a field
		}
		names = append(names, k)
	}
	sort.Strings(names)
	add := func(col column, v any) bool {
		lc := strings.ToLower(col.name)
		if _, dup := p.cells[lc]; dup {
			p.err = invalidRow("field %q is set twice (names are case-insensitive)", col.name)
			return false
		}
		c, err := toCell(v)
		if err != nil {
			p.err = invalidRow("field %q: %v", col.name, err)
			return false
		}
		p.cols = append(p.cols, col)
		p.cells[lc] = c
		return true
	}
	for _, k := range names {
		v := row[k]
		if m, ok := asMap(v); ok {
			col, err := relationshipColumn(k, m)
			if err != nil {
				p.err = invalidRow("%v", err)
				return p
			}
			if !add(col, m[col.field]) {
				return p
			}
			continue
		}
		col, ok := parseColumn(k)
		if !ok {
			p.err = invalidRow("%q is not a field name (Field, Relationship.Field or Type:Relationship.Field)", k)
			return p
		}
		if !add(col, v) {
			return p
		}
	}
	if extField == "" {
		return p
	}
	if _, ok := p.cells["id"]; ok && !strings.EqualFold(extField, "Id") {
		p.err = invalidRow("an upsert by %s must not set Id", extField)
		return p
	}
	key, ok := p.cells[strings.ToLower(extField)]
	switch {
	case !ok:
		p.err = invalidRow("the external ID field %s is missing", extField)
	case key.kind == cellNull || key.text == "":
		p.err = invalidRow("the external ID field %s is null or empty", extField)
	case key.kind != cellString && key.kind != cellNumber:
		p.err = invalidRow("the external ID field %s must be text or a number", extField)
	default:
		p.key = key
		// Name the key column exactly as the caller named the field.
		for i, c := range p.cols {
			if c.rel == "" && strings.EqualFold(c.name, extField) {
				p.cols[i] = column{name: extField, field: extField}
			}
		}
	}
	return p
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[string]string:
		out := make(map[string]any, len(m))
		for k, s := range m {
			out[k] = s
		}
		return out, true
	}
	return nil, false
}

// relationshipColumn reads {"Org_Id__c": "X"} (optionally with
// "attributes": {"type": "Account"} for a polymorphic lookup) set on rel.
func relationshipColumn(rel string, m map[string]any) (column, error) {
	if !nameRE.MatchString(rel) {
		return column{}, fmt.Errorf("%q is not a relationship name", rel)
	}
	col := column{rel: rel}
	for k, v := range m {
		if k == "attributes" {
			attrs, ok := v.(map[string]any)
			t, ok2 := attrs["type"].(string)
			if !ok || !ok2 || !nameRE.MatchString(t) {
				return column{}, fmt.Errorf("%s.attributes must be {\"type\": \"<Object>\"}", rel)
			}
			col.typ = t
			continue
		}
		if col.field != "" {
			return column{}, fmt.Errorf("relationship %s must name exactly one parent field (its external ID)", rel)
		}
		if !nameRE.MatchString(k) {
			return column{}, fmt.Errorf("%s: %q is not a field name", rel, k)
		}
		col.field = k
	}
	if col.field == "" {
		return column{}, fmt.Errorf("relationship %s names no parent field", rel)
	}
	if m[col.field] == nil {
		return column{}, fmt.Errorf("relationship %s: the parent's %s is null; to clear the lookup set its Id field (e.g. AccountId) to null", rel, col.field)
	}
	col.name = rel + "." + col.field
	if col.typ != "" {
		col.name = col.typ + ":" + col.name
	}
	return col, nil
}

// jsonRecord returns the row as a Collections record of object.
func (p *prepared) jsonRecord(object string) map[string]any {
	rec := make(map[string]any, len(p.cols)+1)
	rec["attributes"] = map[string]any{"type": object}
	for _, col := range p.cols {
		v := p.cells[strings.ToLower(col.name)].json()
		if col.rel == "" {
			rec[col.field] = v
			continue
		}
		parent, _ := rec[col.rel].(map[string]any)
		if parent == nil {
			parent = map[string]any{}
			if col.typ != "" {
				parent["attributes"] = map[string]any{"type": col.typ}
			}
			rec[col.rel] = parent
		}
		parent[col.field] = v
	}
	return rec
}

// numericKey returns a canonical form of a decimal number ("1500.0" and
// "1.5E3" both give "1500"), or "" when s is not a number. Bulk results
// may re-render numeric external IDs.
func numericKey(s string) string {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return ""
	}
	return r.RatString()
}
