package httpsrc

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/event"
)

// Bad events are listed with their index, id and reason; the good ones
// around them are queued; nothing is dead-lettered.
func TestMixedEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.Config.MaxEventBytes = 1024 })
	big := ev("big", "signup", `"notes":"`+strings.Repeat("x", 1100)+`"`)
	lines := []string{
		ev("ok-0", "signup"),
		`{"type":"signup","time":"2024-05-01T12:00:00Z"}`,
		`{"id":"no-type","time":"2024-05-01T12:00:00Z"}`,
		ev("ok-3", "signup"),
		`{"id":true,"type":"signup","time":"2024-05-01T12:00:00Z"}`,
		`{"id":"num-type","type":5,"time":"2024-05-01T12:00:00Z"}`,
		`{"id":"bad-time","type":"signup","time":"yesterday"}`,
		"{\"id\":\"utf8\",\"type\":\"signup\",\"name\":\"\xff\xfe\"}",
		big,
		`{"id":"cut-off","type":"sign`,
		`[1,2,3]`,
		ev("ok-11", "active_rescue"),
	}
	r := b.post(t, "application/x-ndjson", ndjson(lines...))
	want := Response{Accepted: 3, Duplicates: 0, Rejected: []Rejection{
		{Index: 1, Reason: `id field "id": missing`},
		{Index: 2, ID: "no-type", Reason: `type field "type": missing`},
		{Index: 4, Reason: `id field "id": must be a string or an integer, got a boolean`},
		{Index: 5, ID: "num-type", Reason: `type field "type": must be a string, got a number`},
		{Index: 6, ID: "bad-time", Reason: `time field "time": "yesterday" is not an RFC 3339 time (2024-05-01T12:00:00Z) or Unix seconds`},
		{Index: 7, Reason: "not valid UTF-8 at byte 37 of the event"},
		{Index: 8, Reason: "longer than max_event_bytes (1024 bytes); skipped to the next line"},
		{Index: 9, Reason: "not JSON: unexpected end of JSON input (truncated)"},
		{Index: 10, Reason: "an event must be a JSON object, got an array"},
	}}
	require.Equal(t, want, r.accepted(t))
	recs := b.drain(t, 3)
	require.Equal(t, []string{"ok-0", "ok-3", "ok-11"}, eventIDs(recs))
	require.Equal(t, []string{"0", "3", "11"}, []string{recs[0].Metadata["index"], recs[1].Metadata["index"], recs[2].Metadata["index"]})

	// Not dead-lettered: the client owns them.
	n, err := b.queue.DLQ().Count(t.Context(), "")
	require.NoError(t, err)
	require.Zero(t, n)
	st := b.src.Stats()
	require.Equal(t, int64(3), st.Accepted)
	require.Equal(t, int64(9), st.Rejected)
	require.Zero(t, st.ClientErrors)
	require.NotContains(t, b.log.String(), "xxxxxxxx", "no payload in the log")
}

func TestMixedArray(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.Config.MaxEventBytes = 1024 })
	big := ev("big", "signup", `"notes":"`+strings.Repeat("x", 1100)+`"`)
	body := array(ev("ok-0", "signup"), big, `"a string"`, `{"id":"","type":"signup","time":1714564800}`, ev("ok-4", "signup"))
	r := b.post(t, "application/json", body)
	require.Equal(t, Response{Accepted: 2, Rejected: []Rejection{
		{Index: 1, Reason: "1169 bytes, larger than max_event_bytes (1024)"},
		{Index: 2, Reason: "an event must be a JSON object, got a string"},
		{Index: 3, Reason: `id field "id": empty`},
	}}, r.accepted(t))
	require.Equal(t, []string{"ok-0", "ok-4"}, eventIDs(b.drain(t, 2)))

	// An array cut off after good events keeps them; the break is
	// listed where it happened, and nothing after it was read.
	body = []byte("[" + ev("ok-5", "signup") + "," + ev("ok-6", "signup") + `,{"id":"lost","ty`)
	r = b.post(t, "application/json", body)
	res := r.accepted(t)
	require.Equal(t, 2, res.Accepted)
	require.Len(t, res.Rejected, 1)
	require.Equal(t, 2, res.Rejected[0].Index)
	require.Equal(t, "the input breaks off here, nothing after it was read: not JSON: unexpected end of JSON input (truncated)", res.Rejected[0].Reason)
	require.Equal(t, []string{"ok-5", "ok-6"}, eventIDs(b.drain(t, 2)))

	// So does a single object followed by more than whitespace.
	r = b.post(t, "application/json", []byte(ev("ok-7", "signup")+" "+ev("ok-8", "signup")))
	require.Equal(t, Response{Accepted: 1, Rejected: []Rejection{
		{Index: 1, Reason: "the input breaks off here, nothing after it was read: not JSON: more data after the end of the document"},
	}}, r.accepted(t))
	require.Equal(t, []string{"ok-7"}, eventIDs(b.drain(t, 1)))
}

