package sfemu

import (
	"strconv"
	"strings"
)

// orExpr parses conditions joined by AND or by OR. As in SOQL, mixing AND
// and OR on one level without parentheses is a syntax error.
func (p *parser) orExpr() (expr, *soqlError) {
	first, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	var op string
	switch {
	case p.isKw("AND"):
		op = "AND"
	case p.isKw("OR"):
		op = "OR"
	default:
		return first, nil
	}
	b := &boolExpr{and: op == "AND", args: []expr{first}}
	for p.isKw(op) {
		p.next()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		b.args = append(b.args, x)
	}
	if p.isKw("AND") || p.isKw("OR") {
		return nil, p.unexpected()
	}
	return b, nil
}

func (p *parser) notExpr() (expr, *soqlError) {
	if p.isKw("NOT") {
		p.next()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	if p.peek().kind == tokLParen {
		p.next()
		x, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tokRParen {
			return nil, p.unexpected()
		}
		p.next()
		return x, nil
	}
	return p.condition()
}

func (p *parser) condition() (expr, *soqlError) {
	fp, err := p.path()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tokOp:
		p.next()
		op := t.text
		if op == "<>" {
			op = "!="
		}
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		return &cmpExpr{path: fp, op: op, val: v}, nil
	case p.isKw("LIKE"):
		p.next()
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		return &cmpExpr{path: fp, op: "LIKE", val: v}, nil
	case p.isKw("IN"):
		p.next()
		return p.inList(fp, false)
	case p.isKw("NOT"):
		p.next()
		if !p.isKw("IN") {
			return nil, p.unexpected()
		}
		p.next()
		return p.inList(fp, true)
	case p.isKw("INCLUDES") || p.isKw("EXCLUDES"):
		return nil, p.fail(t, "%s is not supported by the sfbridge emulator", strings.ToUpper(t.text))
	}
	return nil, p.unexpected()
}

func (p *parser) inList(fp fieldPath, not bool) (expr, *soqlError) {
	if p.peek().kind != tokLParen {
		return nil, p.unexpected()
	}
	p.next()
	if p.isKw("SELECT") {
		return nil, p.fail(p.peek(), "semi-joins are not supported by the sfbridge emulator")
	}
	in := &inExpr{path: fp, not: not}
	for {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		in.vals = append(in.vals, v)
		if p.peek().kind != tokComma {
			break
		}
		p.next()
	}
	if p.peek().kind != tokRParen {
		return nil, p.unexpected()
	}
	p.next()
	return in, nil
}

// dateRanges are the date literals supported; those with n take ":n".
var dateRanges = map[string]bool{
	"TODAY": false, "YESTERDAY": false, "TOMORROW": false,
	"LAST_N_DAYS": true, "NEXT_N_DAYS": true, "N_DAYS_AGO": true,
}

func (p *parser) literal() (literal, *soqlError) {
	t := p.next()
	switch t.kind {
	case tokString:
		return literal{kind: litString, text: t.val, pos: t.pos}, nil
	case tokNumber:
		return literal{kind: litNumber, text: t.text, pos: t.pos}, nil
	case tokDate:
		return literal{kind: litDate, text: t.text, pos: t.pos}, nil
	case tokDatetime:
		return literal{kind: litDatetime, text: t.text, pos: t.pos}, nil
	case tokIdent:
		up := strings.ToUpper(t.text)
		switch up {
		case "TRUE", "FALSE":
			return literal{kind: litBool, text: strings.ToLower(up), pos: t.pos}, nil
		case "NULL":
			return literal{kind: litNull, pos: t.pos}, nil
		}
		withN, ok := dateRanges[up]
		if !ok {
			break
		}
		l := literal{kind: litDateRange, text: up, pos: t.pos}
		if withN {
			if p.peek().kind != tokColon {
				return l, p.unexpected()
			}
			p.next()
			nt := p.next()
			n, err := strconv.Atoi(nt.text)
			if nt.kind != tokNumber || err != nil || n < 0 {
				p.i--
				return l, p.unexpected()
			}
			l.n = n
		}
		return l, nil
	}
	p.i--
	return literal{}, p.unexpected()
}
