package sfemu

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// kv is one member of an orderedMap.
type kv struct {
	K string
	V any
}

// orderedMap is a JSON object whose members keep their order, as
// Salesforce's records do (attributes first, then fields).
type orderedMap []kv

// MarshalJSON writes the members in order.
func (m orderedMap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	err := encodeTo(&buf, m)
	return buf.Bytes(), err
}

// get returns the value of key, or nil.
func (m orderedMap) get(key string) any {
	for _, p := range m {
		if p.K == key {
			return p.V
		}
	}
	return nil
}

func encodeTo(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
		return nil
	case orderedMap:
		buf.WriteByte('{')
		for i, p := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, p.K)
			buf.WriteByte(':')
			if err := encodeTo(buf, p.V); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case []orderedMap:
		buf.WriteByte('[')
		for i, m := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeTo(buf, m); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case string:
		writeJSONString(buf, x)
		return nil
	case bool:
		buf.WriteString(strconv.FormatBool(x))
		return nil
	case int:
		buf.WriteString(strconv.Itoa(x))
		return nil
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
		return nil
	case []RecordError:
		if len(x) == 0 {
			buf.WriteString("[]")
			return nil
		}
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

// marshalJSON encodes v without HTML escaping, indented when pretty.
func marshalJSON(v any, pretty bool) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeTo(&buf, v); err != nil {
		return nil, err
	}
	if !pretty {
		return buf.Bytes(), nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// attributes is a record's "attributes" member.
func attributes(obj, url string) orderedMap {
	return orderedMap{{"type", obj}, {"url", url}}
}

// recordJSON renders a record with the given fields (all when nil),
// attributes first (fact sheet §3.2).
func (c *Call) recordJSON(r *record, fields []*Field) orderedMap {
	if fields == nil {
		fields = r.obj.Fields
	}
	m := make(orderedMap, 0, len(fields)+1)
	m = append(m, kv{"attributes", attributes(r.obj.Name, c.DataPath("/sobjects/"+r.obj.Name+"/"+r.id))})
	for _, f := range fields {
		m = append(m, kv{f.Name, r.vals[f.Name]})
	}
	return m
}

// saveResult renders a DML result: {"id","success","errors"} plus
// "created" for upserts that succeeded; failures omit id unless the record
// existed (fact sheet §4.1, §4.6).
func saveResult(r Result, upsert bool) orderedMap {
	m := make(orderedMap, 0, 4)
	if r.ID != "" {
		m = append(m, kv{"id", r.ID})
	}
	errs := r.Errors
	if errs == nil {
		errs = []RecordError{}
	}
	m = append(m, kv{"success", r.Success}, kv{"errors", errs})
	if upsert && r.Success {
		m = append(m, kv{"created", r.Created})
	}
	return m
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as a JSON string the way encoding/json does
// without HTML escaping (invalid UTF-8 becomes U+FFFD; U+2028 and U+2029
// are escaped).
func writeJSONString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf.WriteString(s[start:i])
			switch b {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(b)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[b>>4])
				buf.WriteByte(hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf.WriteString(s[start:i])
			buf.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}