// An event too large for the queue (though within max_event_bytes) is
// rejected on its own rather than failing the request for ever.
func TestEventOverQueueLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.Config.MaxEventBytes = 4 << 20 })
	limit := b.gate.MaxMessageSize()
	huge := ev("huge", "signup", `"notes":"`+strings.Repeat("y", limit)+`"`)
	r := b.post(t, "application/x-ndjson", ndjson(ev("ok-0", "signup"), huge, ev("ok-2", "signup")))
	res := r.accepted(t)
	require.Equal(t, 2, res.Accepted)
	require.Len(t, res.Rejected, 1)
	require.Equal(t, 1, res.Rejected[0].Index)
	require.Equal(t, "huge", res.Rejected[0].ID)
	require.Regexp(t, `^its record is \d+ bytes, more than the queue's largest message \(\d+ bytes\)$`, res.Rejected[0].Reason)
	require.Equal(t, []string{"ok-0", "ok-2"}, eventIDs(b.drain(t, 2)))
}

// A Publisher that cannot tell its limit gets it from Options.
func TestMaxMessageSizeOption(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) {
		o.Queue = struct{ event.Publisher }{o.Queue} // hides MaxMessageSize
		o.MaxMessageSize = 2048
	})
	r := b.post(t, "application/x-ndjson", ndjson(ev("small", "signup"), ev("large", "signup", `"notes":"`+strings.Repeat("z", 2048)+`"`)))
	res := r.accepted(t)
	require.Equal(t, 1, res.Accepted)
	require.Len(t, res.Rejected, 1)
	require.Regexp(t, `^its record is \d+ bytes, more than the queue's largest message \(2048 bytes\)$`, res.Rejected[0].Reason)
	require.Equal(t, []string{"small"}, eventIDs(b.drain(t, 1)))
}

// A body that is not events as a whole is a 400 and nothing is queued.
func TestInputErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	truncatedGzip := gzipped(t, ndjson(ev("gz-1", "signup"), ev("gz-2", "signup")))
	truncatedGzip = truncatedGzip[:len(truncatedGzip)-6]
	badChecksum := gzipped(t, ndjson(ev("gz-3", "signup")))
	badChecksum[len(badChecksum)-8] ^= 0xff
	cases := []struct {
		name, contentType string
		body              []byte
		gzip              bool
		want              string
	}{
		{"empty json", "application/json", nil, false, "event 0 (byte 0): empty: no events"},
		{"empty ndjson", "application/x-ndjson", nil, false, "event 0 (byte 0): empty: no events"},
		{"blank ndjson", "application/x-ndjson", []byte("\n \n\r\n"), false, "event 0 (byte 0): empty: no events"},
		{"not json", "application/json", []byte("hello, world"), false, `event 0 (byte 0): not JSON: starts with "h", not an object or an array`},
		{"not json lines", "application/x-ndjson", []byte("hello\nworld\n"), false, "line 1 (byte 0): not ndjson: no item could be parsed (2 tried); not JSON: invalid character 'h' looking for beginning of value (at byte 1 of the event)"},
		{"truncated object", "application/json", []byte(`{"id":"t-1","type":"sig`), false, "event 0 (byte 0): not JSON: unexpected end of JSON input (truncated)"},
		{"truncated array", "application/json", []byte(`[{"id":"t-2","type":"sig`), false, "event 0 (byte 1): not JSON: unexpected end of JSON input (truncated)"},
		{"binary", "application/x-ndjson", []byte("\x1f\x8b\x08\x00\x00\x00"), false, "event 0 (byte 3): binary data: byte 0x00, not text"},
		{"not gzip", "application/x-ndjson", []byte(ev("t-5", "signup")), true, "event 0 (byte 0): not gzip: gzip: invalid header"},
		{"empty gzip", "application/x-ndjson", nil, true, "event 0 (byte 0): empty: no gzip data"},
		{"truncated gzip", "application/x-ndjson", truncatedGzip, true, "gzip body: unexpected EOF at byte 120 of the decompressed body (byte 79 of the request body)"},
		{"gzip checksum", "application/x-ndjson", badChecksum, true, "gzip body: invalid checksum at byte 60 of the decompressed body (byte 80 of the request body)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var edit []func(*http.Request)
			if c.gzip {
				edit = append(edit, withGzip)
			}
			r := b.post(t, c.contentType, c.body, edit...)
			require.Equal(t, c.want, r.failed(t, http.StatusBadRequest))
		})
	}
	b.drain(t, 0)
	st := b.src.Stats()
	require.Equal(t, int64(len(cases)), st.ClientErrors)
	require.Zero(t, st.Accepted+st.Rejected)
}

// A request with more rejected events than MaxRejected is refused as a
// whole (its good events too), so a rejected list stays small.
func TestTooManyRejected(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.MaxRejected = 3 })
	var body bytes.Buffer
	body.WriteString(ev("ok", "signup") + "\n")
	for range 5 {
		body.WriteString(`{"type":"signup"}` + "\n")
	}
	r := b.post(t, "application/x-ndjson", body.Bytes())
	require.Equal(t, `more than 3 events rejected, nothing queued; the first, event 1: id field "id": missing`, r.failed(t, http.StatusBadRequest))
	b.drain(t, 0)

	// At the limit, the request goes through.
	body.Reset()
	body.WriteString(ev("ok", "signup") + "\n")
	for range 3 {
		body.WriteString(`{"type":"signup"}` + "\n")
	}
	require.Len(t, b.post(t, "application/x-ndjson", body.Bytes()).accepted(t).Rejected, 3)
	b.drain(t, 1)
}
