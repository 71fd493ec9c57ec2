package sync

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/record"
)

// Values inside an expression: nil, bool, string, int, float64, json.Number,
// time.Time, []any and map[string]any. A payload number (json.Number)
// becomes an int when it is an integer that fits, a float64 when a float64
// holds its decimal value exactly (its shortest form reads back as the same
// number), and otherwise stays json.Number — exact text, sent to Salesforce
// as written.

// numberRE is a decimal number as text may hold it (JSON's grammar, plus a
// leading '+' and a bare fraction like ".5").
var numberRE = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// maxExponent bounds the exponent of a number read from text (1e999999999
// would take gigabytes as an exact decimal).
const maxExponent = 400

// parseDecimal reads s exactly, or reports why it is not a number.
func parseDecimal(s string) (*big.Rat, error) {
	t := strings.TrimSpace(s)
	if !numberRE.MatchString(t) {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		exp, err := strconv.Atoi(t[i+1:])
		if err != nil || exp > maxExponent || exp < -maxExponent {
			return nil, fmt.Errorf("%q: exponent out of range (±%d)", s, maxExponent)
		}
	}
	r, ok := new(big.Rat).SetString(strings.TrimPrefix(t, "+"))
	if !ok {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	return r, nil
}

// decimalText renders r, which must have a finite decimal form, as plain
// decimal text without exponent or trailing zeros: "1500", "-0.0012".
func decimalText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	// A finite decimal's denominator is 2^a·5^b, and max(a, b) fraction
	// digits hold it exactly; its bit length is at least that.
	digits := r.Denom().BitLen()
	s := r.FloatString(digits)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// numberFromRat returns r as int, exact float64 or json.Number (see above).
func numberFromRat(r *big.Rat) any {
	if r.IsInt() && r.Num().IsInt64() && strconv.IntSize == 64 {
		return int(r.Num().Int64())
	}
	text := decimalText(r)
	if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsInf(f, 0) {
		back, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
		if ok && back.Cmp(r) == 0 {
			return f
		}
	}
	return json.Number(text)
}

// numberFromText reads a number from text exactly (see numberFromRat).
func numberFromText(s string) (any, error) {
	if n, ok := fastNumber(s); ok {
		return n, nil
	}
	r, err := parseDecimal(s)
	if err != nil {
		return nil, err
	}
	return numberFromRat(r), nil
}

// fastNumber reads the common numbers without big arithmetic: an integer of
// up to 18 digits, or a decimal without exponent of up to 15 significant
// digits (which a float64 holds exactly in the sense of numberFromRat:
// its shortest form reads back as the same number).
func fastNumber(s string) (any, bool) {
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && i > 0:
			dot = true
		case c == '-' && i == 0:
		default:
			return nil, false
		}
	}
	if digits == 0 || s[len(s)-1] == '.' {
		return nil, false
	}
	if !dot {
		if digits > 18 {
			return nil, false
		}
		n, err := strconv.Atoi(s)
		return n, err == nil
	}
	// Leading zeros are not significant.
	sig := digits
	for i := 0; i < len(s) && (s[i] == '0' || s[i] == '.' || s[i] == '-'); i++ {
		if s[i] == '0' {
			sig--
		}
	}
	if sig > 15 {
		return nil, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// ratOf returns a number's exact decimal value: a float64 by its shortest
// decimal form (0.1 is one tenth, as written), the others exactly.
func ratOf(v any) (*big.Rat, error) {
	switch x := v.(type) {
	case int:
		return new(big.Rat).SetInt64(int64(x)), nil
	case int64:
		return new(big.Rat).SetInt64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a finite number", x)
		}
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
		return r, nil
	case json.Number:
		return parseDecimal(string(x))
	case string:
		return parseDecimal(x)
	}
	return nil, fmt.Errorf("want a number, got %s", kindOf(v))
}

// fromPayload converts a payload value (the JSON model: nil, bool, string,
// json.Number, []any, map[string]any) to the expression model.
func fromPayload(v any) any {
	switch x := v.(type) {
	case json.Number:
		n, err := numberFromText(string(x))
		if err != nil {
			return x // not a number after all: keep the text
		}
		return n
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = fromPayload(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromPayload(e)
		}
		return out
	case float32:
		return float64(x)
	case int64:
		return int(x)
	}
	return v
}

// kindOf names the type of an expression value for a message.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "true/false"
	case string:
		return "text"
	case int, int64, float64, json.Number:
		return "a number"
	case time.Time:
		return "a time"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

// textOf renders a scalar as text: numbers in plain decimal, times as
// RFC 3339 (UTC, nanoseconds as needed).
func textOf(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		r, err := parseDecimal(string(x))
		if err != nil {
			return string(x), true
		}
		return decimalText(r), true
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), true
	}
	return "", false
}

// keyOf checks an external ID value and returns its canonical text and the
// value to send.
func keyOf(v any) (string, any, error) {
	switch x := v.(type) {
	case nil:
		return "", nil, fmt.Errorf("is null")
	case string:
		if strings.TrimSpace(x) == "" {
			return "", nil, fmt.Errorf("is empty")
		}
		return x, x, nil
	case int, int64, float64, json.Number:
		r, err := ratOf(x)
		if err != nil {
			return "", nil, err
		}
		return decimalText(r), x, nil
	}
	return "", nil, fmt.Errorf("must be text or a number, got %s", kindOf(v))
}

// fieldValue checks a field value for salesforce.Sink (see its package doc
// for the types it takes).
func fieldValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int, int64, json.Number, time.Time:
		return v, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a number Salesforce can store", x)
		}
		return x, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("a list must hold text (a multi-select picklist); item %d is %s", i, kindOf(e))
			}
			out[i] = s
		}
		return out, nil
	case map[string]any:
		return nil, fmt.Errorf("gives a map, not a value (a lookup is written {ParentExternalId__c: expression})")
	}
	return nil, fmt.Errorf("gives %s, not a value Salesforce can store", kindOf(v))
}

// recordTime is the time a record's event happened (its version's time), or
// when the source read it.
func recordTime(r record.Record) time.Time {
	if t := r.Version.Time(); !t.IsZero() {
		return t
	}
	return r.Time.UTC()
}
