package sfemu

import (
	"fmt"
	"strconv"
	"strings"
)

// soqlQuery is a parsed query of the subset in fact sheet §6.4.
type soqlQuery struct {
	src     string
	items   []selectItem
	from    string
	fromPos int
	where   expr
	orderBy []orderItem
	limit   int // -1: none
	offset  int // -1: none
}

// fieldPath is a dotted field reference: [Account, Owner, Name].
type fieldPath struct {
	parts []string
	pos   int
}

func (p fieldPath) String() string { return strings.Join(p.parts, ".") }

type selectItem struct {
	path     fieldPath
	count    bool       // COUNT() or COUNT(field)
	countArg *fieldPath // nil for COUNT()
	alias    string
}

type orderItem struct {
	path      fieldPath
	desc      bool
	nullsLast bool
}

// expr is a WHERE condition: *boolExpr, *notExpr, *cmpExpr or *inExpr.
type expr interface{}

type boolExpr struct {
	and  bool
	args []expr
}

type notExpr struct{ x expr }

type cmpExpr struct {
	path fieldPath
	op   string // = != < <= > >= LIKE
	val  literal
}

type inExpr struct {
	path fieldPath
	not  bool
	vals []literal
}

type litKind int

const (
	litString litKind = iota
	litNumber
	litBool
	litNull
	litDate
	litDatetime
	litDateRange // TODAY, LAST_N_DAYS:n, …
)

type literal struct {
	kind litKind
	text string // string value, number text, date text, or range name
	n    int    // the :n of a range
	pos  int
}

type parser struct {
	src  string
	toks []token
	i    int
}

// parseSOQL parses a query of the supported subset; the error carries the
// Salesforce code (MALFORMED_QUERY, …).
func parseSOQL(src string) (*soqlQuery, *soqlError) {
	toks, err := lexSOQL(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	return p.query()
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) fail(t token, format string, args ...any) *soqlError {
	return &soqlError{code: CodeMalformedQuery, msg: fmt.Sprintf(format, args...), pos: t.pos, src: p.src}
}

func (p *parser) unexpected() *soqlError {
	t := p.peek()
	if t.kind == tokEOF {
		return p.fail(t, "unexpected token: <EOF>")
	}
	return p.fail(t, "unexpected token: '%s'", t.text)
}

func (p *parser) expectKw(kw string) *soqlError {
	if !p.isKw(kw) {
		return p.unexpected()
	}
	p.next()
	return nil
}

var unsupportedClauses = map[string]string{
	"GROUP": "GROUP BY", "HAVING": "HAVING", "WITH": "WITH", "FOR": "FOR", "USING": "USING SCOPE", "TYPEOF": "TYPEOF",
}

func (p *parser) query() (*soqlQuery, *soqlError) {
	q := &soqlQuery{src: p.src, limit: -1, offset: -1}
	if err := p.expectKw("SELECT"); err != nil {
		return nil, err
	}
	for {
		it, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		q.items = append(q.items, it)
		if p.peek().kind != tokComma {
			break
		}
		p.next()
	}
	if err := p.expectKw("FROM"); err != nil {
		return nil, err
	}
	t := p.next()
	if t.kind != tokIdent {
		p.i--
		return nil, p.unexpected()
	}
	q.from, q.fromPos = t.text, t.pos
	if p.isKw("WHERE") {
		p.next()
		w, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		q.where = w
	}
	if p.isKw("ORDER") {
		p.next()
		if err := p.expectKw("BY"); err != nil {
			return nil, err
		}
		for {
			o, err := p.orderItem()
			if err != nil {
				return nil, err
			}
			q.orderBy = append(q.orderBy, o)
			if p.peek().kind != tokComma {
				break
			}
			p.next()
		}
	}
	var err *soqlError
	if p.isKw("LIMIT") {
		p.next()
		if q.limit, err = p.count(); err != nil {
			return nil, err
		}
	}
	if p.isKw("OFFSET") {
		p.next()
		t := p.peek()
		if q.offset, err = p.count(); err != nil {
			return nil, err
		}
		if q.offset > 2000 {
			return nil, &soqlError{code: CodeNumberOutsideRange, msg: "Maximum SOQL offset allowed is 2000", pos: t.pos, src: p.src}
		}
	}
	if t := p.peek(); t.kind != tokEOF {
		if c, ok := unsupportedClauses[strings.ToUpper(t.text)]; ok && t.kind == tokIdent {
			return nil, p.fail(t, "%s is not supported by the sfbridge emulator", c)
		}
		return nil, p.unexpected()
	}
	return q, nil
}

func (p *parser) count() (int, *soqlError) {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != tokNumber || err != nil || n < 0 {
		p.i--
		return 0, p.unexpected()
	}
	return n, nil
}

func (p *parser) path() (fieldPath, *soqlError) {
	t := p.next()
	if t.kind != tokIdent {
		p.i--
		if t.kind == tokLParen && p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].text, "SELECT") {
			return fieldPath{}, p.fail(t, "subqueries are not supported by the sfbridge emulator")
		}
		return fieldPath{}, p.unexpected()
	}
	fp := fieldPath{parts: []string{t.text}, pos: t.pos}
	for p.peek().kind == tokDot {
		p.next()
		t := p.next()
		if t.kind != tokIdent {
			p.i--
			return fieldPath{}, p.unexpected()
		}
		fp.parts = append(fp.parts, t.text)
	}
	return fp, nil
}

func (p *parser) selectItem() (selectItem, *soqlError) {
	if p.isKw("COUNT") && p.toks[p.i+1].kind == tokLParen {
		t := p.next()
		p.next()
		it := selectItem{count: true, path: fieldPath{parts: []string{"COUNT"}, pos: t.pos}}
		if p.peek().kind != tokRParen {
			fp, err := p.path()
			if err != nil {
				return it, err
			}
			it.countArg = &fp
		}
		if p.peek().kind != tokRParen {
			return it, p.unexpected()
		}
		p.next()
		if t := p.peek(); t.kind == tokIdent && !p.isKw("FROM") {
			it.alias = t.text
			p.next()
		}
		return it, nil
	}
	fp, err := p.path()
	return selectItem{path: fp}, err
}

func (p *parser) orderItem() (orderItem, *soqlError) {
	fp, err := p.path()
	if err != nil {
		return orderItem{}, err
	}
	o := orderItem{path: fp}
	switch {
	case p.isKw("ASC"):
		p.next()
	case p.isKw("DESC"):
		p.next()
		o.desc = true
	}
	o.nullsLast = o.desc // SOQL default: ASC NULLS FIRST, DESC NULLS LAST
	if p.isKw("NULLS") {
		p.next()
		switch {
		case p.isKw("FIRST"):
			o.nullsLast = false
		case p.isKw("LAST"):
			o.nullsLast = true
		default:
			return o, p.unexpected()
		}
		p.next()
	}
	return o, nil
}
