package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// EntryVersion is the entry format this build writes and reads.
const EntryVersion = 1

// Headers sfbridge sets on messages. Header names are case-sensitive.
const (
	// HeaderReplayFor, on a replayed record, names the one sync that should
	// deliver it; every other sync acks it and counts it as filtered.
	HeaderReplayFor = "Sfbridge-Replay-For"
	// HeaderReplayOf, on a replayed record, is the DLQ sequence it came from.
	HeaderReplayOf = "Sfbridge-Replay-Of"
	// HeaderSync, HeaderReason and HeaderCode repeat an entry's sync, reason
	// and final error code on the DLQ message, for tools that read headers.
	HeaderSync   = "Sfbridge-Sync"
	HeaderReason = "Sfbridge-Reason"
	HeaderCode   = "Sfbridge-Code"
)

// Reason is why a record went to the DLQ.
type Reason string

// Reasons.
const (
	// ReasonDecode: the message is not a record envelope this build reads
	// (DESIGN.md invariant 7).
	ReasonDecode Reason = "decode"
	// ReasonMapping: the sync's mapping failed on the record (a missing
	// field, a type that does not fit); retrying cannot help, replaying after
	// fixing the mapping does.
	ReasonMapping Reason = "mapping"
	// ReasonPermanent: Salesforce rejected the record for good (validation
	// rule, required field, bad value).
	ReasonPermanent Reason = "permanent"
	// ReasonMaxAttempts: the record failed with retryable errors
	// max_attempts times.
	ReasonMaxAttempts Reason = "max_attempts"
	// ReasonInvalidEvent: an event source (files, s3, http) could not read
	// one event of an input (a line that is not JSON, a missing id or type,
	// a CSV row with the wrong columns). The entry's Sync is the source's
	// name and Raw the event's bytes; it cannot be replayed: fix the event
	// where it came from and send it again, then drop the entry.
	ReasonInvalidEvent Reason = "invalid_event"
)

// Reasons lists every reason.
var Reasons = []Reason{ReasonDecode, ReasonMapping, ReasonPermanent, ReasonMaxAttempts, ReasonInvalidEvent}

// Codes sfbridge gives failures that have no Salesforce error code.
const (
	CodeDecode  = "SFBRIDGE_DECODE"
	CodeMapping = "SFBRIDGE_MAPPING"
	// CodeInvalidEvent is the code of ReasonInvalidEvent entries.
	CodeInvalidEvent = "SFBRIDGE_INVALID_EVENT"
)

// Attempt is one record-level failure of a record. Outages (Salesforce or
// the network down, throttling, the daily API limit) are not attempts
// (invariant 3) and are not listed.
type Attempt struct {
	// N counts the record's failures: 1 for the first.
	N int `json:"n"`
	// Delivery is the broker's delivery count when it failed (it also counts
	// deliveries that ended without a failure: a restart, an outage).
	Delivery int `json:"delivery"`
	// At is when the failure was seen.
	At time.Time `json:"at"`
	// Class is the verdict: retry, throttle, reauth, permanent or fatal for
	// Salesforce errors, permanent for decode and mapping failures.
	Class string `json:"class"`
	// Code is the error code (Salesforce's statusCode, e.g.
	// FIELD_CUSTOM_VALIDATION_EXCEPTION, or CodeDecode / CodeMapping).
	Code string `json:"code,omitempty"`
	// Message is the error's message.
	Message string `json:"message"`
	// Fields names the fields the error is about, when known.
	Fields []string `json:"fields,omitempty"`
}

// Entry is one dead letter. See the package doc for what it keeps.
type Entry struct {
	// V is the format version; Marshal sets it.
	V int `json:"v"`
	// Sync is the sync that gave up on the record.
	Sync string `json:"sync"`
	// Reason, Code, Message and Fields are the final verdict (Code and
	// Message repeat the last attempt's).
	Reason  Reason   `json:"reason"`
	Code    string   `json:"code,omitempty"`
	Message string   `json:"message"`
	Fields  []string `json:"fields,omitempty"`
	// Attempts are the record-level failures, oldest first.
	Attempts []Attempt `json:"attempts"`
	// DeadAt is when the sync dead-lettered the record.
	DeadAt time.Time `json:"dead_at"`

	// Subject, MessageID, Headers and Published describe the original
	// message; Raw is its body, byte for byte.
	Subject   string            `json:"subject"`
	MessageID string            `json:"message_id"`
	Headers   map[string]string `json:"headers,omitempty"`
	Published time.Time         `json:"published"`
	Raw       []byte            `json:"-"`

	// Record is the decoded record's identity; nil when it did not decode.
	Record *Identity `json:"identity,omitempty"`
}

// Identity names a decoded record without its payload.
type Identity struct {
	ID         string `json:"id"`
	Source     string `json:"source"`
	Collection string `json:"collection"`
	Op         string `json:"op"`
	Key        string `json:"key"`
	Version    string `json:"version"`
}

