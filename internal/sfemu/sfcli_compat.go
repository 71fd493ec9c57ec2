package sfemu

import (
	"fmt"
	"net/http"
	"strings"
)

// What the Salesforce CLI (`sf`, fact sheet §12.2) needs beyond the REST
// core, found by running sf 2.150 against the emulator
// (internal/sfemu/sfcli_test.go):
//
//   - `sf data query` runs the query, then asks for its columns with
//     GET /query?q=<same soql>&columns=true and renders the records by
//     them. The answer is the query-columns shape (undocumented by
//     Salesforce; its keys are those the sf CLI's plugin-data and other
//     clients read): {columnMetadata:[…], entityName, groupBy, idSelected,
//     keyPrefix}.
//
// The query routes are registered again here, wrapping the core handler:
// a request without columns=true is served exactly as before, under the
// same endpoint names.
func init() {
	extend(func(e *Emulator) {
		d := "/services/data/{version}"
		e.handle("GET "+d+"/query", "query", accessAPI, e.queryOrColumns)
		e.handle("GET "+d+"/queryAll", "query_all", accessAPI, e.queryOrColumns)
	})
}

// queryOrColumns answers GET /query and /queryAll: the query columns when
// columns=true, else the query itself.
func (e *Emulator) queryOrColumns(c *Call) {
	if !strings.EqualFold(c.Req.URL.Query().Get("columns"), "true") {
		e.query(c)
		return
	}
	p := e.queryParam(c)
	if p == nil {
		return
	}
	c.JSON(http.StatusOK, p.columnsInfo())
}

// columnsInfo renders the plan's select list as query-columns metadata.
// Choices where nothing documents the real answer (unverified): columns
// through the same relationship are grouped under one parent column, in
// the position of the first; a parent column's apexType is the referenced
// object; displayName of a nested column is its full path; COUNT(x) is
// displayed as "COUNT(x)" with columnName its alias or exprN; COUNT()
// alone has no columns.
func (p *plan) columnsInfo() orderedMap {
	var cols []*queryColumn
	idSelected := false
	expr := 0
	for _, c := range p.cols {
		switch {
		case p.countOnly:
			// COUNT() returns no fields, only totalSize.
		case c.count:
			name := c.alias
			if name == "" {
				name = fmt.Sprintf("expr%d", expr)
			}
			expr++
			cols = append(cols, &queryColumn{
				name: name, display: "COUNT(" + c.countArg.path + ")",
				aggregate: true, apexType: "Integer", number: true,
			})
		default:
			if len(c.ref.hops) == 0 && c.ref.leaf.Type == TypeID {
				idSelected = true
			}
			cols = addColumn(cols, c.ref.hops, c.ref.leaf, "")
		}
	}
	meta := make([]orderedMap, len(cols))
	for i, qc := range cols {
		meta[i] = qc.render()
	}
	return orderedMap{
		{"columnMetadata", meta},
		{"entityName", p.obj.Name},
		{"groupBy", false},
		{"idSelected", idSelected},
		{"keyPrefix", p.obj.KeyPrefix},
	}
}

// queryColumn is one entry of columnMetadata.
type queryColumn struct {
	name, display, apexType string
	aggregate, custom       bool
	insertable, updatable   bool
	boolean, number, text   bool
	join                    []*queryColumn
}

// addColumn adds the path hops…leaf to cols, under an existing parent
// column for the first hop when there is one; prefix is the path so far.
func addColumn(cols []*queryColumn, hops []*Field, leaf *Field, prefix string) []*queryColumn {
	if len(hops) == 0 {
		t := leaf.Type
		return append(cols, &queryColumn{
			name: leaf.Name, display: prefix + leaf.Name, apexType: apexType(t),
			custom: leaf.Custom, insertable: leaf.Createable, updatable: leaf.Updateable,
			boolean: t == TypeBoolean, number: t.numeric(), text: t.textual(),
		})
	}
	rel := hops[0].RelationshipName
	var parent *queryColumn
	for _, qc := range cols {
		if qc.join != nil && strings.EqualFold(qc.name, rel) {
			parent = qc
		}
	}
	if parent == nil {
		parent = &queryColumn{
			name: rel, display: prefix + rel, apexType: strings.Join(hops[0].ReferenceTo, ","),
			custom: hops[0].Custom, join: []*queryColumn{},
		}
		cols = append(cols, parent)
	}
	parent.join = addColumn(parent.join, hops[1:], leaf, prefix+rel+".")
	return cols
}

func (qc *queryColumn) render() orderedMap {
	join := make([]orderedMap, len(qc.join))
	for i, j := range qc.join {
		join[i] = j.render()
	}
	var apex any
	if qc.apexType != "" {
		apex = qc.apexType
	}
	return orderedMap{
		{"aggregate", qc.aggregate},
		{"apexType", apex},
		{"booleanType", qc.boolean},
		{"columnName", qc.name},
		{"custom", qc.custom},
		{"displayName", qc.display},
		{"foreignKeyName", nil},
		{"insertable", qc.insertable},
		{"joinColumns", join},
		{"numberType", qc.number},
		{"textType", qc.text},
		{"updatable", qc.updatable},
	}
}

// apexType is the Apex type of a field's values (unverified for currency
// and percent: the Apex guide maps currency to Decimal).
func apexType(t FieldType) string {
	switch t {
	case TypeID, TypeReference:
		return "Id"
	case TypeBoolean:
		return "Boolean"
	case TypeInt:
		return "Integer"
	case TypeDouble, TypePercent:
		return "Double"
	case TypeCurrency:
		return "Decimal"
	case TypeDate:
		return "Date"
	case TypeDatetime:
		return "Datetime"
	case TypeTime:
		return "Time"
	case TypeBase64:
		return "Blob"
	}
	return "String"
}
