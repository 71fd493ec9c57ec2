package event

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var spec = Spec{IDField: "id", TypeField: "type", TimeField: "time", MaxEventBytes: 200}

// result is what a Reader produced, in order: "ok <id>" per event,
// "item <loc>: <reason>" per ItemError, "input <loc>: <reason>" at the end
// for an InputError.
func readAll(t *testing.T, in string, f Format, s Spec) []string {
	t.Helper()
	r := NewReader(strings.NewReader(in), f, s)
	var out []string
	for range 10000 {
		ev, err := r.Next()
		var ie *ItemError
		var inp *InputError
		switch {
		case err == nil:
			require.NotEmpty(t, ev.ID)
			require.NotEmpty(t, ev.Type)
			out = append(out, "ok "+ev.ID)
		case errors.As(err, &ie):
			out = append(out, "item "+ie.Error())
		case errors.As(err, &inp):
			out = append(out, "input "+inp.Error())
			return out
		case errors.Is(err, io.EOF):
			return out
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	}
	t.Fatal("reader did not end")
	return nil
}

const t0 = `"time":"2024-05-01T12:00:00Z"`

func TestNDJSON(t *testing.T) {
	t.Parallel()
	long := `{"id":"x","type":"t",` + t0 + `,"pad":"` + strings.Repeat("a", 300) + `"}`
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"good", `{"id":"a","type":"t",` + t0 + "}\n\n" + `{"id":2,"type":"t",` + t0 + "}\r\n", []string{"ok a", "ok 2"}},
		{"no final newline", `{"id":"a","type":"t",` + t0 + `}`, []string{"ok a"}},
		{"bad lines amid good", `{"id":"a","type":"t",` + t0 + "}\n" +
			`{"id":"b","type":"t"` + "\n" +
			"[1,2]\n" +
			`{"type":"t",` + t0 + "}\n" +
			`{"id":"c","type":7,` + t0 + "}\n" +
			`{"id":"d","type":"t","time":"yesterday"}` + "\n" +
			`{"id":1.5,"type":"t",` + t0 + "}\n" +
			"{\"id\":\"e\",\"type\":\"t\",\"bad\":\"\xff\xfe\"," + t0 + "}\n" +
			long + "\n" +
			`{"id":"f","type":"t",` + t0 + "} {}\n" +
			`{"id":"g","type":"t",` + t0 + "}\n",
			[]string{
				"ok a",
				"item line 2 (byte 52): not JSON: unexpected end of JSON input (truncated)",
				"item line 3 (byte 73): an event must be a JSON object, got an array",
				`item line 4 (byte 79): id field "id": missing`,
				`item line 5 (byte 122): type field "type": must be a string, got a number`,
				`item line 6 (byte 172): time field "time": "yesterday" is not an RFC 3339 time (2024-05-01T12:00:00Z) or Unix seconds`,
				`item line 7 (byte 213): id field "id": must be a string or an integer, got the number 1.5`,
				"item line 8 (byte 265): not valid UTF-8 at byte 28 of the event",
				"item line 9 (byte 328): longer than max_event_bytes (200 bytes); skipped to the next line",
				"item line 10 (byte 689): not JSON: more data after the value at byte 52",
				"ok g",
			}},
		{"empty", "", []string{"input event 0 (byte 0): empty: no events"}},
		{"blank", "\n  \n", []string{"input event 0 (byte 0): empty: no events"}},
		{"binary", "PK\x03\x04\x00\x00garbage", []string{"input event 0 (byte 4): binary data: byte 0x00, not text"}},
		{"nothing parses", "hello\nworld\n", []string{`input line 1 (byte 0): not ndjson: no item could be parsed (2 tried); not JSON: invalid character 'h' looking for beginning of value (at byte 1 of the event)`}},
		{"truncated only", `{"id":"a","ty`, []string{`input line 1 (byte 0): not ndjson: no item could be parsed (1 tried); not JSON: unexpected end of JSON input (truncated)`}},
		{"syntax error before the first good one keeps its place", "oops\n" + `{"id":"a","type":"t",` + t0 + "}\n", []string{
			"item line 1 (byte 0): not JSON: invalid character 'o' looking for beginning of value (at byte 1 of the event)", "ok a"}},
		{"only invalid events", `{"id":"a"}` + "\n", []string{`item line 1 (byte 0): type field "type": missing`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, readAll(t, tt.in, NDJSON, spec))
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"object", ` {"id":"a","type":"t",` + t0 + `} `, []string{"ok a"}},
		{"array", `[{"id":"a","type":"t",` + t0 + `}, {"id":"b","type":"t",` + t0 + `}]`, []string{"ok a", "ok b"}},
		{"empty array", `[]`, []string{"input event 0 (byte 2): empty: no events"}},
		{"array with bad elements", `[{"id":"a","type":"t",` + t0 + `}, 5, {"id":"b"}, {"id":"c","type":"t",` + t0 + `}]`, []string{
			"ok a", "item event 1 (byte 54): an event must be a JSON object, got a number",
			`item event 2 (byte 57): type field "type": missing`, "ok c"}},
		{"truncated array", `[{"id":"a","type":"t",` + t0 + `}, {"id":"b","ty`, []string{
			"ok a", "item event 1 (byte 52): the input breaks off here, nothing after it was read: not JSON: unexpected end of JSON input (truncated)"}},
		{"truncated object", `{"id":"a","ty`, []string{"input event 0 (byte 0): not JSON: unexpected end of JSON input (truncated)"}},
		{"not JSON", `id,type`, []string{`input event 0 (byte 0): not JSON: starts with "i", not an object or an array`}},
		{"trailing garbage", `{"id":"a","type":"t",` + t0 + `} x`, []string{"ok a", "item event 1 (byte 51): the input breaks off here, nothing after it was read: not JSON: more data after the end of the document"}},
		{"too large element", `[{"id":"a","type":"t",` + t0 + `,"p":"` + strings.Repeat("b", 300) + `"}]`, []string{"item event 0 (byte 1): 358 bytes, larger than max_event_bytes (200)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, readAll(t, tt.in, JSON, spec))
		})
	}
}

func TestCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"good", "\ufeffid,type,time,name\na,t,2024-05-01T12:00:00Z,\"Ana, B\"\nb,t,1714564800,\"multi\nline\"\n", []string{"ok a", "ok b"}},
		{"bad rows", "id,type,time\na,t,2024-05-01T12:00:00Z\nb,t\nc,t,2024-05-01T12:00:00Z,extra\nd,t,\"bad\"quote\",x\ne,t,2024-05-01T12:00:00Z\n,t,2024-05-01T12:00:00Z\n", []string{
			"ok a",
			"item line 3 (byte 38): 2 fields, the header has 3 (id,type,time)",
			"item line 4 (byte 42): 4 fields, the header has 3 (id,type,time)",
			`item line 5 (byte 73): not CSV: extraneous or missing " in quoted-field (line 5, column 9)`,
			"ok e",
			`item line 7 (byte 116): id field "id": empty`,
		}},
		{"empty", "", []string{"input event 0 (byte 0): empty: no events"}},
		{"header only", "id,type,time\n", []string{"input line 1 (byte 13): empty: no events"}},
		{"header with empty name", "id,,time\na,b,c\n", []string{"input line 1 (byte 0): header: column 2 has no name"}},
		{"header repeats", "id,type,id\n", []string{`input line 1 (byte 0): header: column 3 repeats "id" (column 1)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, readAll(t, tt.in, CSV, spec))
		})
	}
}

func TestGzipAndDetect(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(`{"id":"a","type":"t",` + t0 + "}\n"))
	require.NoError(t, zw.Close())
	f, gz, err := Detect("in/events-1.ndjson.GZ", "auto", "auto")
	require.NoError(t, err)
	require.Equal(t, NDJSON, f)
	require.True(t, gz)
	zr, err := Open(&b, gz)
	require.NoError(t, err)
	r := NewReader(zr, f, spec)
	ev, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, "a", ev.ID)
	require.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), ev.Time)
	_, err = r.Next()
	require.ErrorIs(t, err, io.EOF)

	_, err = Open(strings.NewReader("plain text"), true)
	var in *InputError
	require.ErrorAs(t, err, &in)
	require.Contains(t, in.Reason, "not gzip")

	for name, want := range map[string]Format{"a.jsonl": NDJSON, "a.json": JSON, "a.csv.gz": CSV} {
		f, _, err := Detect(name, "", "")
		require.NoError(t, err)
		require.Equal(t, want, f, name)
	}
	_, _, err = Detect("a.txt", "auto", "auto")
	require.ErrorContains(t, err, "a.txt: cannot tell the format")
	f, gz, err = Detect("a.txt", "csv", "none")
	require.NoError(t, err)
	require.Equal(t, CSV, f)
	require.False(t, gz)
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	s := Spec{IDField: "meta.id", TypeField: "kind", TimeField: "at", KeyField: "volunteer.id"}
	in := `{"meta":{"id":"e1"},"kind":"login","at":1714564800123,"volunteer":{"id":42}}`
	r := NewReader(strings.NewReader(in), NDJSON, s)
	ev, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, "e1", ev.ID)
	require.Equal(t, "login", ev.Type)
	require.Equal(t, "42", ev.Key)
	require.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC), ev.Time)

	recv := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	rec, err := s.Record("app", ev, recv, map[string]string{"file": "a.ndjson"})
	require.NoError(t, err)
	require.Equal(t, "login", rec.Collection)
	require.Equal(t, `[["volunteer.id","42"]]`, rec.Key.String())
	require.Equal(t, ev.Time, rec.Version.Time())
	require.Equal(t, map[string]string{"file": "a.ndjson", "event_id": "e1"}, rec.Metadata)
	again, err := s.Record("app", ev, recv.Add(time.Hour), nil)
	require.NoError(t, err)
	require.Equal(t, rec.ID, again.ID, "the same event received twice is the same record")
	other := ev
	other.ID = "e2"
	diff, err := s.Record("app", other, recv, nil)
	require.NoError(t, err)
	require.NotEqual(t, rec.ID, diff.ID)

	// Without a time field the received time is the version.
	s.TimeField = ""
	r = NewReader(strings.NewReader(`{"meta":{"id":"e1"},"kind":"login","volunteer":{"id":"v"}}`), NDJSON, s)
	ev, err = r.Next()
	require.NoError(t, err)
	require.True(t, ev.Time.IsZero())
	rec, err = s.Record("app", ev, recv, nil)
	require.NoError(t, err)
	require.Equal(t, recv, rec.Version.Time())
}
