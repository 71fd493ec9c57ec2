package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sfbridge/sfbridge/internal/record"
)

// Limits on an event's identity fields.
const (
	// MaxIDBytes bounds an event's id and key.
	MaxIDBytes = 512
	// MaxTypeBytes bounds an event's type.
	MaxTypeBytes = 255
)

// Spec says where an event's identity is, and how large an event may be.
type Spec struct {
	// IDField, TypeField, TimeField and KeyField name the fields (dotted
	// paths allowed). KeyField "" means IDField. TimeField "" means events
	// carry no time: the time they were received is used, so a resent
	// event is a new version (harmless: upserts write the same values).
	IDField, TypeField, TimeField, KeyField string
	// MaxEventBytes bounds one event (a line, an array element, a CSV row);
	// 0 means 1 MiB.
	MaxEventBytes int
}

func (s Spec) maxEvent() int {
	if s.MaxEventBytes <= 0 {
		return 1 << 20
	}
	return s.MaxEventBytes
}

func (s Spec) keyField() string {
	if s.KeyField == "" {
		return s.IDField
	}
	return s.KeyField
}

// Check reports what is wrong with s.
func (s Spec) Check() error {
	var errs []error
	if s.IDField == "" {
		errs = append(errs, errors.New("event spec: the id field is required"))
	}
	if s.TypeField == "" {
		errs = append(errs, errors.New("event spec: the type field is required"))
	}
	return errors.Join(errs...)
}

// Loc says where an event (or a problem) is in its input. Index counts
// events from 0 (lines, array elements, rows — blank lines and the CSV
// header not counted); Line is 1-based (NDJSON and CSV; 0 for JSON); Offset
// is the byte offset in the (decompressed) input.
type Loc struct {
	Index  int
	Line   int
	Offset int64
}

// String renders the location for messages: "line 3 (byte 120)" or
// "event 2 (byte 57)".
func (l Loc) String() string {
	if l.Line > 0 {
		return fmt.Sprintf("line %d (byte %d)", l.Line, l.Offset)
	}
	return fmt.Sprintf("event %d (byte %d)", l.Index, l.Offset)
}

// Event is one decoded event.
type Event struct {
	// ID, Type and Key are the identity fields' values as text.
	ID, Type, Key string
	// Time is when the event happened (UTC, microsecond precision); zero
	// when the Spec has no time field.
	Time time.Time
	// Fields is the whole event: a JSON object with numbers as json.Number,
	// or a CSV row's column → string.
	Fields map[string]any
	// Loc is where the event was in its input.
	Loc Loc
	// Size is the event's size in bytes as read.
	Size int
}

// maxRaw bounds the raw bytes an ItemError keeps.
const maxRaw = 64 << 10

// ItemError is one bad event; the input's other events are unaffected.
type ItemError struct {
	Loc Loc
	// ID is the event's id when it could be read, else "".
	ID string
	// Field names the field at fault, when one is ("type", "meta.id").
	Field string
	// Reason says what is wrong, without the location.
	Reason string
	// Raw is the event's bytes as read (at most 64 KiB).
	Raw []byte
}

func (e *ItemError) Error() string {
	return e.Loc.String() + ": " + e.Reason
}

// InputError says the input as a whole cannot be read; nothing more comes
// from it.
type InputError struct {
	Loc    Loc
	Reason string
}

func (e *InputError) Error() string {
	return e.Loc.String() + ": " + e.Reason
}

// identify fills ev's identity from its fields; a problem is an ItemError.
func (s Spec) identify(ev *Event, raw []byte) *ItemError {
	bad := func(field, format string, args ...any) *ItemError {
		return &ItemError{Loc: ev.Loc, ID: ev.ID, Field: field, Reason: fmt.Sprintf(format, args...), Raw: clip(raw)}
	}
	id, err := idText(lookup(ev.Fields, s.IDField))
	if err != nil {
		return bad(s.IDField, "id field %q: %v", s.IDField, err)
	}
	ev.ID = id
	typ, ok := lookup(ev.Fields, s.TypeField)
	switch t := typ.(type) {
	case nil:
		if !ok {
			return bad(s.TypeField, "type field %q: missing", s.TypeField)
		}
		return bad(s.TypeField, "type field %q: null", s.TypeField)
	case string:
		switch {
		case strings.TrimSpace(t) == "":
			return bad(s.TypeField, "type field %q: empty", s.TypeField)
		case len(t) > MaxTypeBytes:
			return bad(s.TypeField, "type field %q: %d bytes, longer than %d", s.TypeField, len(t), MaxTypeBytes)
		}
		ev.Type = t
	default:
		return bad(s.TypeField, "type field %q: must be a string, got %s", s.TypeField, kind(typ))
	}
	if kf := s.keyField(); kf == s.IDField {
		ev.Key = id
	} else if ev.Key, err = idText(lookup(ev.Fields, kf)); err != nil {
		return bad(kf, "key field %q: %v", kf, err)
	}
	if s.TimeField != "" {
		v, ok := lookup(ev.Fields, s.TimeField)
		if !ok {
			return bad(s.TimeField, "time field %q: missing", s.TimeField)
		}
		t, err := parseTime(v)
		if err != nil {
			return bad(s.TimeField, "time field %q: %v", s.TimeField, err)
		}
		ev.Time = t
	}
	return nil
}

