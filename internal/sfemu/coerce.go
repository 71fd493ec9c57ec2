package sfemu

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Stored value forms: textual types, id and reference (18-char Ids), date
// ("2006-01-02"), datetime (UTC, "2006-01-02T15:04:05.000+0000") and time
// ("15:04:05.000Z") are strings; boolean is bool; int is int64; double,
// currency and percent are float64; null is nil.
const (
	dateLayout     = "2006-01-02"
	datetimeLayout = "2006-01-02T15:04:05.000-0700"
	timeLayout     = "15:04:05.000Z"
)

var datetimeInputs = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02",
}

// coerce converts an input value (decoded JSON, a CSV string, or a YAML
// scalar) to the stored form for f. Text, JSON numbers and booleans are
// accepted for any scalar type when they parse; an empty string is null
// (Salesforce stores no empty strings). Existence of referenced records is
// checked by the pipeline, not here.
func coerce(f *Field, v any) (any, *RecordError) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
	case map[string]any, []any:
		return nil, errWrongType(f, v)
	}
	switch f.Type {
	case TypeBoolean:
		return coerceBool(f, v)
	case TypeInt:
		fl, ok := toFloat(v)
		if !ok || fl != math.Trunc(fl) {
			return nil, errWrongType(f, v)
		}
		if (f.Precision > 0 && math.Abs(fl) >= math.Pow10(f.Precision)) || math.Abs(fl) > 1<<53 {
			return nil, errOutOfRange(f, v)
		}
		return int64(fl), nil
	case TypeDouble, TypeCurrency, TypePercent:
		fl, ok := toFloat(v)
		if !ok {
			return nil, errWrongType(f, v)
		}
		if f.Precision > 0 {
			p := math.Pow10(f.Scale)
			fl = math.Round(fl*p) / p
			if math.Abs(fl) >= math.Pow10(f.Precision-f.Scale) {
				return nil, errOutOfRange(f, v)
			}
		}
		return fl, nil
	case TypeDate:
		t, ok := parseDatetime(toText(v))
		if !ok {
			return nil, errWrongType(f, v)
		}
		return t.Format(dateLayout), nil
	case TypeDatetime:
		t, ok := parseDatetime(toText(v))
		if !ok {
			return nil, errWrongType(f, v)
		}
		return formatDatetime(t), nil
	case TypeTime:
		s := strings.TrimSuffix(toText(v), "Z")
		for _, l := range []string{"15:04:05", "15:04"} {
			if t, err := time.Parse(l, s); err == nil {
				return t.Format(timeLayout), nil
			}
		}
		return nil, errWrongType(f, v)
	case TypeID, TypeReference:
		s := toText(v)
		id, ok := NormalizeID(s)
		if !ok {
			return nil, errIDOfWrongType(CodeMalformedID, f, s)
		}
		return id, nil
	}
	s, ok := v.(string)
	if !ok {
		if _, isBool := v.(bool); isBool && f.Type != TypeString && f.Type != TypeTextarea {
			return nil, errWrongType(f, v)
		}
		s = toText(v)
	}
	switch f.Type {
	case TypeEmail:
		if !validEmail(s) {
			return nil, errBadEmail(f, s)
		}
	case TypePicklist:
		if f.Restricted && !contains(f.Picklist, s) {
			return nil, errBadPicklist(f, s)
		}
	case TypeMultipicklist:
		if f.Restricted {
			for _, p := range strings.Split(s, ";") {
				if !contains(f.Picklist, strings.TrimSpace(p)) {
					return nil, errBadPicklist(f, p)
				}
			}
		}
	}
	return s, nil
}

func coerceBool(f *Field, v any) (any, *RecordError) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes":
			return true, nil
		case "false", "0", "no":
			return false, nil
		}
	}
	return nil, errWrongType(f, v)
}

// toFloat reads a number from a JSON number, a Go number or numeric text.
func toFloat(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = strings.TrimSpace(x)
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	default:
		return 0, false
	}
	fl, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(fl) || math.IsInf(fl, 0) {
		return 0, false
	}
	return fl, true
}

// toText renders a scalar input as text.
func toText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return display(v)
}

func parseDatetime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range datetimeInputs {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func formatDatetime(t time.Time) string { return t.UTC().Format(datetimeLayout) }

func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || strings.ContainsAny(s, " \t\r\n,;<>") {
		return false
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// indexKey is the normalised form of a stored value in a unique or
// external-ID index: text is folded to lower case unless the field is
// case-sensitive (fact sheet §13.2).
func indexKey(f *Field, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if f.CaseSensitive {
			return x
		}
		return strings.ToLower(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	}
	return toText(v)
}
