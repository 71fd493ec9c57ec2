package sfemu

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// compileExpr turns a WHERE expression into a predicate, checking each
// literal against its field's type as SOQL does.
func compileExpr(s *Schema, obj *Object, q *soqlQuery, e expr, now time.Time) (pred, *soqlError) {
	switch x := e.(type) {
	case *boolExpr:
		ps := make([]pred, len(x.args))
		for i, a := range x.args {
			p, err := compileExpr(s, obj, q, a, now)
			if err != nil {
				return nil, err
			}
			ps[i] = p
		}
		if x.and {
			return func(o *Org, r *record) bool {
				for _, p := range ps {
					if !p(o, r) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(o *Org, r *record) bool {
			for _, p := range ps {
				if p(o, r) {
					return true
				}
			}
			return false
		}, nil
	case *notExpr:
		p, err := compileExpr(s, obj, q, x.x, now)
		if err != nil {
			return nil, err
		}
		return func(o *Org, r *record) bool { return !p(o, r) }, nil
	case *cmpExpr:
		ref, err := resolvePath(s, obj, x.path, q)
		if err != nil {
			return nil, err
		}
		if x.op == "LIKE" {
			return compileLike(q, ref, x.val)
		}
		m, err := compileMatch(q, ref, x.op, x.val, now)
		if err != nil {
			return nil, err
		}
		return func(o *Org, r *record) bool { return m(ref.value(o, r)) }, nil
	case *inExpr:
		ref, err := resolvePath(s, obj, x.path, q)
		if err != nil {
			return nil, err
		}
		ms := make([]func(any) bool, len(x.vals))
		for i, v := range x.vals {
			if ms[i], err = compileMatch(q, ref, "=", v, now); err != nil {
				return nil, err
			}
		}
		not := x.not
		return func(o *Org, r *record) bool {
			v := ref.value(o, r)
			for _, m := range ms {
				if m(v) {
					return !not
				}
			}
			return not
		}, nil
	}
	return nil, q.errAt(-1, CodeMalformedQuery, "unsupported condition")
}

func typeName(t FieldType) string {
	switch t {
	case TypeInt:
		return "integer"
	case TypeDatetime:
		return "dateTime"
	case TypeReference, TypeID:
		return "id"
	}
	if t.textual() {
		return "string"
	}
	return string(t)
}

// compileMatch builds the test "field op literal" on a stored value. Text
// comparisons ignore case; != and NOT IN are true for null fields (SOQL
// treats null as a value).
func compileMatch(q *soqlQuery, ref colRef, op string, lit literal, now time.Time) (func(any) bool, *soqlError) {
	f := ref.leaf
	wrongType := func() (func(any) bool, *soqlError) {
		quoted := "should not be enclosed in quotes"
		if f.Type.textual() || f.Type == TypeID || f.Type == TypeReference {
			quoted = "should be enclosed in quotes"
		}
		return nil, q.errAt(lit.pos, CodeInvalidQueryFilter, "value of filter criterion for field '%s' must be of type %s and %s", ref.path, typeName(f.Type), quoted)
	}
	if lit.kind == litNull {
		switch op {
		case "=":
			return func(v any) bool { return v == nil }, nil
		case "!=":
			return func(v any) bool { return v != nil }, nil
		}
		return nil, q.errAt(lit.pos, CodeInvalidQueryFilter, "invalid operator on null: %s", op)
	}
	var cmp func(any) (int, bool) // compares a non-null stored value with the literal
	switch t := f.Type; {
	case t == TypeID || t == TypeReference:
		if lit.kind != litString {
			return wrongType()
		}
		id, ok := NormalizeID(literalText(lit.text))
		if !ok {
			return nil, q.errAt(lit.pos, CodeInvalidQueryFilter, "invalid ID field: %s", literalText(lit.text))
		}
		cmp = func(v any) (int, bool) { return strings.Compare(v.(string), id), true }
	case t.textual() || t == TypeTime:
		if lit.kind != litString {
			return wrongType()
		}
		want := strings.ToLower(literalText(lit.text))
		cmp = func(v any) (int, bool) { return strings.Compare(strings.ToLower(v.(string)), want), true }
	case t == TypeBoolean:
		if lit.kind != litBool || (op != "=" && op != "!=") {
			return wrongType()
		}
		want := lit.text == "true"
		return func(v any) bool {
			b, _ := v.(bool)
			return (b == want) == (op == "=")
		}, nil
	case t.numeric():
		if lit.kind != litNumber {
			return wrongType()
		}
		want, err := strconv.ParseFloat(lit.text, 64)
		if err != nil {
			return wrongType()
		}
		cmp = func(v any) (int, bool) { return compareFloat(toNumber(v), want), true }
	case t == TypeDate || t == TypeDatetime:
		return compileDateMatch(q, ref, op, lit, now, wrongType)
	default:
		return wrongType()
	}
	return opFunc(op, cmp), nil
}

// opFunc applies op to a comparison; null never satisfies an ordering.
func opFunc(op string, cmp func(any) (int, bool)) func(any) bool {
	return func(v any) bool {
		if v == nil {
			return op == "!="
		}
		c, ok := cmp(v)
		if !ok {
			return false
		}
		switch op {
		case "=":
			return c == 0
		case "!=":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		}
		return false
	}
}

func toNumber(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compileLike builds a LIKE test: % any run, _ one character, case
// insensitive; \% and \_ are literal.
func compileLike(q *soqlQuery, ref colRef, lit literal) (pred, *soqlError) {
	if !ref.leaf.Type.textual() || lit.kind != litString {
		return nil, q.errAt(lit.pos, CodeInvalidQueryFilter, "invalid operator on field '%s': LIKE needs a string field and a quoted pattern", ref.path)
	}
	var b strings.Builder
	b.WriteString("(?is)^")
	for _, r := range lit.text {
		switch string(r) {
		case "%":
			b.WriteString(".*")
		case "_":
			b.WriteString(".")
		case likePercent:
			b.WriteString("%")
		case likeUnderscore:
			b.WriteString("_")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re := regexp.MustCompile(b.String())
	return func(o *Org, r *record) bool {
		s, ok := ref.value(o, r).(string)
		return ok && re.MatchString(s)
	}, nil
}
