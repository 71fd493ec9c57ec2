package record_test

import (
	"encoding/json"
	"flag"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenFile compares got with testdata/name, or rewrites it under -update.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./internal/record -update")
	require.Equal(t, string(want), string(got)+"\n", "envelope changed; if intended, bump EnvelopeVersion or run -update")
}

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)

// goldenRecords are the records pinned in testdata/envelope_*.json.
func goldenRecords(t *testing.T) map[string]record.Record {
	bigInt, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	return map[string]record.Record{
		"insert": newRecord(t, func(r *record.Record) {
			r.Op = record.OpInsert
			r.Version = record.LSNVersion(0x16_B374D848, 3)
			r.Position = record.Position(`{"kind":"pgcdc","v":1,"pos":{"lsn":"16/B374D848"}}`)
			r.Payload = map[string]any{
				"id": 42, "last_name": "Okafor", "email": "A.Okafor@example.org", "active": true,
				"manager_id": nil, "rating": 4.5, "hired_at": time.Date(2021, 3, 4, 5, 6, 7, 890000000, time.FixedZone("x", -5*3600)),
				"photo": []byte{0xde, 0xad, 0xbe, 0xef}, "html": "<b>&</b>",
			}
			r.Metadata = map[string]string{"txid": "7781"}
		}),
		"delete": newRecord(t, func(r *record.Record) {
			r.Op = record.OpDelete
			r.Version = record.TimeVersion(t0, 0)
			r.Payload = nil
		}),
		"unicode": newRecord(t, func(r *record.Record) {
			r.Source, r.Collection = "événements", "救援/活动"
			r.Key = record.Key{{"名前", "Zoë"}, {"n", 1}}
			r.Version = record.EventVersion(t0, 12)
			r.Payload = map[string]any{"名前": "Zoë Ñúñez 🚀", "quote": "\"\\\n\t\u2028", "emoji": []any{"👩‍⚕️", "🇺🇦"}}
			r.Metadata = map[string]string{"file": "/spool/événements-2024.jsonl", "line": "17"}
		}),
		"bignumbers": newRecord(t, func(r *record.Record) {
			r.Key = record.Key{{"id", uint64(math.MaxUint64)}}
			r.Version = record.LSNVersion(math.MaxUint64, math.MaxUint64)
			r.Payload = map[string]any{
				"numeric":   json.Number("123456789012345678901234567890.000000000000000000000001"),
				"big_int":   json.Number(bigInt.String()),
				"max_int64": int64(math.MaxInt64), "min_int64": int64(math.MinInt64),
				"max_uint64": uint64(math.MaxUint64), "above_2_53": int64(1<<53 + 1),
				"tiny": 5e-324, "huge": 1.7976931348623157e308, "f32": float32(0.1), "exp": json.Number("1E+400"),
			}
		}),
		"nested": newRecord(t, func(r *record.Record) {
			r.Op = record.OpUpdate
			r.Payload = map[string]any{
				"profile": map[string]any{"tags": []string{"a", "b"}, "scores": map[string]int{"x": 1, "y": -2},
					"deep": map[string]any{"list": []any{1, []any{2, []any{3, map[string]any{"z": nil}}}}}},
				"raw_jsonb": json.RawMessage(`{"b":[1,2.50,{"c":null}],"a":"x"}`),
				"empty_map": map[string]any{}, "empty_list": []any{}, "nil_list": []int(nil),
				"ptr": ptr("pointed"),
			}
		}),
	}
}

func ptr[T any](v T) *T { return &v }

func TestEnvelopeGolden(t *testing.T) {
	t.Parallel()
	for name, r := range goldenRecords(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := record.Encode(r)
			require.NoError(t, err)
			goldenFile(t, "envelope_"+name+".json", data)

			back, err := record.Decode(data)
			require.NoError(t, err)
			require.Equal(t, r.ID, back.ID)
			require.Equal(t, r.Source, back.Source)
			require.Equal(t, r.Collection, back.Collection)
			require.Equal(t, r.Op, back.Op)
			require.Equal(t, r.Key.String(), back.Key.String())
			require.Equal(t, r.Version, back.Version)
			require.Equal(t, r.Position, back.Position)
			require.True(t, r.Time.Equal(back.Time))
			require.Equal(t, r.Metadata, back.Metadata)
			require.Equal(t, r.Payload == nil, back.Payload == nil)

			again, err := record.Encode(back)
			require.NoError(t, err)
			require.Equal(t, string(data), string(again), "decode→encode reproduces the bytes")
		})
	}
}

func TestDecodeKeepsNumbersExact(t *testing.T) {
	t.Parallel()
	data, err := record.Encode(goldenRecords(t)["bignumbers"])
	require.NoError(t, err)
	r, err := record.Decode(data)
	require.NoError(t, err)
	want := map[string]string{
		"numeric":    "123456789012345678901234567890.000000000000000000000001",
		"big_int":    "123456789012345678901234567890",
		"max_int64":  "9223372036854775807",
		"min_int64":  "-9223372036854775808",
		"max_uint64": "18446744073709551615",
		"above_2_53": "9007199254740993",
		"tiny":       "5e-324",
		"huge":       "1.7976931348623157e+308",
		"f32":        "0.1",
		"exp":        "1E+400",
	}
	for field, text := range want {
		require.Equal(t, json.Number(text), r.Payload[field], field)
	}
	require.Equal(t, json.Number("18446744073709551615"), r.Key[0].Value)
	require.Equal(t, uint64(math.MaxUint64), r.Version.LSN())
	require.Equal(t, uint64(math.MaxUint64), r.Version.Seq())
}

func TestDecodeTypeMapping(t *testing.T) {
	t.Parallel()
	data, err := record.Encode(goldenRecords(t)["insert"])
	require.NoError(t, err)
	r, err := record.Decode(data)
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"id": json.Number("42"), "last_name": "Okafor", "email": "A.Okafor@example.org", "active": true,
		"manager_id": nil, "rating": json.Number("4.5"), "hired_at": "2021-03-04T10:06:07.89Z",
		"photo": "3q2+7w==", "html": "<b>&</b>",
	}, r.Payload)
	require.Equal(t, t0, r.Time)
}
