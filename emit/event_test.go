package emit

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2024, 5, 1, 14, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))

func TestEncodeFlat(t *testing.T) {
	t.Parallel()
	ev := Event{ID: "e-1", Type: "rescue.first_active", Time: t0, Key: "v-42",
		Data: map[string]any{"volunteer_id": "v-42", "org": map[string]any{"id": 7}, "note": "<b>&", "z": nil, "a": 1.5}}
	got, err := encode(&ev, DefaultMaxEventBytes)
	require.NoError(t, err)
	require.Equal(t, `{"id":"e-1","type":"rescue.first_active","time":"2024-05-01T12:00:00.123456789Z","key":"v-42",`+
		`"a":1.5,"note":"<b>&","org":{"id":7},"volunteer_id":"v-42","z":null}`, string(got))
	require.True(t, json.Valid(got))
	require.Equal(t, "e-1", messageID(got))

	// No key, no data.
	got, err = encode(&Event{ID: `q"\`, Type: "t", Time: t0}, 0)
	require.NoError(t, err)
	require.Equal(t, `{"id":"q\"\\","type":"t","time":"2024-05-01T12:00:00.123456789Z"}`, string(got))
	require.Equal(t, `q"\`, messageID(got))
}

func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	ev := Event{ID: "e-1", Type: "t", Time: t0, Key: "k", Data: map[string]any{"big": int64(math.MaxInt64), "s": "x"}}
	line, err := encode(&ev, 0)
	require.NoError(t, err)
	back, err := decode(line)
	require.NoError(t, err)
	require.Equal(t, "e-1", back.ID)
	require.Equal(t, "t", back.Type)
	require.Equal(t, "k", back.Key)
	require.True(t, back.Time.Equal(t0))
	require.Equal(t, map[string]any{"big": json.Number("9223372036854775807"), "s": "x"}, back.Data)
}

func TestEncodeRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ev    Event
		field string
		msg   string
	}{
		{"no type", Event{ID: "a"}, "type", "emit: event type: required"},
		{"blank type", Event{ID: "a", Type: " "}, "type", "emit: event type: blank"},
		{"blank id", Event{ID: " ", Type: "t"}, "id", "emit: event id: blank"},
		{"long id", Event{ID: strings.Repeat("x", 513), Type: "t"}, "id", "emit: event id: 513 bytes, longer than 512"},
		{"long type", Event{ID: "a", Type: strings.Repeat("x", 256)}, "type", "emit: event type: 256 bytes, longer than 255"},
		{"bad utf8 key", Event{ID: "a", Type: "t", Key: "\xff"}, "key", "emit: event key: not valid UTF-8"},
		{"year", Event{ID: "a", Type: "t", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "time", "emit: event time: year 10000 is outside 1–9999"},
		{"reserved id", Event{ID: "a", Type: "t", Data: map[string]any{"id": 1}}, "data.id", `emit: event data.id: "id" is reserved for the envelope: set Event.ID instead`},
		{"reserved key", Event{ID: "a", Type: "t", Data: map[string]any{"key": 1}}, "data.key", `emit: event data.key: "key" is reserved for the envelope: set Event.Key instead`},
		{"reserved time", Event{ID: "a", Type: "t", Data: map[string]any{"time": 1}}, "data.time", `emit: event data.time: "time" is reserved for the envelope: set Event.Time instead`},
		{"reserved type", Event{ID: "a", Type: "t", Data: map[string]any{"type": 1}}, "data.type", `emit: event data.type: "type" is reserved for the envelope: set Event.Type instead`},
		{"channel", Event{ID: "a", Type: "t", Data: map[string]any{"ok": 1, "ch": make(chan int)}}, "data.ch", "emit: event data.ch: cannot be encoded as JSON: unsupported type: chan int"},
		{"NaN", Event{ID: "a", Type: "t", Data: map[string]any{"f": math.NaN()}}, "data.f", "emit: event data.f: cannot be encoded as JSON: unsupported value: NaN"},
		{"empty name", Event{ID: "a", Type: "t", Data: map[string]any{"": 1}}, "data", "emit: event data: a field name is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ev.Time.IsZero() {
				tc.ev.Time = t0
			}
			_, err := encode(&tc.ev, DefaultMaxEventBytes)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
			require.EqualError(t, err, tc.msg)
		})
	}
}

func TestEncodeTooLarge(t *testing.T) {
	t.Parallel()
	ev := Event{ID: "big", Type: "t", Time: t0, Data: map[string]any{"pad": strings.Repeat("x", 1000)}}
	_, err := encode(&ev, 1000)
	require.ErrorIs(t, err, ErrEventTooLarge)
	require.EqualError(t, err, "emit: event too large: event big is over 1000 bytes encoded (MaxEventBytes)")
	_, err = encode(&ev, 2000)
	require.NoError(t, err)
}

func TestEmitValidates(t *testing.T) {
	t.Parallel()
	sink, err := NewFolderSink(t.TempDir())
	require.NoError(t, err)
	cfg, _ := testConfig(t, sink)
	cfg.MaxEventBytes = 500
	c := open(t, cfg)
	id, err := c.Emit(t.Context(), Event{Data: map[string]any{"a": 1}})
	require.EqualError(t, err, "emit: event type: required")
	require.Empty(t, id)
	_, err = c.Emit(t.Context(), Event{Type: "t", Data: map[string]any{"pad": strings.Repeat("x", 500)}})
	require.ErrorIs(t, err, ErrEventTooLarge)
	require.Zero(t, c.Stats().Spooled, "nothing invalid is spooled")

	before := time.Now()
	id, err = c.Emit(t.Context(), Event{Type: "t"})
	require.NoError(t, err)
	require.Len(t, id, 26)
	flush(t, c)
	files := readFolder(t, sink.Dir())
	require.Len(t, files, 1)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(files[0])), &got))
	require.Equal(t, id, got["id"])
	tm, err := time.Parse(time.RFC3339Nano, got["time"].(string))
	require.NoError(t, err)
	require.WithinRange(t, tm, before.Add(-time.Millisecond), time.Now())
	require.Equal(t, time.UTC, tm.Location())
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	prev := ""
	for range 10000 {
		id := NewID()
		require.Len(t, id, 26)
		require.Empty(t, strings.Trim(id, crockford), "Crockford base 32 only: %s", id)
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
		require.GreaterOrEqual(t, id[:10], prev, "the time part sorts")
		prev = id[:10]
	}
	// The first 10 characters carry the milliseconds.
	ms := int64(0)
	for _, c := range NewID()[:10] {
		ms = ms<<5 | int64(strings.IndexRune(crockford, c))
	}
	require.InDelta(t, time.Now().UnixMilli(), ms, 1000)
}
