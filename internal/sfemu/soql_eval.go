package sfemu

import (
	"fmt"
	"sort"
	"strings"
)

// QueryError is a SOQL failure with its Salesforce error code
// (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, …).
type QueryError struct {
	Code    string
	Message string
}

func (e *QueryError) Error() string { return e.Code + ": " + e.Message }

func (e *soqlError) toQueryError() *QueryError {
	return &QueryError{Code: e.code, Message: e.Error()}
}

// QueryResult is a query's rows in flat form, for callers such as Bulk
// query jobs.
type QueryResult struct {
	Object string
	// Columns are the canonical field paths ("Id", "Account.Org_Id__c") or,
	// for COUNT(field), the alias or exprN.
	Columns []string
	// Rows hold stored values: string, bool, int64, float64 or nil.
	Rows [][]any
	// TotalSize is len(Rows), or the count of SELECT COUNT().
	TotalSize int
}

// Query runs a SOQL query of the supported subset (fact sheet §6.4);
// all includes deleted records (queryAll). The error is a *QueryError.
func (o *Org) Query(soql string, all bool) (*QueryResult, error) {
	p, qerr := o.prepare(soql)
	if qerr != nil {
		return nil, qerr
	}
	res := &QueryResult{Object: p.obj.Name}
	o.mu.RLock()
	defer o.mu.RUnlock()
	recs := p.execute(o, all)
	switch {
	case p.countOnly:
		res.TotalSize = len(recs)
		return res, nil
	case p.aggregate:
		names, vals := p.aggregateRow(o, recs)
		res.Columns, res.Rows, res.TotalSize = names, [][]any{vals}, 1
		return res, nil
	}
	for _, c := range p.cols {
		res.Columns = append(res.Columns, c.ref.path)
	}
	res.Rows = make([][]any, len(recs))
	for i, r := range recs {
		row := make([]any, len(p.cols))
		for j := range p.cols {
			row[j] = p.cols[j].ref.value(o, r)
		}
		res.Rows[i] = row
	}
	res.TotalSize = len(recs)
	return res, nil
}

// prepare parses and plans a query.
func (o *Org) prepare(soql string) (*plan, *QueryError) {
	q, err := parseSOQL(soql)
	if err != nil {
		return nil, err.toQueryError()
	}
	p, err := planQuery(o.schema, q, o.now())
	if err != nil {
		return nil, err.toQueryError()
	}
	return p, nil
}

// execute returns the matching records, ordered and sliced; the caller
// holds the org lock.
func (p *plan) execute(o *Org, all bool) []*record {
	var out []*record
	for _, r := range o.tables[p.obj].order {
		if r.deleted && !all {
			continue
		}
		if p.where != nil && !p.where(o, r) {
			continue
		}
		out = append(out, r)
	}
	if len(p.order) > 0 {
		keys := make(map[*record][]any, len(out))
		for _, r := range out {
			k := make([]any, len(p.order))
			for i := range p.order {
				k[i] = p.order[i].ref.value(o, r)
			}
			keys[r] = k
		}
		sort.SliceStable(out, func(i, j int) bool {
			a, b := keys[out[i]], keys[out[j]]
			for k, oc := range p.order {
				if c := compareOrder(a[k], b[k], oc); c != 0 {
					return c < 0
				}
			}
			return false
		})
	}
	if p.offset > 0 {
		if p.offset >= len(out) {
			out = nil
		} else {
			out = out[p.offset:]
		}
	}
	if p.limit >= 0 && p.limit < len(out) {
		out = out[:p.limit]
	}
	return out
}

// compareOrder orders two values of one ORDER BY column.
func compareOrder(a, b any, oc orderCol) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if oc.nullsLast {
			return 1
		}
		return -1
	case b == nil:
		if oc.nullsLast {
			return -1
		}
		return 1
	}
	c := compareValues(a, b)
	if oc.desc {
		c = -c
	}
	return c
}

// compareValues orders two non-null stored values of one field: text
// case-insensitively, numbers numerically, false before true.
func compareValues(a, b any) int {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return compareFloat(toNumber(a), toNumber(b))
}

// aggregateRow computes the COUNT(field) columns over recs.
func (p *plan) aggregateRow(o *Org, recs []*record) ([]string, []any) {
	var names []string
	var vals []any
	n := 0
	for _, c := range p.cols {
		name := c.alias
		if name == "" {
			name = fmt.Sprintf("expr%d", n)
		}
		n++
		count := 0
		for _, r := range recs {
			if c.countArg.value(o, r) != nil {
				count++
			}
		}
		names = append(names, name)
		vals = append(vals, count)
	}
	return names, vals
}
