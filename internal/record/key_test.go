package record_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/record"
)

type status string

func TestKeyCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  record.Key
		want string
		err  string
	}{
		{"int", record.Key{{"id", 42}}, `[["id",42]]`, ""},
		{"json.Number has the same text as the int", record.Key{{"id", json.Number("42")}}, `[["id",42]]`, ""},
		{"string", record.Key{{"id", "a<b>&"}}, `[["id","a<b>&"]]`, ""},
		{"composite keeps order", record.Key{{"org", "x"}, {"id", uint64(7)}}, `[["org","x"],["id",7]]`, ""},
		{"order matters", record.Key{{"id", uint64(7)}, {"org", "x"}}, `[["id",7],["org","x"]]`, ""},
		{"named string type", record.Key{{"s", status("ok")}}, `[["s","ok"]]`, ""},
		{"bool", record.Key{{"b", true}}, `[["b",true]]`, ""},
		{"time", record.Key{{"at", time.Date(2024, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600))}}, `[["at","2024-01-02T02:04:05.000006Z"]]`, ""},
		{"bytes", record.Key{{"h", []byte{1, 2, 3}}}, `[["h","AQID"]]`, ""},
		{"unicode", record.Key{{"名前", "Zoë 🚀"}}, `[["名前","Zoë 🚀"]]`, ""},
		{"empty", nil, "", "key: at least one field is required"},
		{"null value", record.Key{{"id", nil}}, "", "key[0].id: null is not a key value"},
		{"map value", record.Key{{"id", map[string]any{}}}, "", "key[0].id: a key value must be a scalar"},
		{"empty name", record.Key{{"", 1}}, "", "key[0]: name is required"},
		{"repeated name", record.Key{{"id", 1}, {"id", 2}}, "", `key[1]: name "id" repeats`},
		{"NaN", record.Key{{"f", nanValue()}}, "", "key[0].f: NaN is not a JSON number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.key.Canonical()
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.Contains(t, tt.key.String(), "invalid")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want, tt.key.String())
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}