// lookup finds a field by name, or by a dotted path into nested objects; a
// top-level field whose name contains the dots wins.
func lookup(fields map[string]any, path string) (any, bool) {
	if v, ok := fields[path]; ok {
		return v, true
	}
	cur := fields
	parts := strings.Split(path, ".")
	for i, p := range parts {
		v, ok := cur[p]
		if !ok {
			return nil, false
		}
		if i == len(parts)-1 {
			return v, true
		}
		if cur, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// idText renders an id or key value: a non-empty string or an integer.
func idText(v any, present bool) (string, error) {
	switch x := v.(type) {
	case nil:
		if !present {
			return "", errors.New("missing")
		}
		return "", errors.New("null")
	case string:
		if strings.TrimSpace(x) == "" {
			return "", errors.New("empty")
		}
		if len(x) > MaxIDBytes {
			return "", fmt.Errorf("%d bytes, longer than %d", len(x), MaxIDBytes)
		}
		return x, nil
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err != nil {
			return "", fmt.Errorf("must be a string or an integer, got the number %s", x)
		}
		return string(x), nil
	}
	return "", fmt.Errorf("must be a string or an integer, got %s", kind(v))
}

// parseTime reads an event time: an RFC 3339 string, or a number of Unix
// seconds (milliseconds when above 10^11), within years 1–9999.
func parseTime(v any) (time.Time, error) {
	var t time.Time
	switch x := v.(type) {
	case string:
		var err error
		t, err = time.Parse(time.RFC3339Nano, x)
		if err != nil {
			if _, nerr := strconv.ParseFloat(x, 64); nerr == nil && x != "" && (x[0] == '-' || x[0] >= '0' && x[0] <= '9') {
				return parseTime(json.Number(x)) // CSV: Unix seconds as text
			}
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2024-05-01T12:00:00Z) or Unix seconds", clipText(x, 40))
		}
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			if n > 1e11 || n < -1e11 {
				t = time.UnixMilli(n)
			} else {
				t = time.Unix(n, 0)
			}
			break
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return time.Time{}, fmt.Errorf("%s is not a number of Unix seconds", x)
		}
		if math.Abs(f) > 1e11 {
			f /= 1000 // milliseconds
		}
		if f < -62135596800 || f > 253402300799 {
			return time.Time{}, fmt.Errorf("%s is outside years 1–9999", x)
		}
		sec, frac := math.Modf(f)
		t = time.Unix(int64(sec), int64(math.Round(frac*1e9)))
	case nil:
		return time.Time{}, errors.New("null")
	default:
		return time.Time{}, fmt.Errorf("must be an RFC 3339 string or Unix seconds, got %s", kind(v))
	}
	t = t.UTC().Truncate(time.Microsecond)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("year %d is outside 1–9999", y)
	}
	return t, nil
}

// kind names a JSON value's type for messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func clip(b []byte) []byte {
	if len(b) > maxRaw {
		b = b[:maxRaw]
	}
	return append([]byte(nil), b...)
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Record turns ev into the record a source publishes: collection = the
// event's type, key = the key field, version = the event's time (or
// received, when the Spec has no time field), payload = every field. Its ID
// depends on the source, type, id and time only, so the same event sent
// twice is the same record. Metadata gets "event_id" and the caller's meta.
func (s Spec) Record(source string, ev Event, received time.Time, meta map[string]string) (record.Record, error) {
	t := ev.Time
	if t.IsZero() {
		t = received.UTC().Truncate(time.Microsecond)
	}
	v := record.EventVersion(t, 0)
	id, err := record.DeriveID(source, ev.Type, record.Key{{Name: s.IDField, Value: ev.ID}}, v)
	if err != nil {
		return record.Record{}, fmt.Errorf("%s: %w", ev.Loc, err)
	}
	md := make(map[string]string, len(meta)+1)
	for k, val := range meta {
		md[k] = val
	}
	md["event_id"] = ev.ID
	r := record.Record{
		ID:         id,
		Source:     source,
		Collection: ev.Type,
		Op:         record.OpUpsert,
		Key:        record.Key{{Name: s.keyField(), Value: ev.Key}},
		Version:    v,
		Time:       received.UTC(),
		Payload:    ev.Fields,
		Metadata:   md,
	}
	if err := r.Validate(); err != nil {
		return record.Record{}, fmt.Errorf("%s: %w", ev.Loc, err)
	}
	return r, nil
}
