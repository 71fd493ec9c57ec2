package files

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

// secret is personal data inside bad events: it must reach the DLQ (raw
// bytes) and never the log.
const secret = "123-45-6789"

// Bad events go to the DLQ, each naming its file, line and reason, while
// the good events around them are published and the file moves on.
func TestBadEventsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.config(func(c *config.Files) { c.MaxEventBytes = 300 }))

	mixed := strings.Join([]string{
		ev("g1", "signup"),
		`{"id":"t1","type":"signup","time":`,
		ev("g2", "signup"),
		`{"id":"u1","type":"signup","time":"2024-05-01T12:00:00Z","name":"` + "\xff" + `"}`,
		ev("big", "signup", `"pad":"`+strings.Repeat("x", 400)+`"`),
		`{"id":{"ssn":"` + secret + `"},"type":"signup","time":"2024-05-01T12:00:00Z"}`,
		`{"id":"w2","type":"signup","time":true}`,
		`{"type":"signup","time":"2024-05-01T12:00:00Z"}`,
		`{"id":"m2","time":"2024-05-01T12:00:00Z"}`,
		`[1,2]`,
		ev("g3", "signup"),
	}, "\n") + "\n"
	cut := "[" + ev("a1", "signup") + "," + ev("a2", "signup") + `,{"id":"a3","ty`
	rows := "id,type,time\nc1,signup,2024-05-01T12:00:00Z\nc2,signup\nc3,signup,2024-05-01T12:00:00Z,extra\nc4,signup,2024-05-01T12:00:00Z\n"
	put(t, b.dir, "mixed.ndjson", []byte(mixed))
	put(t, b.dir, "cut.json", []byte(cut))
	put(t, b.dir, "rows.csv", []byte(rows))
	b.waitDone(t, "mixed.ndjson", "cut.json", "rows.csv")

	got := byFile(b.drain(t, 7))
	require.Equal(t, []string{"g1", "g2", "g3"}, eventIDs(got["mixed.ndjson"]))
	require.Equal(t, []string{"a1", "a2"}, eventIDs(got["cut.json"]))
	require.Equal(t, []string{"c1", "c4"}, eventIDs(got["rows.csv"]))

	entries := b.deadLetters(t)
	var msgs []string
	for _, e := range entries {
		require.Equal(t, srcName, e.Sync)
		require.Equal(t, dlq.ReasonInvalidEvent, e.Reason)
		file := strings.TrimPrefix(strings.SplitN(e.Message, ",", 2)[0], "file ")
		require.Equal(t, file, e.Headers[HeaderFile], e.Message)
		require.Equal(t, b.dir, e.Headers[HeaderFolder])
		require.Equal(t, "file "+file, e.Headers["Sfbridge-Input"])
		msgs = append(msgs, e.Message)
	}
	sort.Strings(msgs)
	want := []string{
		`file cut.json, event 2 (byte `,
		`file mixed.ndjson, line 10 (byte `,
		`file mixed.ndjson, line 2 (byte 58): not JSON: unexpected end of JSON input (truncated)`,
		`file mixed.ndjson, line 4 (byte `,
		`file mixed.ndjson, line 5 (byte `,
		`file mixed.ndjson, line 6 (byte `,
		`file mixed.ndjson, line 7 (byte `,
		`file mixed.ndjson, line 8 (byte `,
		`file mixed.ndjson, line 9 (byte `,
		`file rows.csv, line 3 (byte 44): 2 fields, the header has 3 (id,type,time)`,
		`file rows.csv, line 4 (byte 54): 4 fields, the header has 3 (id,type,time)`,
	}
	reasons := []string{
		"the input breaks off here",
		"an event must be a JSON object, got an array",
		"",
		"not valid UTF-8",
		"longer than max_event_bytes (300 bytes)",
		`id field "id": must be a string or an integer, got an object`,
		`time field "time": must be an RFC 3339 string or Unix seconds, got a boolean`,
		`id field "id": missing`,
		`type field "type": missing`,
		"",
		"",
	}
	require.Len(t, msgs, len(want), "%q", msgs)
	for i := range want {
		require.True(t, strings.HasPrefix(msgs[i], want[i]), "entry %d: %q does not start with %q", i, msgs[i], want[i])
		require.Contains(t, msgs[i], reasons[i], "entry %d", i)
	}
	var sawSecret bool
	for _, e := range entries {
		if !strings.Contains(e.Message, "breaks off") { // nothing after the break was read
			require.NotEmpty(t, e.Raw, "the bad item's bytes are kept: %s", e.Message)
		}
		sawSecret = sawSecret || strings.Contains(string(e.Raw), secret)
	}
	require.True(t, sawSecret, "the DLQ keeps the bad event's bytes")
	require.NotContains(t, b.log.String(), secret, "the log never holds an event's content")

	st := s.Stats()
	require.Equal(t, int64(3), st.Files)
	require.Equal(t, int64(7), st.Events)
	require.Equal(t, int64(11), st.DeadLettered)
	require.Zero(t, st.Quarantined)
	require.Contains(t, b.log.String(), "file=mixed.ndjson dead_lettered=8 published=3")
}

