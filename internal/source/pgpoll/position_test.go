package pgpoll

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestPositionGolden(t *testing.T) {
	t.Parallel()
	p := Position{
		Table:        "public.counselors",
		CursorColumn: "updated_at",
		KeyColumns:   []string{"org_id", "id"},
		Cursor:       "2024-05-01 10:00:00.123456+00",
		Key:          []string{"acme", "42"},
	}
	got, err := p.Marshal()
	require.NoError(t, err)
	path := filepath.Join("testdata", "position_v1.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./internal/source/pgpoll -run Golden -update")
	require.Equal(t, string(want), string(got)+"\n", "the watermark format changed: bump PositionVersion and read the old one, or run -update if intended")
	back, err := ParsePosition(want)
	require.NoError(t, err)
	require.Equal(t, p, back)
}

func TestParsePositionRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, err string }{
		{"not framed", `{"table":"public.t"}`, "not a framed position"},
		{"other kind", `{"kind":"pgcdc","v":1,"pos":{}}`, `written by a "pgcdc" source, not "pgpoll"`},
		{"newer version", `{"kind":"pgpoll","v":2,"pos":{}}`, "format version 2 is not supported"},
		{"unknown field", `{"kind":"pgpoll","v":1,"pos":{"table":"t","lsn":"0/1"}}`, `unknown field "lsn"`},
		{"incomplete", `{"kind":"pgpoll","v":1,"pos":{"table":"","cursor_column":"","key_columns":["id"],"cursor":"1","key":[]}}`,
			"position: table: required\nposition: cursor_column: required\nposition: key has 0 values for 1 key_columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePosition([]byte(tt.in))
			require.ErrorContains(t, err, tt.err)
		})
	}
}

func TestPositionMustMatchTable(t *testing.T) {
	t.Parallel()
	tc, err := newTableConfig(config.PollTable{Table: "public.t", Key: []string{"id"}, Cursor: "updated_at", BatchSize: 1})
	require.NoError(t, err)
	ok := Position{Table: "public.t", CursorColumn: "updated_at", KeyColumns: []string{"id"}, Cursor: "x", Key: []string{"1"}}
	require.NoError(t, ok.matches(tc))
	other := ok
	other.KeyColumns = []string{"org", "id"}
	require.ErrorContains(t, other.matches(tc), `saved for table public.t, cursor "updated_at", key ["org", "id"] but the config says table public.t, cursor "updated_at", key ["id"]`)
}

func TestStateKey(t *testing.T) {
	t.Parallel()
	require.Equal(t, "pgpoll/platform_db/public.counselors", StateKey("platform_db", "public.counselors"))
}

func TestIntegerVersionsKeepOrder(t *testing.T) {
	t.Parallel()
	values := []int64{minMicros, -1, 0, 1, 1_700_000_000_000, maxMicros - 1, maxMicros, maxMicros + 1, 1_700_000_000_000_000_000, 1<<63 - 2, 1<<63 - 1}
	var prev record.Version
	for i, c := range values {
		v, err := intVersion(c)
		require.NoError(t, err, c)
		require.NoError(t, v.Validate())
		if i > 0 {
			cmp, err := v.Compare(prev)
			require.NoError(t, err)
			require.Equal(t, 1, cmp, "%d after %d", c, values[i-1])
		}
		prev = v
	}
	_, err := intVersion(minMicros - 1)
	require.ErrorContains(t, err, "is below")

	v, err := cursorVersion(time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC))
	require.NoError(t, err)
	require.Equal(t, record.TimeVersion(time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC), 0), v)
}
