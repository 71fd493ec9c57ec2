package sfemu

import (
	"strings"
	"time"
)

// compileDateMatch compares date and datetime fields with date literals,
// datetime literals and date ranges (TODAY, LAST_N_DAYS:n, …; UTC days).
// Stored dates and datetimes have fixed layouts, so they compare as text.
func compileDateMatch(q *soqlQuery, ref colRef, op string, lit literal, now time.Time,
	wrongType func() (func(any) bool, *soqlError)) (func(any) bool, *soqlError) {
	isDT := ref.leaf.Type == TypeDatetime
	format := func(t time.Time) string {
		if isDT {
			return formatDatetime(t)
		}
		return t.Format(dateLayout)
	}
	switch lit.kind {
	case litDate, litDatetime:
		if (lit.kind == litDatetime) != isDT {
			return wrongType()
		}
		t, ok := parseDatetime(lit.text)
		if !ok {
			return nil, q.errAt(lit.pos, CodeMalformedQuery, "invalid date or dateTime literal: %s", lit.text)
		}
		want := format(t)
		return opFunc(op, func(v any) (int, bool) { return strings.Compare(v.(string), want), true }), nil
	case litDateRange:
		start, end := dateRange(lit, now)
		s, e := format(start), format(end)
		in := func(v string) bool { return v >= s && v < e }
		return func(v any) bool {
			str, ok := v.(string)
			if !ok {
				return op == "!="
			}
			switch op {
			case "=":
				return in(str)
			case "!=":
				return !in(str)
			case "<":
				return str < s
			case "<=":
				return str < e
			case ">":
				return str >= e
			case ">=":
				return str >= s
			}
			return false
		}, nil
	}
	return wrongType()
}

// dateRange returns the [start, end) of a date literal in UTC days.
func dateRange(lit literal, now time.Time) (time.Time, time.Time) {
	n := now.UTC()
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return today.AddDate(0, 0, d) }
	switch lit.text {
	case "YESTERDAY":
		return day(-1), day(0)
	case "TOMORROW":
		return day(1), day(2)
	case "LAST_N_DAYS":
		return day(-lit.n), day(1)
	case "NEXT_N_DAYS":
		return day(1), day(1 + lit.n)
	case "N_DAYS_AGO":
		return day(-lit.n), day(-lit.n + 1)
	}
	return day(0), day(1) // TODAY
}
