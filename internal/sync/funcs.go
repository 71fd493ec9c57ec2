package sync

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	gosync "sync"
	"time"
	"unicode/utf8"

	"github.com/sfbridge/sfbridge/internal/salesforce"
)

// function is one function of the mapping language. types are the
// signatures the compiler checks calls against; at run time a function
// takes any value and reports a wrong one as an error.
type function struct {
	name  string
	fn    func(args ...any) (any, error)
	types []any
}

// functions are sfbridge's functions. Those named like an expr builtin
// (lower, upper, trim, replace, split, join, len, concat, int, float, round,
// string) replace it: they pass nil through (a missing field stays missing,
// for `nulls` to decide) and count characters, not bytes.
var functions = []function{
	// Text.
	{"lower", nilOr1(textFn("lower", strings.ToLower)), []any{new(func(any) string)}},
	{"upper", nilOr1(textFn("upper", strings.ToUpper)), []any{new(func(any) string)}},
	{"trim", fnTrim, []any{new(func(any) string), new(func(any, string) string)}},
	{"replace", fnReplace, []any{new(func(any, string, string) string)}},
	{"split", fnSplit, []any{new(func(any, string) []any)}},
	{"join", fnJoin, []any{new(func(any) string), new(func(any, string) string)}},
	{"substr", fnSubstr, []any{new(func(any, int) string), new(func(any, int, int) string)}},
	{"len", fnLen, []any{new(func(any) int)}},
	{"concat", fnConcat, []any{new(func(...any) string)}},
	{"string", nilOr1(fnString), []any{new(func(any) string)}},
	{"coalesce", fnCoalesce, []any{new(func(...any) any)}},
	// Numbers.
	{"toNumber", nilOr1(fnToNumber), []any{new(func(any) any)}},
	{"int", nilOr1(fnInt), []any{new(func(any) int)}},
	{"float", nilOr1(fnFloat), []any{new(func(any) float64)}},
	{"round", fnRound, []any{new(func(any) any), new(func(any, int) any)}},
	// Dates and times.
	{"parseTime", fnParseTime, []any{new(func(any) time.Time), new(func(any, string) time.Time), new(func(any, string, string) time.Time)}},
	{"formatDate", fnFormatDate, []any{new(func(any) string), new(func(any, string) string)}},
	{"formatDateTime", fnFormatDateTime, []any{new(func(any) string)}},
	{"formatTime", fnFormatTime, []any{new(func(any, string) string), new(func(any, string, string) string)}},
}

// nilOr1 wraps a one-argument function so nil (and, for text, "") gives nil.
func nilOr1(f func(v any) (any, error)) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want 1 argument, got %d", len(args))
		}
		if args[0] == nil {
			return nil, nil
		}
		return f(args[0])
	}
}

func textFn(name string, f func(string) string) func(v any) (any, error) {
	return func(v any) (any, error) {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: want text, got %s", name, kindOf(v))
		}
		return f(s), nil
	}
}

// text reads argument i as text (nil when the argument is nil).
func text(name string, args []any, i int) (string, bool, error) {
	if i >= len(args) || args[i] == nil {
		return "", false, nil
	}
	s, ok := args[i].(string)
	if !ok {
		return "", false, fmt.Errorf("%s: argument %d: want text, got %s", name, i+1, kindOf(args[i]))
	}
	return s, true, nil
}

// integer reads argument i as an integer.
func integer(name string, args []any, i int) (int, error) {
	r, err := ratOf(args[i])
	if err != nil || !r.IsInt() || !r.Num().IsInt64() {
		return 0, fmt.Errorf("%s: argument %d: want a whole number, got %v", name, i+1, args[i])
	}
	return int(r.Num().Int64()), nil
}

func fnTrim(args ...any) (any, error) {
	s, ok, err := text("trim", args, 0)
	if !ok || err != nil {
		return nil, err
	}
	if len(args) == 2 {
		cut, _, err := text("trim", args, 1)
		if err != nil {
			return nil, err
		}
		return strings.Trim(s, cut), nil
	}
	return strings.TrimSpace(s), nil
}

func fnReplace(args ...any) (any, error) {
	s, ok, err := text("replace", args, 0)
	if !ok || err != nil {
		return nil, err
	}
	old, _, err1 := text("replace", args, 1)
	repl, _, err2 := text("replace", args, 2)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("replace: want replace(text, old, new)")
	}
	return strings.ReplaceAll(s, old, repl), nil
}

