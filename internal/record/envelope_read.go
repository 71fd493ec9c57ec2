package record

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// decodeFast reads an envelope as Decode does, without reflection, for the
// envelopes Encode writes: exact field names, each once, no null where a
// value is expected, payload nesting well inside maxDepth. Anything else —
// and every invalid envelope — gives ok false, and Decode takes the strict
// encoding/json path, which decides and words the error. Whatever decodeFast
// accepts, that path accepts too, with an equal Record (checked by
// TestDecodeFastMatchesSlow and FuzzEnvelopeFastPaths).
func decodeFast(data []byte) (_ Record, ok bool) {
	p := parser{data: data}
	var (
		r                        Record
		seen                     uint16
		v                        bool
		key                      Key
		version                  versionWire
		timeText                 string
		haveVersion, haveTimeStr bool
	)
	if !p.byte('{') {
		return Record{}, false
	}
	for first := true; ; first = false {
		if p.byte('}') {
			break
		}
		if !first && !p.byte(',') {
			return Record{}, false
		}
		name, ok := p.str()
		if !ok || !p.byte(':') {
			return Record{}, false
		}
		bit := envelopeField(name)
		if bit == 0 || seen&bit != 0 {
			return Record{}, false
		}
		seen |= bit
		switch name {
		case "v":
			p.ws()
			if !p.literal("1") || p.i < len(p.data) && isNumberByte(p.data[p.i]) {
				return Record{}, false
			}
			v = true
		case "id":
			r.ID, ok = p.str()
		case "source":
			r.Source, ok = p.str()
		case "collection":
			r.Collection, ok = p.str()
		case "op":
			var op string
			op, ok = p.str()
			r.Op = Op(op)
		case "key":
			key, ok = p.key()
		case "version":
			version, ok = p.version()
			haveVersion = ok
		case "position":
			var s string
			if s, ok = p.str(); ok {
				b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
				n, err := base64.StdEncoding.Decode(b, []byte(s))
				ok = err == nil
				r.Position = b[:n]
			}
		case "time":
			timeText, ok = p.str()
			haveTimeStr = ok
		case "payload":
			p.ws()
			if !p.peek('{') {
				return Record{}, false
			}
			var val any
			val, ok = p.value(0)
			r.Payload, _ = val.(map[string]any)
		case "metadata":
			r.Metadata, ok = p.stringMap()
		}
		if !ok {
			return Record{}, false
		}
	}
	p.ws()
	if p.i != len(p.data) || !v || len(key) == 0 || !haveVersion || !haveTimeStr {
		return Record{}, false
	}
	var err error
	if r.Version, err = versionFromWire(version); err != nil {
		return Record{}, false
	}
	if r.Time, err = time.Parse(time.RFC3339Nano, timeText); err != nil {
		return Record{}, false
	}
	r.Time = r.Time.UTC()
	r.Key = key
	// Validate, less what the parser already guarantees: the key is
	// canonical (parser.key), the payload is in the JSON model with valid
	// UTF-8, valid numbers and nesting within maxDepth, the metadata valid
	// UTF-8.
	if checkID(r.ID) != nil || checkText("source", r.Source) != nil || checkText("collection", r.Collection) != nil ||
		!r.Op.Valid() || r.Version.Validate() != nil {
		return Record{}, false
	}
	if y := r.Time.Year(); y < 0 || y > 9999 {
		return Record{}, false
	}
	if r.Payload == nil && r.Op != OpDelete {
		return Record{}, false
	}
	return r, true
}

// envelopeField returns a bit for each field name of the envelope, 0 for
// any other name.
func envelopeField(name string) uint16 {
	switch name {
	case "v":
		return 1 << 0
	case "id":
		return 1 << 1
	case "source":
		return 1 << 2
	case "collection":
		return 1 << 3
	case "op":
		return 1 << 4
	case "key":
		return 1 << 5
	case "version":
		return 1 << 6
	case "position":
		return 1 << 7
	case "time":
		return 1 << 8
	case "payload":
		return 1 << 9
	case "metadata":
		return 1 << 10
	}
	return 0
}

// fastMaxDepth is the deepest payload nesting decodeFast reads itself,
// below maxDepth so that the depth rules are normalize's alone.
const fastMaxDepth = maxDepth - 4

