package record_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/record"
)

func TestEncodeRejectsInvalid(t *testing.T) {
	t.Parallel()
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name    string
		payload map[string]any
		err     string
	}{
		{"NaN", map[string]any{"x": math.NaN()}, "payload.x: NaN is not a JSON number"},
		{"Inf", map[string]any{"a": []any{math.Inf(1)}}, "payload.a[0]: +Inf is not a JSON number"},
		{"struct", map[string]any{"s": struct{}{}}, "payload.s: unsupported type struct {}"},
		{"int map keys", map[string]any{"m": map[int]string{1: "a"}}, "payload.m: map keys must be strings, not int"},
		{"invalid utf-8 value", map[string]any{"s": "\xc3\x28"}, "payload.s: string is not valid UTF-8"},
		{"invalid utf-8 name", map[string]any{"\xff": 1}, "field name \"\\xff\" is not valid UTF-8"},
		{"bad json.Number", map[string]any{"n": json.Number("12abc")}, `payload.n: "12abc" is not a JSON number`},
		{"bad raw JSON", map[string]any{"j": json.RawMessage(`{"a":`)}, "payload.j: raw JSON"},
		{"time out of range", map[string]any{"t": time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}, "payload.t: time year -1 is outside 0–9999"},
		{"cycle", cyclic, "nested deeper than 64 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRecord(t, func(r *record.Record) { r.Payload = tt.payload })
			_, err := record.Encode(r)
			require.ErrorContains(t, err, tt.err)
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join("testdata", "envelope_delete.json"))
	require.NoError(t, err)
	// edit returns the good delete envelope with one field replaced (or
	// removed when value is nil).
	edit := func(field string, value any) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		if value == nil {
			delete(m, field)
		} else {
			m[field] = value
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name, in, err string
	}{
		{"empty", ``, "not a JSON object"},
		{"array", `[1]`, "not a JSON object"},
		{"truncated", string(good[:40]), "not a JSON object"},
		{"missing v", edit("v", nil), `missing format version "v"`},
		{"v 2", edit("v", 2), "envelope version 2 is not supported (this build reads 1)"},
		{"v as string", edit("v", "1"), `envelope version "1" is not supported`},
		{"v 1.0", `{"v":1.0}`, "envelope version 1.0 is not supported"},
		{"unknown field", edit("extra", true), `unknown field "extra"`},
		{"trailing data", string(good) + `{}`, "after top-level value"},
		{"missing id", edit("id", nil), "id: required"},
		{"bad op", edit("op", "merge"), `op: "merge" is not insert`},
		{"key not pairs", edit("key", []any{[]any{"id"}}), "key[0]: want a [name, value] pair, got 1 elements"},
		{"key name not string", edit("key", []any{[]any{1, 2}}), "key[0]: name must be a string"},
		{"key null value", edit("key", []any{[]any{"id", nil}}), "null is not a key value"},
		{"empty key", edit("key", []any{}), "key: at least one field is required"},
		{"version kind", edit("version", map[string]any{"kind": "clock"}), `version.kind: unknown "clock"`},
		{"version without kind", edit("version", map[string]any{}), "version.kind: required"},
		{"bad lsn", edit("version", map[string]any{"kind": "lsn", "lsn": "zz"}), `version.lsn: lsn "zz"`},
		{"lsn with time", edit("version", map[string]any{"kind": "lsn", "lsn": "0/1", "time": "x"}), "an lsn version has no time"},
		{"sub-microsecond version", edit("version", map[string]any{"kind": "time", "time": "2024-01-01T00:00:00.0000001Z"}), "more precise than a microsecond"},
		{"version time not RFC 3339", edit("version", map[string]any{"kind": "event", "time": "yesterday"}), "version.time"},
		{"negative seq", edit("version", map[string]any{"kind": "lsn", "lsn": "0/1", "seq": -1}), "json: cannot unmarshal"},
		{"bad time", edit("time", "2024-13-01T00:00:00Z"), "time:"},
		{"missing time", edit("time", nil), "time:"},
		{"position not base64", edit("position", "!!"), "illegal base64"},
		{"upsert without payload", edit("op", "upsert"), "payload: required for upsert"},
		{"payload not an object", edit("payload", []any{1}), "json: cannot unmarshal array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := record.Decode([]byte(tt.in))
			require.ErrorContains(t, err, tt.err)
		})
	}
}
