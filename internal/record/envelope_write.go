package record

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// encodeFast writes r's envelope without reflection: byte for byte what
// encodeSlow (encoding/json on the envelope struct) writes, which
// TestEncodeFastMatchesSlow and FuzzEnvelopeFastPaths check. It does the
// checks of Validate as it goes and gives up (ok false) at the first
// problem, or on a value it does not handle itself, so that encodeSlow
// reports every problem with its own message. Most records are written by
// the source on the hot path: this avoids normalizing the payload into a
// copy and then encoding the copy by reflection.
func encodeFast(r Record) (_ []byte, ok bool) {
	if checkID(r.ID) != nil || checkText("source", r.Source) != nil || checkText("collection", r.Collection) != nil ||
		!r.Op.Valid() || r.Version.Validate() != nil || r.Time.IsZero() {
		return nil, false
	}
	if y := r.Time.UTC().Year(); y < 0 || y > 9999 {
		return nil, false
	}
	if r.Payload == nil && r.Op != OpDelete {
		return nil, false
	}
	buf := make([]byte, 0, 256+len(r.Position)*4/3+32*len(r.Payload))
	buf = append(buf, `{"v":1,"id":`...)
	buf = appendJSONString(buf, r.ID)
	buf = append(buf, `,"source":`...)
	buf = appendJSONString(buf, r.Source)
	buf = append(buf, `,"collection":`...)
	buf = appendJSONString(buf, r.Collection)
	buf = append(buf, `,"op":`...)
	buf = appendJSONString(buf, string(r.Op))
	buf = append(buf, `,"key":`...)
	if buf, ok = appendKey(buf, r.Key); !ok {
		return nil, false
	}
	buf = append(buf, `,"version":`...)
	buf = r.Version.appendWire(buf)
	if r.Position != nil {
		buf = append(buf, `,"position":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, r.Position)
		buf = append(buf, '"')
	}
	buf = append(buf, `,"time":"`...)
	buf = r.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"')
	if r.Payload != nil {
		buf = append(buf, `,"payload":`...)
		if buf, ok = appendValue(buf, r.Payload, 0); !ok {
			return nil, false
		}
	}
	if r.Metadata != nil {
		buf = append(buf, `,"metadata":{`...)
		for i, k := range sortedKeys(r.Metadata) {
			v := r.Metadata[k]
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, false
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendJSONString(buf, v)
		}
		buf = append(buf, '}')
	}
	return append(buf, '}'), true
}

// appendKey writes a valid key as its wire pairs, [["id",42]] (the
// canonical text), or reports ok false for any key Canonical rejects.
func appendKey(buf []byte, k Key) (_ []byte, ok bool) {
	if len(k) == 0 {
		return buf, false
	}
	buf = append(buf, '[')
	for i, f := range k {
		if f.Name == "" || !utf8.ValidString(f.Name) {
			return buf, false
		}
		for _, g := range k[:i] {
			if g.Name == f.Name {
				return buf, false
			}
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = appendJSONString(buf, f.Name)
		buf = append(buf, ',')
		if buf, ok = appendKeyValue(buf, f.Value); !ok {
			return buf, false
		}
		buf = append(buf, ']')
	}
	return append(buf, ']'), true
}

// appendKeyValue writes a key value as normalize maps it, or reports ok
// false when it is not a scalar (or not valid).
func appendKeyValue(buf []byte, v any) (_ []byte, ok bool) {
	switch x := v.(type) {
	case nil, map[string]any, []any, json.RawMessage:
		return buf, false
	case string, json.Number, bool, int, int64, uint64, time.Time, []byte:
		return appendValue(buf, x, 0)
	}
	n, err := normalize("", v, 0)
	if err != nil {
		return buf, false
	}
	switch n.(type) {
	case string, json.Number, bool:
		return appendValue(buf, n, 0)
	}
	return buf, false
}

// appendValue writes v as normalize maps it and encoding/json then writes
// the result, or reports ok false where normalize would fail.
func appendValue(buf []byte, v any, depth int) (_ []byte, ok bool) {
	if depth > maxDepth {
		return buf, false
	}
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), true
	case bool:
		return strconv.AppendBool(buf, x), true
	case string:
		if !utf8.ValidString(x) {
			return buf, false
		}
		return appendJSONString(buf, x), true
	case json.Number:
		if !isJSONNumber(string(x)) {
			return buf, false
		}
		return append(buf, x...), true
	case int:
		return strconv.AppendInt(buf, int64(x), 10), true
	case int64:
		return strconv.AppendInt(buf, x, 10), true
	case uint64:
		return strconv.AppendUint(buf, x, 10), true
	case time.Time:
		t := x.UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			return buf, false
		}
		buf = append(buf, '"')
		buf = t.AppendFormat(buf, time.RFC3339Nano)
		return append(buf, '"'), true
	case []byte:
		if x == nil {
			// normalize's []byte case encodes nil as "", like empty.
			return append(buf, `""`...), true
		}
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, x)
		return append(buf, '"'), true
	case map[string]any:
		buf = append(buf, '{')
		for i, k := range sortedKeys(x) {
			if !utf8.ValidString(k) {
				return buf, false
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			if buf, ok = appendValue(buf, x[k], depth+1); !ok {
				return buf, false
			}
		}
		return append(buf, '}'), true
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, ok = appendValue(buf, e, depth+1); !ok {
				return buf, false
			}
		}
		return append(buf, ']'), true
	}
	// Floats, raw JSON, named and typed values: normalize them (the rare
	// case), then write the JSON model it returns.
	n, err := normalize("", v, depth)
	if err != nil {
		return buf, false
	}
	return appendValue(buf, n, depth)
}

// sortedKeys returns m's keys in the order encoding/json writes them.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendWire writes the version's envelope form (versionWire as
// encoding/json writes it).
func (v Version) appendWire(buf []byte) []byte {
	buf = append(buf, `{"kind":`...)
	buf = appendJSONString(buf, string(v.kind))
	switch v.kind {
	case VersionLSN:
		buf = append(buf, `,"lsn":"`...)
		buf = appendLSN(buf, v.lsn)
		buf = append(buf, '"')
	case VersionTime, VersionEvent:
		buf = append(buf, `,"time":"`...)
		buf = v.Time().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, '"')
	}
	if v.seq != 0 {
		buf = append(buf, `,"seq":`...)
		buf = strconv.AppendUint(buf, v.seq, 10)
	}
	return append(buf, '}')
}

// appendLSN writes FormatLSN(lsn).
func appendLSN(buf []byte, lsn uint64) []byte {
	buf = appendUpperHex(buf, lsn>>32)
	buf = append(buf, '/')
	return appendUpperHex(buf, uint64(uint32(lsn)))
}

func appendUpperHex(buf []byte, n uint64) []byte {
	start := len(buf)
	buf = strconv.AppendUint(buf, n, 16)
	for i := start; i < len(buf); i++ {
		if c := buf[i]; c >= 'a' && c <= 'f' {
			buf[i] = c - 'a' + 'A'
		}
	}
	return buf
}

const lowerHex = "0123456789abcdef"

// appendJSONString writes s quoted as encoding/json does with HTML
// escaping off: '"', '\\' and control characters escaped (\b \f \n \r \t
// by name, the rest as \u00XX), invalid UTF-8 as \ufffd, and U+2028 and
// U+2029 as \u2028 and \u2029.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '\\', '"':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', lowerHex[b>>4], lowerHex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', lowerHex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