func fnSplit(args ...any) (any, error) {
	s, ok, err := text("split", args, 0)
	if !ok || err != nil {
		return nil, err
	}
	sep, _, err := text("split", args, 1)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(s, sep)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func fnJoin(args ...any) (any, error) {
	if len(args) == 0 || args[0] == nil {
		return nil, nil
	}
	sep := ""
	if len(args) == 2 {
		s, _, err := text("join", args, 1)
		if err != nil {
			return nil, err
		}
		sep = s
	}
	var items []any
	switch x := args[0].(type) {
	case []any:
		items = x
	case []string:
		for _, s := range x {
			items = append(items, s)
		}
	default:
		return nil, fmt.Errorf("join: want a list, got %s", kindOf(args[0]))
	}
	parts := make([]string, 0, len(items))
	for i, it := range items {
		if it == nil {
			continue
		}
		s, ok := textOf(it)
		if !ok {
			return nil, fmt.Errorf("join: item %d is %s, not a value", i, kindOf(it))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, sep), nil
}

// fnSubstr is substr(text, start[, length]) in characters (runes); a
// negative start counts from the end; out-of-range bounds are clamped.
func fnSubstr(args ...any) (any, error) {
	s, ok, err := text("substr", args, 0)
	if !ok || err != nil {
		return nil, err
	}
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("substr: want substr(text, start[, length])")
	}
	start, err := integer("substr", args, 1)
	if err != nil {
		return nil, err
	}
	runes := []rune(s)
	n := len(runes)
	if start < 0 {
		start = max(n+start, 0)
	}
	start = min(start, n)
	end := n
	if len(args) == 3 {
		l, err := integer("substr", args, 2)
		if err != nil {
			return nil, err
		}
		if l < 0 {
			return nil, fmt.Errorf("substr: length %d is negative", l)
		}
		if l < n-start {
			end = start + l
		}
	}
	return string(runes[start:end]), nil
}

// fnLen counts characters of text, items of a list or keys of a map; nil
// has length 0.
func fnLen(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("len: want 1 argument, got %d", len(args))
	}
	switch x := args[0].(type) {
	case nil:
		return 0, nil
	case string:
		return utf8.RuneCountInString(x), nil
	case []any:
		return len(x), nil
	case []string:
		return len(x), nil
	case map[string]any:
		return len(x), nil
	}
	return nil, fmt.Errorf("len: want text or a list, got %s", kindOf(args[0]))
}

// fnConcat joins its arguments as text, skipping nil ones; all nil gives nil.
func fnConcat(args ...any) (any, error) {
	var b strings.Builder
	any := false
	for i, a := range args {
		if a == nil {
			continue
		}
		s, ok := textOf(a)
		if !ok {
			return nil, fmt.Errorf("concat: argument %d is %s, not a value", i+1, kindOf(a))
		}
		b.WriteString(s)
		any = true
	}
	if !any {
		return nil, nil
	}
	return b.String(), nil
}

func fnString(v any) (any, error) {
	s, ok := textOf(v)
	if !ok {
		return nil, fmt.Errorf("string: %s has no text form", kindOf(v))
	}
	return s, nil
}

func fnCoalesce(args ...any) (any, error) {
	for _, a := range args {
		if a != nil {
			return a, nil
		}
	}
	return nil, nil
}

// fnToNumber reads a number exactly: an int when whole and in range, a
// float64 when it holds the value exactly, else the exact decimal text.
// Empty text gives nil.
func fnToNumber(v any) (any, error) {
	switch x := v.(type) {
	case int, float64:
		return x, nil
	case string:
		if strings.TrimSpace(x) == "" {
			return nil, nil
		}
	}
	r, err := ratOf(v)
	if err != nil {
		return nil, fmt.Errorf("toNumber: %v", err)
	}
	return numberFromRat(r), nil
}

// fnInt truncates toward zero. Empty text gives nil.
func fnInt(v any) (any, error) {
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if b, ok := v.(bool); ok {
		if b {
			return 1, nil
		}
		return 0, nil
	}
	r, err := ratOf(v)
	if err != nil {
		return nil, fmt.Errorf("int: %v", err)
	}
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return nil, fmt.Errorf("int: %s is out of range", decimalText(r))
	}
	return int(q.Int64()), nil
}

func fnFloat(v any) (any, error) {
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return nil, nil
	}
	r, err := ratOf(v)
	if err != nil {
		return nil, fmt.Errorf("float: %v", err)
	}
	f, _ := r.Float64()
	if math.IsInf(f, 0) {
		return nil, fmt.Errorf("float: %s is out of range", decimalText(r))
	}
	return f, nil
}

