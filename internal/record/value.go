package record

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxDepth bounds the nesting of payload values (and stops cycles).
const maxDepth = 64

// normalize converts a Go value to the JSON data model the envelope carries:
// nil, bool, string, json.Number, []any and map[string]any.
//
// Type mapping (Encode direction; Decode yields only the JSON model):
//
//	nil, nil pointer/map/slice      → null
//	bool                            → true / false
//	string (valid UTF-8)            → string
//	int*, uint*, float* (finite)    → number (exact text; decoded as json.Number)
//	json.Number                     → number, its text unchanged
//	time.Time                       → string, RFC 3339 with nanoseconds, UTC
//	[]byte                          → string, standard base64 with padding
//	json.RawMessage                 → the JSON it holds
//	map[string]T                    → object (keys sorted on the wire)
//	[]T, [N]T                       → array
//	*T                              → as T
//
// Anything else (structs, channels, funcs, NaN, ±Inf, invalid UTF-8) is an
// error naming the path of the value.
func normalize(path string, v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d levels", path, maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return x, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("%s: string is not valid UTF-8", path)
		}
		return x, nil
	case json.Number:
		if !isJSONNumber(string(x)) {
			return nil, fmt.Errorf("%s: %q is not a JSON number", path, string(x))
		}
		return x, nil
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), nil
	case float64:
		return floatNumber(path, x, 64)
	case float32:
		return floatNumber(path, float64(x), 32)
	case time.Time:
		if y := x.UTC().Year(); y < 0 || y > 9999 {
			return nil, fmt.Errorf("%s: time year %d is outside 0–9999", path, y)
		}
		return x.UTC().Format(time.RFC3339Nano), nil
	case json.RawMessage:
		var inner any
		if err := unmarshalStrict(x, &inner); err != nil {
			return nil, fmt.Errorf("%s: raw JSON: %w", path, err)
		}
		return normalize(path, inner, depth)
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if err := checkName(path, k); err != nil {
				return nil, err
			}
			n, err := normalize(path+"."+k, e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(path+"["+strconv.Itoa(i)+"]", e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return normalizeReflect(path, reflect.ValueOf(v), depth)
}

// normalizeReflect handles named types and typed containers.
func normalizeReflect(path string, rv reflect.Value, depth int) (any, error) {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return normalize(path, rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return normalize(path, rv.String(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(rv.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return json.Number(strconv.FormatUint(rv.Uint(), 10)), nil
	case reflect.Float32:
		return floatNumber(path, rv.Float(), 32)
	case reflect.Float64:
		return floatNumber(path, rv.Float(), 64)
	case reflect.Slice:
		if rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(rv.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(path+"["+strconv.Itoa(i)+"]", rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys must be strings, not %s", path, rv.Type().Key())
		}
		if rv.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			if err := checkName(path, k); err != nil {
				return nil, err
			}
			n, err := normalize(path+"."+k, it.Value().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: unsupported type %s", path, rv.Type())
}

func floatNumber(path string, f float64, bits int) (any, error) {
	var b []byte
	var err error
	if bits == 32 {
		b, err = json.Marshal(float32(f))
	} else {
		b, err = json.Marshal(f)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v is not a JSON number", path, f)
	}
	return json.Number(b), nil
}

func checkName(path, name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%s: field name %q is not valid UTF-8", path, name)
	}
	return nil
}

// isJSONNumber reports whether s is a JSON number literal (RFC 8259 §6:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, nothing around it). It is
// on the path of every number of every record, hence hand-written.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = skipDigits(s, i+1)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// skipDigits returns the index of the first non-digit of s at or after i.
func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