// A file that cannot be read at all is moved to quarantine_dir with a
// .error file saying why and where; the files around it flow.
func TestUnreadableFilesQuarantined(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.config())
	type bad struct {
		name, data, location, reason string
	}
	bads := []bad{
		{"empty.ndjson", "", "byte 0", "empty: no events"},
		{"blank.json", "  \n\t\n", "byte 0", "empty: no events"},
		{"binary.ndjson", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "byte 8", "binary data: byte 0x00, not text"},
		{"plain.ndjson.gz", ev("p1", "signup"), "byte 0", "not gzip: gzip: invalid header"},
		{"header.csv", "id,,time\n1,signup,2024-05-01T12:00:00Z\n", "line 1 (byte 0)", "header: column 2 has no name"},
		{"twice.csv", "id,type,id\n1,signup,1\n", "line 1 (byte 0)", `header: column 3 repeats "id" (column 1)`},
		{"prose.ndjson", "Dear team,\nplease find the events attached.\n", "line 1 (byte 0)", "not ndjson: no item could be parsed (2 tried); not JSON: invalid character 'D' looking for beginning of value (at byte 1 of the event)"},
		{"scalar.json", "42\n", "byte 0", `not JSON: starts with "4", not an object or an array`},
		{"half.json", `{"id":"h1","type":`, "byte 0", "not JSON: unexpected end of JSON input (truncated)"},
		{"notes.txt", "hello\n", "the whole file", "notes.txt: cannot tell the format from the name (.ndjson, .jsonl, .json or .csv, optionally .gz); set format"},
	}
	for _, f := range bads {
		put(t, b.dir, f.name, []byte(f.data))
	}
	good, ids := numbered("ok", 2)
	put(t, b.dir, "good.ndjson", good)

	names := make([]string, len(bads))
	for i, f := range bads {
		names[i] = f.name
	}
	b.waitQuarantined(t, names...)
	b.waitDone(t, "good.ndjson")
	require.Equal(t, ids, eventIDs(b.drain(t, 2)))
	for _, f := range bads {
		data, err := os.ReadFile(filepath.Join(b.quarantine, f.name))
		require.NoError(t, err)
		require.Equal(t, f.data, string(data), "%s moved unchanged", f.name)
		text, err := os.ReadFile(filepath.Join(b.quarantine, f.name+".error"))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("source: spool\nfile: %s\nfolder: %s\nlocation: %s\nreason: %s\ntime: 2024-05-01T12:00:00Z\n",
			f.name, b.dir, f.location, f.reason), string(text), f.name)
		require.Nil(t, b.checkpoint(t, f.name))
	}
	require.Empty(t, b.deadLetters(t), "a quarantined file leaves nothing in the DLQ")
	st := s.Stats()
	require.Equal(t, int64(len(bads)), st.Quarantined)
	require.Equal(t, int64(1), st.Files)
	require.Contains(t, b.log.String(), "files: file quarantined")
	require.Contains(t, b.log.String(), "level=WARN")
	require.NotContains(t, b.log.String(), "level=ERROR")

	// The same name quarantined again: both kept, each with its .error.
	put(t, b.dir, "empty.ndjson", nil)
	sourcetest.Eventually(t, 10*time.Second, "quarantined as empty.1.ndjson", func() bool {
		return exists(filepath.Join(b.quarantine, "empty.1.ndjson.error"))
	})
	require.FileExists(t, filepath.Join(b.quarantine, "empty.1.ndjson"))
	text, err := os.ReadFile(filepath.Join(b.quarantine, "empty.1.ndjson.error"))
	require.NoError(t, err)
	require.Contains(t, string(text), "file: empty.ndjson\nfolder: "+b.dir+"\nquarantined_as: empty.1.ndjson\n")
}

// A file sfbridge may not open is quarantined (it can still be moved).
func TestNoPermissionQuarantined(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root opens any file")
	}
	b := setup(t)
	b.start(t, b.config())
	tmp := filepath.Join(b.dir, ".locked.ndjson")
	require.NoError(t, os.WriteFile(tmp, ndjson(ev("x", "signup")), 0o000))
	require.NoError(t, os.Rename(tmp, filepath.Join(b.dir, "locked.ndjson")))
	b.waitQuarantined(t, "locked.ndjson")
	text, err := os.ReadFile(filepath.Join(b.quarantine, "locked.ndjson.error"))
	require.NoError(t, err)
	require.Contains(t, string(text), "reason: cannot open the file: permission denied\n")
}
