package sfemu

import (
	"fmt"
	"strings"
)

// tokKind classifies a SOQL token.
type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokDate
	tokDatetime
	tokLParen
	tokRParen
	tokComma
	tokDot
	tokColon
	tokOp // = != <> < <= > >=
)

// token is one lexeme; text is the source text, val the unescaped string
// literal value.
type token struct {
	kind tokKind
	text string
	val  string
	pos  int // byte offset in the query
}

// soqlError is a query error, rendered like Salesforce's: the query, a
// caret under the position, "ERROR at Row:r:Column:c" and the message.
type soqlError struct {
	code string
	msg  string
	pos  int // -1: no position
	src  string
}

func (e *soqlError) Error() string {
	if e.pos < 0 {
		return e.msg
	}
	row, col := 1, 1
	lineStart := 0
	for i := 0; i < e.pos && i < len(e.src); i++ {
		if e.src[i] == '\n' {
			row, col, lineStart = row+1, 1, i+1
		} else {
			col++
		}
	}
	line := e.src[lineStart:]
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s", line, strings.Repeat(" ", col-1), row, col, e.msg)
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lexSOQL splits a query into tokens.
func lexSOQL(src string) ([]token, *soqlError) {
	var toks []token
	bad := func(pos int, format string, args ...any) *soqlError {
		return &soqlError{code: CodeMalformedQuery, msg: fmt.Sprintf(format, args...), pos: pos, src: src}
	}
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && (isIdentStart(src[j]) || isDigit(src[j])) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: src[i:j], pos: i})
			i = j
		case isDigit(c) || (c == '-' || c == '+') && i+1 < len(src) && (isDigit(src[i+1]) || src[i+1] == '.'):
			if k, j := lexDate(src, i); j > i {
				toks = append(toks, token{kind: k, text: src[i:j], pos: i})
				i = j
				continue
			}
			j := i + 1
			dot := false
			for j < len(src) && (isDigit(src[j]) || src[j] == '.' && !dot) {
				dot = dot || src[j] == '.'
				j++
			}
			if j < len(src) && isIdentStart(src[j]) {
				return nil, bad(i, "unexpected token: '%s'", src[i:j+1])
			}
			toks = append(toks, token{kind: tokNumber, text: src[i:j], pos: i})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				ch := src[j]
				if ch == '\'' {
					closed = true
					j++
					break
				}
				if ch == '\\' {
					if j+1 >= len(src) {
						break
					}
					esc, ok := soqlEscapes[src[j+1]]
					if !ok {
						return nil, bad(j, "Invalid string literal '%s'. Illegal character sequence '\\%c' in string literal.", src[i:min(len(src), j+2)], src[j+1])
					}
					b.WriteString(esc)
					j += 2
					continue
				}
				b.WriteByte(ch)
				j++
			}
			if !closed {
				return nil, bad(i, "line 1:%d mismatched character '<EOF>' expecting '''", len(src))
			}
			toks = append(toks, token{kind: tokString, text: src[i:j], val: b.String(), pos: i})
			i = j
		case c == '(':
			toks = append(toks, token{kind: tokLParen, text: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokRParen, text: ")", pos: i})
			i++
		case c == ',':
			toks = append(toks, token{kind: tokComma, text: ",", pos: i})
			i++
		case c == '.':
			toks = append(toks, token{kind: tokDot, text: ".", pos: i})
			i++
		case c == ':':
			toks = append(toks, token{kind: tokColon, text: ":", pos: i})
			i++
		case c == '=' || c == '<' || c == '>' || c == '!':
			j := i + 1
			if j < len(src) && (src[j] == '=' || c == '<' && src[j] == '>') {
				j++
			}
			op := src[i:j]
			if op == "!" {
				return nil, bad(i, "unexpected token: '!'")
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i})
			i = j
		default:
			return nil, bad(i, "unexpected token: '%c'", c)
		}
	}
	toks = append(toks, token{kind: tokEOF, text: "<EOF>", pos: len(src)})
	return toks, nil
}

var soqlEscapes = map[byte]string{
	'\'': "'", '"': "\"", '\\': "\\", 'n': "\n", 'r': "\r", 't': "\t", 'b': "\b", 'f': "\f",
	'%': likePercent, '_': likeUnderscore,
}

// A LIKE pattern must tell \% (a literal percent) from % (a wildcard); the
// lexer marks escaped ones with private-use runes, which literalText turns
// back into the characters.
const (
	likePercent    = "\uE000"
	likeUnderscore = "\uE001"
)

// literalText is a string literal's value outside LIKE.
func literalText(s string) string {
	if !strings.ContainsAny(s, likePercent+likeUnderscore) {
		return s
	}
	return strings.NewReplacer(likePercent, "%", likeUnderscore, "_").Replace(s)
}

// lexDate recognises 2024-01-31 and 2024-01-31T10:00:00[.000](Z|±hh:mm)
// at i; it returns the end offset, or i when there is none.
func lexDate(src string, i int) (tokKind, int) {
	digits := func(at, n int) bool {
		if at+n > len(src) {
			return false
		}
		for k := at; k < at+n; k++ {
			if !isDigit(src[k]) {
				return false
			}
		}
		return true
	}
	if !(digits(i, 4) && i+10 <= len(src) && src[i+4] == '-' && digits(i+5, 2) && src[i+7] == '-' && digits(i+8, 2)) {
		return tokEOF, i
	}
	j := i + 10
	if !(j+9 <= len(src) && src[j] == 'T' && digits(j+1, 2) && src[j+3] == ':' && digits(j+4, 2) && src[j+6] == ':' && digits(j+7, 2)) {
		return tokDate, j
	}
	j += 9
	if j < len(src) && src[j] == '.' {
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	switch {
	case j < len(src) && (src[j] == 'Z' || src[j] == 'z'):
		j++
	case j+6 <= len(src) && (src[j] == '+' || src[j] == '-') && digits(j+1, 2) && src[j+3] == ':' && digits(j+4, 2):
		j += 6
	case j+5 <= len(src) && (src[j] == '+' || src[j] == '-') && digits(j+1, 4):
		j += 5
	default:
		return tokEOF, i // a datetime literal needs a zone
	}
	return tokDatetime, j
}
