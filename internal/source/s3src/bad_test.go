package s3src

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/state"
)

// Bad items go to the DLQ, each with a reason naming its object and
// place; the good events around them are published and the object is
// marked processed (DESIGN.md invariant 7).
func TestBadItemsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) { o.Config.MaxEventBytes = 200 })
	long := `{"id":"long","type":"order","time":"2024-05-01T12:00:00Z","pad":"` + strings.Repeat("x", 300) + `"}`
	b.s3.put(t, "in/mixed.ndjson", []byte(strings.Join([]string{
		ev("g1", "order"),
		`{"id":"t1","type":"order","time":`, // truncated JSON
		"\x01\x02\x03 garbage",
		`{"id":"u1","type":"order","time":"2024-05-01T12:00:00Z","name":"` + "\xff\xfe" + `"}`,
		long,
		`{"id":true,"type":"order","time":"2024-05-01T12:00:00Z"}`,
		`{"type":"order","time":"2024-05-01T12:00:00Z"}`,
		`{"id":"m2","time":"2024-05-01T12:00:00Z"}`,
		`{"id":"w1","type":"order","time":"yesterday"}`,
		ev("g2", "order"),
	}, "\n")+"\n"))
	b.s3.put(t, "in/rows.csv", []byte("id,type,time\nc1,order,2024-05-01T12:00:00Z\nc2,order\nc3,order,2024-05-01T12:00:00Z,extra\nc4,order,2024-05-01T12:00:00Z\n"))
	b.start(t)

	require.Equal(t, []string{"c1", "c4", "g1", "g2"}, eventIDs(b.drain(t, 4)))
	entries := b.deadLetters(t)
	var msgs []string
	for _, e := range entries {
		require.Equal(t, dlq.ReasonInvalidEvent, e.Reason)
		require.Equal(t, "bucket", e.Sync)
		require.Equal(t, strings.SplitN(e.Message, ",", 2)[0], e.Headers["Sfbridge-Input"])
		require.Equal(t, testBucket, e.Headers[HeaderBucket])
		require.Equal(t, b.s3.etag(t, e.Headers[HeaderKey]), e.Headers[HeaderETag])
		require.Equal(t, "s3://events/"+e.Headers[HeaderKey], e.Headers["Sfbridge-Input"])
		require.NotEmpty(t, e.Headers["Sfbridge-Location"])
		require.NotEmpty(t, e.Raw)
		msgs = append(msgs, e.Message)
	}
	sort.Strings(msgs)
	expect := []struct{ object, line, reason string }{
		{"mixed.ndjson", "line 2 ", "not JSON: unexpected end of JSON input (truncated)"},
		{"mixed.ndjson", "line 3 ", "not JSON"},
		{"mixed.ndjson", "line 4 ", "not valid UTF-8"},
		{"mixed.ndjson", "line 5 ", "longer than max_event_bytes (200 bytes)"},
		{"mixed.ndjson", "line 6 ", `id field "id": must be a string or an integer, got a boolean`},
		{"mixed.ndjson", "line 7 ", `id field "id": missing`},
		{"mixed.ndjson", "line 8 ", `type field "type": missing`},
		{"mixed.ndjson", "line 9 ", `time field "time": "yesterday" is not an RFC 3339 time`},
		{"rows.csv", "line 3 ", "2 fields, the header has 3"},
		{"rows.csv", "line 4 ", "4 fields, the header has 3"},
	}
	require.Len(t, msgs, len(expect), "entries: %q", msgs)
	for _, x := range expect {
		found := false
		for _, m := range msgs {
			if strings.HasPrefix(m, "s3://events/in/"+x.object+", "+x.line) && strings.Contains(m, x.reason) {
				found = true
			}
		}
		require.True(t, found, "no entry for %s %s%q in %q", x.object, x.line, x.reason, msgs)
	}
	st := b.src.Stats()
	require.Equal(t, int64(10), st.DeadLettered)
	require.Equal(t, int64(2), st.Objects)
	require.Zero(t, st.Quarantined)
	c, ok := b.checkpoint(t, "in/mixed.ndjson")
	require.True(t, ok)
	require.Equal(t, int64(10), c.Items)
	require.Equal(t, int64(2), c.Events)
	require.True(t, c.Marked)
}

// An object that cannot be read at all is moved under quarantine_prefix
// with a .error object saying why, and deleted; nothing of it is published
// or dead-lettered, and the good objects beside it flow on.
func TestUnreadableQuarantined(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	bad := map[string]struct {
		data          []byte
		where, reason string
	}{
		"in/empty.ndjson":     {nil, "byte 0", "empty: no events"},
		"in/binary.ndjson":    {[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "byte 8", "binary data: byte 0x00, not text"},
		"in/plain.ndjson.gz":  {[]byte(ev("p1", "order")), "byte 0", "not gzip"},
		"in/report.pdf":       {[]byte(ev("r1", "order")), "byte 0", "cannot tell the format from the name"},
		"in/truncated.json":   {[]byte(`[{"id":"1","type":"order",`), "byte 1", "not JSON"},
		"in/all-bad.ndjson":   {[]byte("nope\nnot this\n{broken\n"), "line 1 (byte 0)", "not ndjson: no item could be parsed (3 tried)"},
		"in/no-header.csv":    {[]byte("a,a\n1,2\n"), "line 1 (byte 0)", `header: column 2 repeats "a"`},
		"in/sub/empty.csv.gz": {gzipped(t, nil), "byte 0", "empty"},
	}
	etags := map[string]string{}
	for k, v := range bad {
		b.s3.put(t, k, v.data)
		etags[k] = b.s3.etag(t, k)
	}
	b.s3.put(t, "in/good.ndjson", ndjson(ev("ok1", "order")))
	b.start(t)

	require.Equal(t, []string{"ok1"}, eventIDs(b.drain(t, 1)))
	require.Empty(t, b.deadLetters(t))
	for k, v := range bad {
		_, still := b.s3.get(t, k)
		require.False(t, still, "%s is deleted", k)
		moved, ok := b.s3.get(t, "sfbridge/quarantine/"+k)
		require.True(t, ok, "%s is quarantined", k)
		require.Equal(t, v.data, append([]byte(nil), moved...), "%s keeps its content", k)
		note, ok := b.s3.get(t, "sfbridge/quarantine/"+k+".error")
		require.True(t, ok, "%s has a .error", k)
		lines := strings.Split(string(note), "\n")
		require.Len(t, lines, 8, "%s: %s", k, note)
		require.Equal(t, "source: bucket", lines[0])
		require.Equal(t, "object: s3://events/"+k, lines[1])
		require.Equal(t, "etag: "+etags[k], lines[2])
		require.Equal(t, "quarantined_as: s3://events/sfbridge/quarantine/"+k, lines[3])
		require.Equal(t, "location: "+v.where, lines[4])
		require.True(t, strings.HasPrefix(lines[5], "reason: ") && strings.Contains(lines[5], v.reason), "%s: %s", k, lines[5])
		require.Equal(t, "time: 2024-05-01T12:30:00Z", lines[6])
		_, err := b.state.Get(context.Background(), ObjectKey("bucket", k))
		require.ErrorIs(t, err, state.ErrNotFound, "no checkpoint is left for %s", k)
	}
	st := b.src.Stats()
	require.Equal(t, int64(len(bad)), st.Quarantined)
	require.Equal(t, int64(1), st.Objects)
	require.Contains(t, b.log.String(), "object quarantined")
}
