package dlq_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/dlq"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./internal/dlq -update")
	require.Equal(t, string(want), string(got)+"\n", "the entry format changed; if intended, bump EntryVersion or run -update")
}

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)

// sampleEntry is a record that failed twice with a lock error and then a
// validation rule.
func sampleEntry() dlq.Entry {
	return dlq.Entry{
		Sync:    "counselors",
		Reason:  dlq.ReasonPermanent,
		Code:    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
		Message: "Email must be a company address",
		Fields:  []string{"Email"},
		Attempts: []dlq.Attempt{
			{N: 1, Delivery: 1, At: t0, Class: "retry", Code: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record"},
			{N: 2, Delivery: 3, At: t0.Add(30 * time.Second), Class: "permanent", Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Email must be a company address", Fields: []string{"Email"}},
		},
		DeadAt:    t0.Add(31 * time.Second),
		Subject:   "in.platform_db.public.counselors",
		MessageID: "mz2bq6jq3yvq4l7fkkb3yqz2tq5dq2ya",
		Headers:   map[string]string{"Traceparent": "00-abc-def-01"},
		Published: t0.Add(-time.Minute),
		Raw:       []byte(`{"v":1,"id":"mz2bq6jq3yvq4l7fkkb3yqz2tq5dq2ya","source":"platform_db","collection":"public.counselors","op":"upsert","key":[["id",42]],"version":{"kind":"time","time":"2026-03-01T09:28:00.5Z"},"time":"2026-03-01T09:28:01Z","payload":{"email":"a<b>@example.org","id":42}}`),
		Record: &dlq.Identity{
			ID: "mz2bq6jq3yvq4l7fkkb3yqz2tq5dq2ya", Source: "platform_db", Collection: "public.counselors",
			Op: "upsert", Key: `[["id",42]]`, Version: "time:2026-03-01T09:28:00.5Z",
		},
	}
}

func TestEntryGolden(t *testing.T) {
	t.Parallel()
	e := sampleEntry()
	b, err := e.Marshal()
	require.NoError(t, err)
	golden(t, "entry_v1.json", b)

	got, err := dlq.Unmarshal(b)
	require.NoError(t, err)
	e.V = dlq.EntryVersion
	require.Equal(t, e, got)
	require.Equal(t, e.Raw, got.Raw, "the raw record comes back byte for byte")
}

func TestEntryWithUndecodableRecordGolden(t *testing.T) {
	t.Parallel()
	e := sampleEntry()
	e.Reason, e.Code, e.Message, e.Fields, e.Record = dlq.ReasonDecode, dlq.CodeDecode, "record: decode: not a JSON object", nil, nil
	e.Attempts = []dlq.Attempt{{N: 1, Delivery: 1, At: t0, Class: "permanent", Code: dlq.CodeDecode, Message: e.Message}}
	e.Raw = []byte("id,name\n42,\xff\xfe broken")
	b, err := e.Marshal()
	require.NoError(t, err)
	golden(t, "entry_v1_undecodable.json", b)
	got, err := dlq.Unmarshal(b)
	require.NoError(t, err)
	require.Equal(t, e.Raw, got.Raw)
}

func TestRawJSONThatWouldChangeIsKeptAsBase64(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{`{"a": 1}`, "{\"a\":1}\n", `[1, 2]`, ``} {
		e := sampleEntry()
		e.Raw = []byte(raw)
		b, err := e.Marshal()
		require.NoError(t, err)
		require.Contains(t, string(b), `"record_base64":`, "%q", raw)
		got, err := dlq.Unmarshal(b)
		require.NoError(t, err)
		require.Equal(t, raw, string(got.Raw))
	}
}

func TestUnmarshalRejects(t *testing.T) {
	t.Parallel()
	good, err := sampleEntry().Marshal()
	require.NoError(t, err)
	tests := map[string]string{
		"another version":  strings.Replace(string(good), `"v":1`, `"v":2`, 1),
		"no version":       strings.Replace(string(good), `"v":1,`, ``, 1),
		"unknown field":    strings.Replace(string(good), `"v":1,`, `"v":1,"extra":true,`, 1),
		"trailing data":    string(good) + " {}",
		"not json":         "nope",
		"no record":        strings.Replace(string(good), `"record":`, `"other":`, 1),
		"no sync":          strings.Replace(string(good), `"sync":"counselors"`, `"sync":""`, 1),
		"unknown reason":   strings.Replace(string(good), `"reason":"permanent"`, `"reason":"bored"`, 1),
		"subject not in.*": strings.Replace(string(good), `"subject":"in.`, `"subject":"out.`, 1),
	}
	for name, doc := range tests {
		_, err := dlq.Unmarshal([]byte(doc))
		require.Error(t, err, name)
	}
}

func TestMarshalValidates(t *testing.T) {
	t.Parallel()
	_, err := dlq.Entry{}.Marshal()
	require.Error(t, err)
	for _, want := range []string{"sync:", "reason:", "message:", "subject:", "message_id:", "dead_at:"} {
		require.Contains(t, err.Error(), want)
	}
}

func TestReplayID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "replay-12-abc", dlq.ReplayID(12, "abc"))
	require.Equal(t, "replay-57-abc", dlq.ReplayID(57, "replay-12-abc"), "an earlier replay prefix is dropped")
	require.Equal(t, "replay-3-replay-x-abc", dlq.ReplayID(3, "replay-x-abc"), "only a numeric prefix is a replay prefix")
	require.NotEqual(t, dlq.ReplayID(1, "abc"), dlq.ReplayID(2, "abc"))
}
