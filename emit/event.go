package emit

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits that match what sfbridge's event sources accept, so an event Emit
// takes is not refused later for its identity.
const (
	// MaxIDBytes bounds an event's ID and Key.
	MaxIDBytes = 512
	// MaxTypeBytes bounds an event's Type.
	MaxTypeBytes = 255
)

// Event is something that happened in the application.
type Event struct {
	// ID identifies the event; sfbridge drops a second event with the
	// same ID (and Type and Time), which makes resending safe. Empty: Emit
	// generates a random one (26 characters, time-ordered) and returns it.
	ID string
	// Type names what happened ("volunteer.login"); required.
	Type string
	// Time is when it happened; zero means now. Sent in UTC, RFC 3339 with
	// nanoseconds (sfbridge keeps microseconds).
	Time time.Time
	// Key identifies the entity the event is about (a volunteer's id);
	// optional. sfbridge uses it when the source sets key_field: key.
	Key string
	// Data holds the event's other fields, sent at the top level of the
	// JSON object beside id, type, time and key (which it must not hold).
	// Values must be JSON-encodable.
	Data map[string]any
}

// reserved are the envelope fields Data must not hold.
var reserved = [...]string{"id", "type", "time", "key"}

// FieldError says which field of an event Emit refused and why.
type FieldError struct {
	// Field is "id", "type", "time", "key", "data" (the event as a whole
	// in Data's terms) or "data.<name>".
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error renders "emit: event <field>: <reason>".
func (e *FieldError) Error() string {
	return "emit: event " + e.Field + ": " + e.Reason
}

// ErrEventTooLarge is wrapped by Emit's error for an event whose encoding is
// larger than Config.MaxEventBytes.
var ErrEventTooLarge = errors.New("emit: event too large")

// checkIdentity validates the envelope fields of ev (ID already filled).
func checkIdentity(ev *Event) error {
	if err := checkText("id", ev.ID, MaxIDBytes); err != nil {
		return err
	}
	if ev.Type == "" {
		return &FieldError{Field: "type", Reason: "required"}
	}
	if err := checkText("type", ev.Type, MaxTypeBytes); err != nil {
		return err
	}
	if ev.Key != "" {
		if err := checkText("key", ev.Key, MaxIDBytes); err != nil {
			return err
		}
	}
	if y := ev.Time.UTC().Year(); y < 1 || y > 9999 {
		return &FieldError{Field: "time", Reason: fmt.Sprintf("year %d is outside 1–9999", y)}
	}
	return nil
}

func checkText(field, s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return &FieldError{Field: field, Reason: "blank"}
	case len(s) > max:
		return &FieldError{Field: field, Reason: fmt.Sprintf("%d bytes, longer than %d", len(s), max)}
	case !utf8.ValidString(s):
		return &FieldError{Field: field, Reason: "not valid UTF-8"}
	}
	return nil
}

// encode renders ev as one flat JSON object: id, type, time, key (when
// set), then Data's fields in key order. It validates ev on the way.
func encode(ev *Event, maxBytes int) ([]byte, error) {
	if err := checkIdentity(ev); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	field := func(name, value string) {
		if buf.Len() == 0 {
			buf.WriteByte('{')
		} else {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + name + `":`)
		_ = enc.Encode(value) // a string always encodes
		buf.Truncate(buf.Len() - 1)
	}
	field("id", ev.ID)
	field("type", ev.Type)
	field("time", ev.Time.UTC().Format(time.RFC3339Nano))
	if ev.Key != "" {
		field("key", ev.Key)
	}
	if len(ev.Data) > 0 {
		names := make([]string, 0, len(ev.Data))
		for name := range ev.Data {
			if slices.Contains(reserved[:], name) {
				return nil, &FieldError{Field: "data." + name, Reason: fmt.Sprintf("%q is reserved for the envelope: set Event.%s instead", name, envelopeField(name))}
			}
			if name == "" {
				return nil, &FieldError{Field: "data", Reason: "a field name is empty"}
			}
			if !utf8.ValidString(name) {
				return nil, &FieldError{Field: "data", Reason: fmt.Sprintf("field name %q is not valid UTF-8", name)}
			}
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			buf.WriteByte(',')
			_ = enc.Encode(name)
			buf.Truncate(buf.Len() - 1)
			buf.WriteByte(':')
			if err := enc.Encode(ev.Data[name]); err != nil {
				return nil, &FieldError{Field: "data." + name, Reason: "cannot be encoded as JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
			}
			buf.Truncate(buf.Len() - 1)
			if maxBytes > 0 && buf.Len() > maxBytes {
				break // reported below; no need to encode the rest
			}
		}
	}
	buf.WriteByte('}')
	if maxBytes > 0 && buf.Len() > maxBytes {
		return nil, fmt.Errorf("%w: event %s is over %d bytes encoded (MaxEventBytes)", ErrEventTooLarge, ev.ID, maxBytes)
	}
	return buf.Bytes(), nil
}

func envelopeField(name string) string {
	switch name {
	case "id":
		return "ID"
	case "type":
		return "Type"
	case "time":
		return "Time"
	}
	return "Key"
}

// decode turns a spooled event back into an Event (for OnReject): numbers
// in Data are json.Number, so nothing loses precision.
func decode(line []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return Event{ID: messageID(line)}, fmt.Errorf("emit: decode spooled event: %w", err)
	}
	var ev Event
	ev.ID, _ = fields["id"].(string)
	ev.Type, _ = fields["type"].(string)
	ev.Key, _ = fields["key"].(string)
	if s, ok := fields["time"].(string); ok {
		ev.Time, _ = time.Parse(time.RFC3339Nano, s)
	}
	for _, name := range reserved {
		delete(fields, name)
	}
	if len(fields) > 0 {
		ev.Data = fields
	}
	return ev, nil
}

// messageID reads the id of an encoded event: encode writes it first, as
// {"id":"…". It returns "" for anything else.
func messageID(line []byte) string {
	const prefix = `{"id":"`
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return ""
	}
	for i := len(prefix); i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			var id string
			if json.Unmarshal(line[len(prefix)-1:i+1], &id) != nil {
				return ""
			}
			return id
		}
	}
	return ""
}

// crockford is the ULID alphabet (Crockford's base 32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a new random event id: 26 characters of Crockford base 32
// (a ULID: 48 bits of Unix milliseconds, then 80 random bits from
// crypto/rand), so ids sort by creation time.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	// 128 bits in 26 characters of 5 bits: the first carries 3 bits.
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
