package record

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// goldenEnvelopes returns the pinned envelopes of testdata/.
func goldenEnvelopes(t testing.TB) map[string][]byte {
	paths, err := filepath.Glob(filepath.Join("testdata", "envelope_*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = []byte(strings.TrimSuffix(string(b), "\n"))
	}
	return out
}

type label string

// fastRecords are records with every kind of value encodeFast handles
// itself or hands to normalize.
func fastRecords(t *testing.T) map[string]Record {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	base := func(edit func(*Record)) Record {
		r := Record{
			Source: "platform_db", Collection: "public.counselors", Op: OpUpsert,
			Key: Key{{"id", 42}}, Version: LSNVersion(0x16_B374D848, 2), Time: t0,
			Payload: map[string]any{"id": 42},
		}
		edit(&r)
		id, err := r.DerivedID()
		require.NoError(t, err)
		r.ID = id
		return r
	}
	n := 7
	return map[string]Record{
		"scalars": base(func(r *Record) {
			r.Payload = map[string]any{
				"i": 1, "i64": int64(math.MinInt64), "u64": uint64(math.MaxUint64), "f64": 0.1, "f32": float32(0.1),
				"big": 1e21, "small": 1e-7, "b": true, "nil": nil, "s": "a\"b\\c\n\t\b\f\r\x01\x7f<>&\u2028\u2029é🚀",
				"n": json.Number("-1.5e+10"), "t": t0, "bytes": []byte{0, 1, 2, 250}, "nilbytes": []byte(nil),
			}
		}),
		"nested": base(func(r *Record) {
			r.Payload = map[string]any{
				"m":      map[string]any{"z": 1, "a": []any{1, "x", nil, map[string]any{}}, "": []any{}},
				"nilmap": map[string]any(nil), "nilslice": []any(nil),
				"typed": map[string]int{"b": 2, "a": 1}, "list": []string{"x", "y"}, "arr": [2]int{3, 4},
				"ptr": &n, "nilptr": (*int)(nil), "named": label("l"), "raw": json.RawMessage(`{"b":[1,2.50],"a":null}`),
			}
			r.Metadata = map[string]string{"b": "2", "a": "1", "q": "\"", "": ""}
		}),
		"delete": base(func(r *Record) {
			r.Op, r.Payload = OpDelete, nil
			r.Version = TimeVersion(t0, 0)
			r.Position = Position{}
		}),
		"keys": base(func(r *Record) {
			r.Key = Key{{"名前", "Zoë"}, {"n", json.Number("1.0")}, {"b", false}, {"t", t0}, {"u", uint64(3)}, {"l", label("x")}}
			r.Version = EventVersion(t0, 12)
			r.Position = Position(`{"kind":"pgpoll","v":1}`)
			r.Metadata = map[string]string{}
			r.Payload = map[string]any{}
		}),
	}
}

func TestEncodeFastMatchesSlow(t *testing.T) {
	t.Parallel()
	for name, r := range fastRecords(t) {
		slow, err := encodeSlow(r)
		require.NoError(t, err, name)
		fast, ok := encodeFast(r)
		require.True(t, ok, "%s: encodeFast gave up on a valid record", name)
		require.Equal(t, string(slow), string(fast), name)
		canon, err := r.Key.canonicalSlow()
		require.NoError(t, err)
		got, err := r.Key.Canonical()
		require.NoError(t, err)
		require.Equal(t, canon, got, name)
	}
	for name, data := range goldenEnvelopes(t) {
		r, err := decodeSlow(data)
		require.NoError(t, err, name)
		fast, ok := encodeFast(r)
		require.True(t, ok, name)
		require.Equal(t, string(data), string(fast), name)
	}
}

func TestEncodeFastGivesUpOnInvalid(t *testing.T) {
	t.Parallel()
	r := fastRecords(t)["scalars"]
	for name, edit := range map[string]func(*Record){
		"no id":        func(r *Record) { r.ID = "" },
		"bad op":       func(r *Record) { r.Op = "merge" },
		"no key":       func(r *Record) { r.Key = nil },
		"null key":     func(r *Record) { r.Key = Key{{"id", nil}} },
		"repeated key": func(r *Record) { r.Key = Key{{"id", 1}, {"id", 2}} },
		"list key":     func(r *Record) { r.Key = Key{{"id", []any{1}}} },
		"nan":          func(r *Record) { r.Payload = map[string]any{"x": math.NaN()} },
		"bad utf8":     func(r *Record) { r.Payload = map[string]any{"x": "\xff"} },
		"bad number":   func(r *Record) { r.Payload = map[string]any{"x": json.Number("1.")} },
		"struct":       func(r *Record) { r.Payload = map[string]any{"x": struct{}{}} },
		"no payload":   func(r *Record) { r.Payload = nil },
		"bad metadata": func(r *Record) { r.Metadata = map[string]string{"x": "\xff"} },
		"year":         func(r *Record) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		bad := r
		edit(&bad)
		_, ok := encodeFast(bad)
		require.False(t, ok, name)
		_, err := Encode(bad)
		require.Error(t, err, name)
	}
}

// decodeCases are envelopes decodeFast must either read exactly as
// decodeSlow does or leave to it.
var decodeCases = []string{
	``, `{}`, `null`, `{"v":1}`, `{"v":2}`, `[`, `{"v":10}`, `{"v":1.0}`,
	`{"v":1,"id":"x","source":"s","collection":"c","op":"delete","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00+01:00"}`,
	`{"v":1,"id":"x","source":"s","collection":"c","op":"upsert","key":[["k",1e2]],"version":{"kind":"time","time":"2024-01-01T00:00:00.5Z"},"position":"","time":"2024-01-01T00:00:00Z","payload":{"a":[{"b":-0.0e-0}]},"metadata":{}}`,
	` {"v":1,"id":"x","source":"s","collection":"c","op":"upsert","key":[["k",true],["j","\u00e9\ud83d\ude80"]],"version":{"seq":3,"kind":"event","time":"2024-01-01T00:00:00Z"},"time":"2024-01-01T00:00:00Z","payload":{"a":1,"a":2,"s":"\ud800 \/ \u2028"}} `,
	`{"v":1,"ID":"x","source":"s","collection":"c","op":"delete","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00Z"}`,
	`{"v":1,"id":"x","id":"y","source":"s","collection":"c","op":"delete","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00Z"}`,
	`{"v":1,"id":"x","source":"s","collection":"c","op":"delete","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00Z","payload":null,"metadata":null,"position":null}`,
	`{"v":1,"id":"x","source":"s","collection":"c","op":"upsert","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1","seq":1e3},"time":"2024-01-01T00:00:00Z","payload":{}}`,
	`{"v":1,"id":"x","source":"s","collection":"c","op":"upsert","key":[["k","v"],["k",1]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00Z","payload":{}}`,
	"{\"v\":1,\"id\":\"x\",\"source\":\"s\xff\",\"collection\":\"c\",\"op\":\"upsert\",\"key\":[[\"k\",\"v\"]],\"version\":{\"kind\":\"lsn\",\"lsn\":\"0/1\"},\"time\":\"2024-01-01T00:00:00Z\",\"payload\":{\"\xfe\":\"\xff\"}}",
	`{"v":1,"id":"x","source":"s","collection":"c","op":"upsert","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00Z","payload":{}} x`,
	`{"v":1,"id":"x","source":"s","collection":"c","op":"upsert","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00Z","payload":{"d":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`,
	`{"v":1,"id":"x","source":"s","collection":"c","op":"upsert","key":[["k","v"]],"version":{"kind":"lsn","lsn":"0/1"},"time":"2024-01-01T00:00:00Z","position":"eA==","payload":{"d":` + strings.Repeat("[", 60) + strings.Repeat("]", 60) + `}}`,
}

func TestDecodeFastMatchesSlow(t *testing.T) {
	t.Parallel()
	for name, data := range goldenEnvelopes(t) {
		fast, ok := decodeFast(data)
		require.True(t, ok, "%s: decodeFast gave up on a golden envelope", name)
		slow, err := decodeSlow(data)
		require.NoError(t, err)
		require.Equal(t, slow, fast, name)
	}
	fastOK := 0
	for i, c := range decodeCases {
		fast, ok := decodeFast([]byte(c))
		slow, err := decodeSlow([]byte(c))
		if ok {
			fastOK++
			require.NoError(t, err, "case %d: decodeFast accepted what decodeSlow rejects", i)
			require.Equal(t, slow, fast, "case %d", i)
		}
	}
	require.GreaterOrEqual(t, fastOK, 4, "the valid cases must take the fast path")
}

// FuzzEnvelopeFastPaths checks the fast paths against encoding/json's:
// whatever decodeFast accepts, decodeSlow accepts as the same Record, and
// encodeFast writes every decoded record as encodeSlow does.
func FuzzEnvelopeFastPaths(f *testing.F) {
	for _, data := range goldenEnvelopes(f) {
		f.Add(data)
	}
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data)
		slow, err := decodeSlow(data)
		if ok {
			require.NoError(t, err, "decodeFast accepted what decodeSlow rejects")
			require.Equal(t, slow, fast)
		}
		if err != nil {
			return
		}
		want, err := encodeSlow(slow)
		require.NoError(t, err)
		got, ok := encodeFast(slow)
		require.True(t, ok, "encodeFast gave up on a decoded record")
		require.Equal(t, string(want), string(got))
	})
}

