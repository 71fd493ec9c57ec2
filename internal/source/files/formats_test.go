package files

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/record"
)

// Every format, gzip included, becomes records in file order, each saying
// where it came from; the file moves to processed_dir and its checkpoint
// is gone.
func TestFormats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A sync taking one type sees only its events: subject in.<source>.<type>.
	rescues, err := b.queue.Consumer(context.Background(), queue.ConsumerConfig{Name: "rescues", Subject: "in.spool.rescue"})
	require.NoError(t, err)
	s := b.start(t, b.config())

	files := map[string][]byte{
		"a.ndjson":    ndjson(ev("n1", "signup"), "", ev("n2", "rescue")),
		"b.json":      []byte("[\n" + ev("j1", "signup") + ",\n" + ev("j2", "signup") + "\n]\n"),
		"c.json":      []byte(ev("o1", "rescue", `"nested":{"a":[1,2]}`)),
		"d.csv":       []byte("id,type,time,name\nc1,signup,2024-05-01T12:00:00Z,Ann\r\nc2,signup,1714564800,\"Bo, Jr.\"\n"),
		"e.ndjson.gz": gzipped(t, ndjson(ev("z1", "signup"), ev("z2", "signup"))),
		"f.jsonl":     ndjson(ev("l1", "signup")),
		"g.csv.gz":    gzipped(t, []byte("id,type,time\ng1,signup,2024-05-01T12:00:00Z\n")),
	}
	var size int64
	for name, data := range files {
		put(t, b.dir, name, data)
		size += int64(len(data))
	}
	names := []string{"a.ndjson", "b.json", "c.json", "d.csv", "e.ndjson.gz", "f.jsonl", "g.csv.gz"}
	b.waitDone(t, names...)
	got := byFile(b.drain(t, 11))

	type want struct {
		ids  []string
		meta []map[string]string // besides "file" and "event_id"
		typ  string
	}
	wants := map[string]want{
		"a.ndjson":    {ids: []string{"n1", "n2"}, meta: []map[string]string{{"line": "1"}, {"line": "3"}}},
		"b.json":      {ids: []string{"j1", "j2"}, meta: []map[string]string{{"index": "0"}, {"index": "1"}}},
		"c.json":      {ids: []string{"o1"}, meta: []map[string]string{{"index": "0"}}},
		"d.csv":       {ids: []string{"c1", "c2"}, meta: []map[string]string{{"line": "2"}, {"line": "3"}}},
		"e.ndjson.gz": {ids: []string{"z1", "z2"}, meta: []map[string]string{{"line": "1"}, {"line": "2"}}},
		"f.jsonl":     {ids: []string{"l1"}, meta: []map[string]string{{"line": "1"}}},
		"g.csv.gz":    {ids: []string{"g1"}, meta: []map[string]string{{"line": "2"}}},
	}
	for name, w := range wants {
		rs := got[name]
		require.Equal(t, w.ids, eventIDs(rs), name)
		fi, err := os.Stat(filepath.Join(b.processed, name))
		require.NoError(t, err)
		for i, r := range rs {
			meta := map[string]string{"file": name, "event_id": w.ids[i]}
			for k, v := range w.meta[i] {
				meta[k] = v
			}
			require.Equal(t, meta, r.Metadata, "%s record %d", name, i)
			require.Equal(t, srcName, r.Source)
			require.WithinDuration(t, fi.ModTime(), r.Time, time.Microsecond, "a record's time is its file's modification time")
		}
		require.Nil(t, b.checkpoint(t, name), "%s: checkpoint deleted once the file moved", name)
	}
	a := got["a.ndjson"]
	require.Equal(t, "rescue", a[1].Collection, "the collection is the event's type")
	nested, err := json.Marshal(got["c.json"][0].Payload["nested"])
	require.NoError(t, err)
	require.JSONEq(t, `{"a":[1,2]}`, string(nested))
	require.Equal(t, "Bo, Jr.", got["d.csv"][1].Payload["name"], "CSV values are strings")
	require.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), got["d.csv"][1].Version.Time(), "Unix seconds as CSV text")

	ds, err := rescues.Fetch(context.Background(), 3, time.Second)
	require.NoError(t, err)
	var rescueIDs []string
	for _, d := range ds {
		r, err := record.Decode(d.Data())
		require.NoError(t, err)
		require.Equal(t, "in.spool.rescue", d.Subject())
		rescueIDs = append(rescueIDs, r.Metadata["event_id"])
	}
	require.ElementsMatch(t, []string{"n2", "o1"}, rescueIDs)

	st := s.Stats()
	require.Equal(t, Stats{Files: 7, Events: 11, Bytes: size, Watching: true}, st)
	require.Empty(t, b.deadLetters(t))
	entries, err := os.ReadDir(b.dir)
	require.NoError(t, err)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	require.Equal(t, []string{"processed", "quarantine"}, left, "nothing left in the folder")
	require.NotContains(t, b.log.String(), "level=WARN")
	require.NotContains(t, b.log.String(), "level=ERROR")
}

// Names with spaces, non-ASCII letters, or bytes that are not UTF-8 work;
// the last are shown with U+FFFD in records and DLQ entries.
func TestOddNames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t, b.config())
	names := []string{"with space.ndjson", "Rescue – ümlaut ✓.ndjson", "bad-\xff.ndjson"}
	for i, n := range names {
		put(t, b.dir, n, ndjson(ev(fmt.Sprint("odd", i), "signup"), `{"id":"x"}`))
	}
	b.waitDone(t, names...)
	got := byFile(b.drain(t, 3))
	require.Equal(t, []string{"odd0"}, eventIDs(got["with space.ndjson"]))
	require.Equal(t, []string{"odd1"}, eventIDs(got["Rescue – ümlaut ✓.ndjson"]))
	require.Equal(t, []string{"odd2"}, eventIDs(got["bad-\uFFFD.ndjson"]))
	files := map[string]bool{}
	for _, e := range b.deadLetters(t) {
		files[e.Headers[HeaderFile]] = true
		require.Contains(t, e.Message, `line 2 (byte 60): type field "type": missing`)
	}
	require.Equal(t, map[string]bool{"with space.ndjson": true, "Rescue – ümlaut ✓.ndjson": true, "bad-\uFFFD.ndjson": true}, files)
}
