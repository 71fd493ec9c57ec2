package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// EnvelopeVersion is the envelope format Encode writes and Decode reads.
const EnvelopeVersion = 1

// envelope is the wire form of a Record, format version 1:
//
//	{"v":1,"id":"…","source":"platform_db","collection":"public.counselors",
//	 "op":"upsert","key":[["id",42]],
//	 "version":{"kind":"lsn","lsn":"16/B374D848","seq":2},
//	 "position":"<base64>","time":"2024-05-01T10:00:00.123456789Z",
//	 "payload":{…},"metadata":{…}}
//
// Times are RFC 3339 with nanoseconds in UTC; bytes (position, []byte values)
// are standard base64; numbers keep their exact text and decode as
// json.Number; object keys are sorted, so Encode is deterministic. position,
// payload and metadata are left out when nil (an empty one is kept). The
// payload type mapping is documented on normalize.
type envelope struct {
	V          int               `json:"v"`
	ID         string            `json:"id"`
	Source     string            `json:"source"`
	Collection string            `json:"collection"`
	Op         Op                `json:"op"`
	Key        [][]any           `json:"key"`
	Version    versionWire       `json:"version"`
	Position   []byte            `json:"position,omitzero"`
	Time       string            `json:"time"`
	Payload    map[string]any    `json:"payload,omitzero"`
	Metadata   map[string]string `json:"metadata,omitzero"`
}

// Encode validates r and writes its envelope.
func Encode(r Record) ([]byte, error) {
	if b, ok := encodeFast(r); ok {
		return b, nil
	}
	return encodeSlow(r)
}

// encodeSlow is Encode by encoding/json on the envelope struct: the
// reference encodeFast must match, and the path that reports problems.
func encodeSlow(r Record) ([]byte, error) {
	payload, err := r.validate()
	if err != nil {
		return nil, fmt.Errorf("record: encode %s: %w", r.ID, err)
	}
	env := envelope{
		V:          EnvelopeVersion,
		ID:         r.ID,
		Source:     r.Source,
		Collection: r.Collection,
		Op:         r.Op,
		Version:    r.Version.wire(),
		Position:   r.Position,
		Time:       r.Time.UTC().Format(time.RFC3339Nano),
		Metadata:   r.Metadata,
	}
	key, _ := r.Key.normalized() // checked by Validate
	env.Key = make([][]any, len(key))
	for i, f := range key {
		env.Key[i] = []any{f.Name, f.Value}
	}
	if payload != nil {
		env.Payload = payload.(map[string]any)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return nil, fmt.Errorf("record: encode %s: %w", r.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Decode reads an envelope. It rejects unknown format versions, unknown
// fields, trailing data and every invalid field (see Record.Validate), so a
// decoded Record always encodes again. Payload values come back in the JSON
// model: nil, bool, string, json.Number, []any, map[string]any.
func Decode(data []byte) (Record, error) {
	if r, ok := decodeFast(data); ok {
		return r, nil
	}
	return decodeSlow(data)
}

// decodeSlow is Decode by encoding/json: the reference decodeFast must
// match, and the path that decides and words every error.
func decodeSlow(data []byte) (Record, error) {
	// One strict pass; only when it fails, or finds no version 1, is the
	// format version looked at alone, so that an envelope of another
	// version is named as such rather than by its unknown fields.
	var env envelope
	if err := unmarshalStrict(data, &env); err != nil || env.V != EnvelopeVersion {
		if herr := checkEnvelopeVersion(data); herr != nil {
			return Record{}, herr
		}
		return Record{}, fmt.Errorf("record: decode: %w", err)
	}
	r := Record{
		ID:         env.ID,
		Source:     env.Source,
		Collection: env.Collection,
		Op:         env.Op,
		Position:   env.Position,
		Payload:    env.Payload,
		Metadata:   env.Metadata,
	}
	var err error
	if r.Key, err = keyFromWire(env.Key); err != nil {
		return Record{}, fmt.Errorf("record: decode %s: %w", env.ID, err)
	}
	if r.Version, err = versionFromWire(env.Version); err != nil {
		return Record{}, fmt.Errorf("record: decode %s: %w", env.ID, err)
	}
	if r.Time, err = time.Parse(time.RFC3339Nano, env.Time); err != nil {
		return Record{}, fmt.Errorf("record: decode %s: time: %w", env.ID, err)
	}
	r.Time = r.Time.UTC()
	if err := r.Validate(); err != nil {
		return Record{}, fmt.Errorf("record: decode %s: %w", env.ID, err)
	}
	return r, nil
}

// checkEnvelopeVersion reports data that is not a JSON object, or whose
// format version "v" is missing or not EnvelopeVersion.
func checkEnvelopeVersion(data []byte) error {
	var head struct {
		V json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("record: decode: not a JSON object: %w", err)
	}
	if len(head.V) == 0 {
		return errors.New(`record: decode: missing format version "v"`)
	}
	if string(head.V) != "1" {
		return fmt.Errorf("record: decode: envelope version %s is not supported (this build reads %d)", head.V, EnvelopeVersion)
	}
	return nil
}

// unmarshalStrict decodes one JSON value into v: numbers as json.Number,
// unknown fields and trailing data are errors.
func unmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