// fnRound is round(x[, places]): half away from zero, on the decimal value
// (round(2.675, 2) is 2.68).
func fnRound(args ...any) (any, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("round: want round(number[, places])")
	}
	if args[0] == nil {
		return nil, nil
	}
	places := 0
	if len(args) == 2 {
		p, err := integer("round", args, 1)
		if err != nil {
			return nil, err
		}
		if p < 0 || p > 30 {
			return nil, fmt.Errorf("round: places %d is outside 0–30", p)
		}
		places = p
	}
	r, err := ratOf(args[0])
	if err != nil {
		return nil, fmt.Errorf("round: %v", err)
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	// Half away from zero: add ±½, then truncate.
	half := big.NewRat(1, 2)
	if scaled.Sign() < 0 {
		half.Neg(half)
	}
	scaled.Add(scaled, half)
	q := new(big.Int).Quo(scaled.Num(), scaled.Denom())
	return numberFromRat(new(big.Rat).SetFrac(q, scale)), nil
}

// timeLayouts are tried in order by parseTime without a layout.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	salesforce.DateLayout,
}

var locations gosync.Map // name → *time.Location

// location loads an IANA time zone ("" is UTC). "Local" is refused: a
// mapping must give the same result on every machine.
func location(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("time zone %q depends on the machine; name a zone such as Europe/Paris", name)
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	locations.Store(name, l)
	return l, nil
}

// toTime reads a time: a time as it is; text by layout (Go's reference
// layout, e.g. "02/01/2006") or, without one, by the usual ISO 8601 and
// Postgres forms. Text without a zone is in tz (default UTC).
func toTime(name string, v any, layout, tz string) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		loc, err := location(tz)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %v", name, err)
		}
		s := strings.TrimSpace(x)
		if layout != "" {
			t, err := time.ParseInLocation(layout, s, loc)
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: %q does not match layout %q", name, x, layout)
			}
			return t, nil
		}
		if len(s) == len(salesforce.DateLayout) {
			if t, err := time.ParseInLocation(salesforce.DateLayout, s, loc); err == nil {
				return t, nil
			}
		}
		for _, l := range timeLayouts {
			if t, err := time.ParseInLocation(l, s, loc); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%s: %q is not a date or time (give a layout, e.g. parseTime(x, \"02/01/2006\"))", name, x)
	}
	return time.Time{}, fmt.Errorf("%s: want text or a time, got %s", name, kindOf(v))
}

// emptyTime reports whether v is a missing time (nil or blank text).
func emptyTime(v any) bool {
	s, ok := v.(string)
	return v == nil || ok && strings.TrimSpace(s) == ""
}

func fnParseTime(args ...any) (any, error) {
	if len(args) < 1 || len(args) > 3 {
		return nil, fmt.Errorf("parseTime: want parseTime(text[, layout[, zone]])")
	}
	if emptyTime(args[0]) {
		return nil, nil
	}
	layout, _, err := text("parseTime", args, 1)
	if err != nil {
		return nil, err
	}
	tz, _, err := text("parseTime", args, 2)
	if err != nil {
		return nil, err
	}
	return toTime("parseTime", args[0], layout, tz)
}

// fnFormatDate gives Salesforce's date form, 2006-01-02: the date as written
// (in the time's own offset), or in zone when given.
func fnFormatDate(args ...any) (any, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("formatDate: want formatDate(time[, zone])")
	}
	if emptyTime(args[0]) {
		return nil, nil
	}
	t, err := toTime("formatDate", args[0], "", "")
	if err != nil {
		return nil, err
	}
	if tz, ok, err := text("formatDate", args, 1); err != nil {
		return nil, err
	} else if ok {
		loc, err := location(tz)
		if err != nil {
			return nil, fmt.Errorf("formatDate: %v", err)
		}
		t = t.In(loc)
	}
	return t.Format(salesforce.DateLayout), nil
}

// fnFormatDateTime gives Salesforce's datetime form,
// 2006-01-02T15:04:05.000Z (UTC, milliseconds: Salesforce keeps no finer).
func fnFormatDateTime(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("formatDateTime: want formatDateTime(time)")
	}
	if emptyTime(args[0]) {
		return nil, nil
	}
	t, err := toTime("formatDateTime", args[0], "", "")
	if err != nil {
		return nil, err
	}
	return t.UTC().Format(salesforce.DateTimeLayout), nil
}

// fnFormatTime formats a time with a Go layout, in zone (default: the
// time's own offset).
func fnFormatTime(args ...any) (any, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("formatTime: want formatTime(time, layout[, zone])")
	}
	if emptyTime(args[0]) {
		return nil, nil
	}
	t, err := toTime("formatTime", args[0], "", "")
	if err != nil {
		return nil, err
	}
	layout, _, err := text("formatTime", args, 1)
	if err != nil {
		return nil, err
	}
	if tz, ok, err := text("formatTime", args, 2); err != nil {
		return nil, err
	} else if ok {
		loc, err := location(tz)
		if err != nil {
			return nil, fmt.Errorf("formatTime: %v", err)
		}
		t = t.In(loc)
	}
	return t.Format(layout), nil
}