// BenchmarkEnvelope encodes and decodes a record shaped like the demo's
// counselors rows, by the fast paths and by encoding/json.
func BenchmarkEnvelope(b *testing.B) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)
	r := Record{
		Source: "platform_db", Collection: "demo.counselors", Op: OpUpsert,
		Key: Key{{"id", int64(4242)}}, Version: TimeVersion(t0, 0), Time: t0,
		Position: Position(`{"kind":"pgpoll","v":1,"pos":{"table":"demo.counselors","cursor_column":"updated_at","key_columns":["id"],"cursor":"2024-05-01 10:00:00.123456+00","key":["4242"]}}`),
		Payload: map[string]any{
			"id": int64(4242), "org_id": int64(17), "first_name": "Ada", "last_name": "Okafor", "email": "ada.okafor@example.org",
			"phone": "+44 20 7946 0000", "active": true, "hired_at": t0, "updated_at": t0, "notes": nil,
		},
	}
	id, err := r.DerivedID()
	require.NoError(b, err)
	r.ID = id
	data, err := encodeSlow(r)
	require.NoError(b, err)
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"encode/fast", func() error { _, err := Encode(r); return err }},
		{"encode/encoding_json", func() error { _, err := encodeSlow(r); return err }},
		{"decode/fast", func() error { _, err := Decode(data); return err }},
		{"decode/encoding_json", func() error { _, err := decodeSlow(data); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