// parser reads JSON from data at i. Each method skips the whitespace
// before what it reads and reports ok false on anything it does not read.
type parser struct {
	data []byte
	i    int
}

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it comes next.
func (p *parser) byte(c byte) bool {
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek reports whether c comes next, without consuming it.
func (p *parser) peek(c byte) bool {
	return p.i < len(p.data) && p.data[p.i] == c
}

// literal consumes s if it comes next.
func (p *parser) literal(s string) bool {
	if len(p.data)-p.i >= len(s) && string(p.data[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// str reads a string. A plain one (printable, valid UTF-8, no escapes) is
// copied; one with escapes or invalid UTF-8 is decoded by encoding/json
// itself, so that the result is its own.
func (p *parser) str() (string, bool) {
	p.ws()
	if !p.peek('"') {
		return "", false
	}
	start := p.i
	p.i++
	plain := true
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			raw := p.data[start+1 : p.i-1]
			if plain {
				return string(raw), true
			}
			var s string
			if err := json.Unmarshal(p.data[start:p.i], &s); err != nil {
				return "", false
			}
			return s, true
		case c < ' ':
			return "", false
		case c == '\\':
			plain = false
			p.i += 2 // the escaped byte; \uXXXX's digits are plain bytes
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			p.i += size
			continue
		}
		p.i++
	}
	return "", false
}

// number reads a number (RFC 8259 grammar) and returns its text.
func (p *parser) number() (string, bool) {
	p.ws()
	start := p.i
	for p.i < len(p.data) && isNumberByte(p.data[p.i]) {
		p.i++
	}
	s := string(p.data[start:p.i])
	return s, isJSONNumber(s)
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// value reads any value into the JSON model (json.Number for numbers).
// depth is the nesting of the value, as normalize counts it.
func (p *parser) value(depth int) (any, bool) {
	if depth > fastMaxDepth {
		return nil, false
	}
	p.ws()
	if p.i >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.i]; {
	case c == '"':
		return p.str()
	case c == '{':
		p.i++
		m := map[string]any{}
		if p.byte('}') {
			return m, true
		}
		for {
			k, ok := p.str()
			if !ok || !p.byte(':') {
				return nil, false
			}
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[k] = v // a repeated name: the last wins, as in encoding/json
			if p.byte('}') {
				return m, true
			}
			if !p.byte(',') {
				return nil, false
			}
		}
	case c == '[':
		p.i++
		a := []any{}
		if p.byte(']') {
			return a, true
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			if p.byte(']') {
				return a, true
			}
			if !p.byte(',') {
				return nil, false
			}
		}
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		s, ok := p.number()
		return json.Number(s), ok
	}
	return nil, false
}

// key reads the key's [name, value] pairs and checks them as Canonical
// does: at least one, names non-empty and distinct, values scalar.
func (p *parser) key() (Key, bool) {
	if !p.byte('[') {
		return nil, false
	}
	var k Key
	for {
		if !p.byte('[') {
			return nil, false
		}
		name, ok := p.str()
		if !ok || name == "" || !p.byte(',') {
			return nil, false
		}
		for _, f := range k {
			if f.Name == name {
				return nil, false
			}
		}
		p.ws()
		if p.peek('{') || p.peek('[') || p.peek('n') {
			return nil, false
		}
		v, ok := p.value(0)
		if !ok || !p.byte(']') {
			return nil, false
		}
		k = append(k, KeyField{Name: name, Value: v})
		if p.byte(']') {
			return k, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// version reads the envelope's version object.
func (p *parser) version() (versionWire, bool) {
	var w versionWire
	if !p.byte('{') {
		return w, false
	}
	var seen uint8
	for first := true; ; first = false {
		if p.byte('}') {
			return w, true
		}
		if !first && !p.byte(',') {
			return w, false
		}
		name, ok := p.str()
		if !ok || !p.byte(':') {
			return w, false
		}
		var bit uint8
		switch name {
		case "kind":
			bit = 1
			var s string
			s, ok = p.str()
			w.Kind = VersionKind(s)
		case "lsn":
			bit = 2
			w.LSN, ok = p.str()
		case "time":
			bit = 4
			w.Time, ok = p.str()
		case "seq":
			bit = 8
			var s string
			if s, ok = p.number(); ok {
				w.Seq, ok = parseDecimal(s)
			}
		}
		if bit == 0 || seen&bit != 0 || !ok {
			return w, false
		}
		seen |= bit
	}
}

// parseDecimal parses an unsigned decimal integer as encoding/json fills
// a uint64 (digits only, in range).
func parseDecimal(s string) (uint64, bool) {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// stringMap reads an object of strings (the metadata).
func (p *parser) stringMap() (map[string]string, bool) {
	if !p.byte('{') {
		return nil, false
	}
	m := map[string]string{}
	if p.byte('}') {
		return m, true
	}
	for {
		k, ok := p.str()
		if !ok || !p.byte(':') {
			return nil, false
		}
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		m[k] = v
		if p.byte('}') {
			return m, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}
