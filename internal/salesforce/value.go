package salesforce

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Salesforce's text formats for dates and datetimes (Bulk CSV and JSON).
const (
	DateLayout     = "2006-01-02"
	DateTimeLayout = "2006-01-02T15:04:05.000Z"
)

// Date is a calendar date (a Salesforce date field), written 2006-01-02.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String returns the date as 2006-01-02.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// MarshalJSON writes the date as a JSON string.
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// cellKind is the type of a converted value.
type cellKind uint8

const (
	cellNull cellKind = iota
	cellString
	cellNumber
	cellBool
)

// cell is one value converted to Salesforce's text form. It is what both
// the JSON (Collections) and the CSV (Bulk) encoders write.
type cell struct {
	kind cellKind
	text string
}

// csvNull is Bulk API 2.0's "set this field to null".
const csvNull = "#N/A"

// json returns the value for a JSON body.
func (c cell) json() any {
	switch c.kind {
	case cellNull:
		return nil
	case cellNumber:
		return json.Number(c.text)
	case cellBool:
		return c.text == "true"
	}
	return c.text
}

// csv returns the value for a Bulk CSV field: #N/A for null and for the
// empty string (Salesforce stores "" as null; an empty CSV field would mean
// "leave unchanged" instead).
func (c cell) csv() string {
	if c.kind == cellNull || c.text == "" {
		return csvNull
	}
	return c.text
}

// csvSafe reports whether the CSV form keeps the value: the text "#N/A"
// would be read as null, so such a value must go through JSON.
func (c cell) csvSafe() bool { return !(c.kind == cellString && c.text == csvNull) }

// toCell converts a row value (see the package doc for the types).
func toCell(v any) (cell, error) {
	switch x := v.(type) {
	case nil:
		return cell{kind: cellNull}, nil
	case string:
		if !utf8.ValidString(x) {
			return cell{}, errors.New("string is not valid UTF-8")
		}
		return cell{kind: cellString, text: x}, nil
	case bool:
		return cell{kind: cellBool, text: strconv.FormatBool(x)}, nil
	case json.Number:
		s, err := plainNumber(string(x))
		return cell{kind: cellNumber, text: s}, err
	case int:
		return cell{kind: cellNumber, text: strconv.FormatInt(int64(x), 10)}, nil
	case int64:
		return cell{kind: cellNumber, text: strconv.FormatInt(x, 10)}, nil
	case int32:
		return cell{kind: cellNumber, text: strconv.FormatInt(int64(x), 10)}, nil
	case uint64:
		return cell{kind: cellNumber, text: strconv.FormatUint(x, 10)}, nil
	case float64:
		return floatCell(x, 64)
	case float32:
		return floatCell(float64(x), 32)
	case time.Time:
		return cell{kind: cellString, text: x.UTC().Format(DateTimeLayout)}, nil
	case Date:
		return cell{kind: cellString, text: x.String()}, nil
	case []byte:
		if x == nil {
			return cell{kind: cellNull}, nil
		}
		return cell{kind: cellString, text: base64.StdEncoding.EncodeToString(x)}, nil
	case []string:
		return multiPicklist(x)
	case []any:
		ss := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return cell{}, fmt.Errorf("a list must hold strings (a multi-select picklist), item %d is %T", i, e)
			}
			ss[i] = s
		}
		return multiPicklist(ss)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return cell{kind: cellNull}, nil
		}
		return toCell(rv.Elem().Interface())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cell{kind: cellNumber, text: strconv.FormatInt(rv.Int(), 10)}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cell{kind: cellNumber, text: strconv.FormatUint(rv.Uint(), 10)}, nil
	case reflect.String:
		return toCell(rv.String())
	}
	return cell{}, fmt.Errorf("unsupported value type %T", v)
}

func floatCell(f float64, bits int) (cell, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cell{}, fmt.Errorf("%v is not a number Salesforce can store", f)
	}
	return cell{kind: cellNumber, text: strconv.FormatFloat(f, 'f', -1, bits)}, nil
}

func multiPicklist(items []string) (cell, error) {
	for i, s := range items {
		if strings.Contains(s, ";") || !utf8.ValidString(s) {
			return cell{}, fmt.Errorf("multi-select picklist item %d %q contains ';' or invalid UTF-8", i, s)
		}
	}
	return cell{kind: cellString, text: strings.Join(items, ";")}, nil
}

var jsonNumberRE = regexp.MustCompile(`^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$`)

// maxExponent bounds the exponents plainNumber expands.
const maxExponent = 400

// plainNumber rewrites a JSON number without an exponent, exactly
// ("1.5e3" → "1500", "12e-4" → "0.0012"): Salesforce's parsers do not take
// exponents in every field type.
func plainNumber(s string) (string, error) {
	m := jsonNumberRE.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("%q is not a number", s)
	}
	if m[4] == "" {
		return s, nil
	}
	exp, err := strconv.Atoi(m[4])
	if err != nil || exp > maxExponent || exp < -maxExponent {
		return "", fmt.Errorf("%q: exponent out of range", s)
	}
	sign, digits := m[1], m[2]+m[3]
	point := len(m[2]) + exp // position of the decimal point in digits
	var intPart, frac string
	switch {
	case point <= 0:
		intPart, frac = "0", strings.Repeat("0", -point)+digits
	case point >= len(digits):
		intPart, frac = digits+strings.Repeat("0", point-len(digits)), ""
	default:
		intPart, frac = digits[:point], digits[point:]
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if out == "0" {
		sign = ""
	}
	return sign + out, nil
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	idRE     = regexp.MustCompile(`^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$`)
	columnRE = regexp.MustCompile(`^(?:([A-Za-z][A-Za-z0-9_]*):)?(?:([A-Za-z][A-Za-z0-9_]*)\.)?([A-Za-z][A-Za-z0-9_]*)$`)
)

// checkName validates an object or field API name given as an argument.
func checkName(what, name string) error {
	if !nameRE.MatchString(name) {
		return classified(fmt.Errorf("salesforce: %s %q is not an API name (letters, digits and _, starting with a letter)", what, name), Verdict{Class: ClassFatal})
	}
	return nil
}