// entryWire is the JSON form: the raw body goes in "record" when it is
// compact JSON (readable, and written back byte for byte), else in
// "record_base64".
type entryWire struct {
	Entry
	RecordJSON   json.RawMessage `json:"record,omitzero"`
	RecordBase64 []byte          `json:"record_base64,omitzero"`
}

// Marshal returns the entry's JSON form (format EntryVersion).
func (e Entry) Marshal() ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("dlq: entry: %w", err)
	}
	e.V = EntryVersion
	w := entryWire{Entry: e}
	if isCompactJSON(e.Raw) {
		w.RecordJSON = e.Raw
	} else {
		w.RecordBase64 = e.Raw
		if w.RecordBase64 == nil {
			w.RecordBase64 = []byte{}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the raw record's bytes as they are
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("dlq: entry: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Unmarshal reads an entry. It rejects other format versions, unknown
// fields and trailing data.
func Unmarshal(data []byte) (Entry, error) {
	var head struct {
		V json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Entry{}, fmt.Errorf("dlq: entry is not a JSON object: %w", err)
	}
	if string(head.V) != fmt.Sprint(EntryVersion) {
		return Entry{}, fmt.Errorf("dlq: entry format version %s is not supported (this build reads %d)", orMissing(head.V), EntryVersion)
	}
	var w entryWire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Entry{}, fmt.Errorf("dlq: entry: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Entry{}, errors.New("dlq: entry: trailing data after the JSON value")
	}
	e := w.Entry
	switch {
	case w.RecordJSON != nil && w.RecordBase64 != nil:
		return Entry{}, errors.New(`dlq: entry has both "record" and "record_base64"`)
	case w.RecordJSON != nil:
		e.Raw = []byte(w.RecordJSON)
	case w.RecordBase64 != nil:
		e.Raw = w.RecordBase64
	default:
		return Entry{}, errors.New(`dlq: entry has neither "record" nor "record_base64"`)
	}
	if err := e.validate(); err != nil {
		return Entry{}, fmt.Errorf("dlq: entry: %w", err)
	}
	return e, nil
}

func orMissing(v json.RawMessage) string {
	if len(v) == 0 {
		return "(missing)"
	}
	return string(v)
}

// validate checks what every entry must have.
func (e Entry) validate() error {
	var errs []error
	if err := queue.CheckName(e.Sync); err != nil {
		errs = append(errs, fmt.Errorf("sync: %w", err))
	}
	if !validReason(e.Reason) {
		errs = append(errs, fmt.Errorf("reason: %q is not one of %s", e.Reason, reasonList()))
	}
	if e.Message == "" {
		errs = append(errs, errors.New("message: required"))
	}
	if err := queue.CheckSubject(queue.InRoot, e.Subject); err != nil {
		errs = append(errs, fmt.Errorf("subject: %w", err))
	}
	if e.MessageID == "" {
		errs = append(errs, errors.New("message_id: required"))
	}
	if e.DeadAt.IsZero() {
		errs = append(errs, errors.New("dead_at: required"))
	}
	return errors.Join(errs...)
}

func validReason(r Reason) bool {
	for _, x := range Reasons {
		if r == x {
			return true
		}
	}
	return false
}

func reasonList() string {
	s := make([]string, len(Reasons))
	for i, r := range Reasons {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// isCompactJSON reports whether b is one JSON value that encoding/json
// writes back unchanged (no insignificant whitespace).
func isCompactJSON(b []byte) bool {
	if len(b) == 0 || !json.Valid(b) {
		return false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return false
	}
	return bytes.Equal(buf.Bytes(), b)
}

// Subject is the DLQ subject of a sync's entries: "dlq.<sync>".
func Subject(sync string) string { return queue.DLQRoot + "." + sync }

// MessageID is the deduplication ID of the entry for a delivery of
// messageID to sync.
func MessageID(sync, messageID string) string { return "dlq:" + sync + ":" + messageID }

// replayPrefix starts the ID of a replayed message.
const replayPrefix = "replay-"

// ReplayID is the fresh message ID a replay of entry seq publishes with:
// deterministic per entry (a replay retried after a crash is deduplicated by
// the broker) and different from the original ID and from any earlier
// replay's (an entry replayed, dead-lettered again and replayed again is
// not taken for a duplicate). An earlier replay prefix is dropped, so IDs do
// not grow with every round.
func ReplayID(seq uint64, messageID string) string {
	base := messageID
	if rest, ok := strings.CutPrefix(base, replayPrefix); ok {
		if n, orig, ok := strings.Cut(rest, "-"); ok && orig != "" && isDigits(n) {
			base = orig
		}
	}
	return fmt.Sprintf("%s%d-%s", replayPrefix, seq, base)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
