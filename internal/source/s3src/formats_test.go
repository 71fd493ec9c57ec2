package s3src

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/record"
)

// Every format, plain and gzip, is read by its extension; each event
// becomes a record on in.<source>.<type> with where it came from; each
// object is marked processed with its ETag; a second run reads none again.
func TestFormats(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	objects := map[string][]byte{
		"in/a.ndjson":    ndjson(ev("a1", "order"), ev("a2", "refund")),
		"in/b.jsonl":     ndjson(ev("b1", "order")),
		"in/c.json":      []byte("[" + ev("c1", "order") + "," + ev("c2", "order") + "]"),
		"in/d.json":      []byte(ev("d1", "order")),
		"in/e.csv":       []byte("id,type,time,amount\ne1,order,2024-05-01T12:00:00Z,12.50\ne2,order,2024-05-01T12:00:00Z,3\n"),
		"in/f.ndjson.gz": gzipped(t, ndjson(ev("f1", "order"), ev("f2", "order"))),
		"in/g.csv.gz":    gzipped(t, []byte("id,type,time\ng1,order,1714564800\n")),
		"in/h.json.gz":   gzipped(t, []byte("["+ev("h1", "order")+"]")),
		"outside/x.json": []byte(ev("x1", "order")), // not under the prefix
		"in/folder/":     nil,                       // a folder placeholder
	}
	for k, v := range objects {
		b.s3.put(t, k, v)
	}
	b.start(t)
	rs := b.drain(t, 12)
	require.Equal(t, []string{"a1", "a2", "b1", "c1", "c2", "d1", "e1", "e2", "f1", "f2", "g1", "h1"}, eventIDs(rs))
	byID := map[string]record.Record{}
	for _, r := range rs {
		byID[r.Metadata["event_id"]] = r
	}
	require.Len(t, byID, 12)
	a2 := byID["a2"]
	require.Equal(t, "refund", a2.Collection)
	require.Equal(t, "bucket", a2.Source)
	require.Equal(t, map[string]string{"event_id": "a2", "object": "s3://events/in/a.ndjson", "line": "2"}, a2.Metadata)
	require.Equal(t, map[string]string{"event_id": "c2", "object": "s3://events/in/c.json", "index": "1"}, byID["c2"].Metadata)
	require.Equal(t, "12.50", byID["e1"].Payload["amount"], "CSV values stay text")
	require.Equal(t, "3", byID["e2"].Payload["amount"])

	for k := range objects {
		if k == "outside/x.json" || k == "in/folder/" {
			require.Zero(t, b.s3.gets(k), "%s is not read", k)
			continue
		}
		c, ok := b.checkpoint(t, k)
		require.True(t, ok, k)
		require.Equal(t, Checkpoint{Key: k, ETag: b.s3.etag(t, k), Items: c.Items, Events: c.Items, Complete: true, Marked: true, Updated: testNow}, c)
		_, stays := b.s3.get(t, k)
		require.True(t, stays, "mark: state leaves %s in place", k)
	}
	st := b.src.Stats()
	require.Equal(t, int64(8), st.Objects)
	require.Equal(t, int64(12), st.Events)
	require.Positive(t, st.Bytes)
	require.Zero(t, st.DeadLettered+st.Quarantined+st.Failures)

	// A second (full) run reads nothing again.
	before := len(b.s3.requests())
	b.rerun(t)
	b.noMore(t)
	for _, r := range b.s3.requests()[before:] {
		require.Equal(t, "GET", r.Method)
		require.Empty(t, r.Key, "only listings, no object read: %+v", r)
	}
	require.Equal(t, int64(8), b.src.Stats().Objects)
}

// An explicit format and compression win over the key's extension.
func TestExplicitFormat(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) {
		o.Config.Format = config.FormatCSV
		o.Config.Compression = config.CompressionGzip
	})
	b.s3.put(t, "in/export.dat", gzipped(t, []byte("id,type,time\nx1,order,2024-05-01T12:00:00Z\n")))
	b.start(t)
	rs := b.drain(t, 1)
	require.Equal(t, "x1", rs[0].Metadata["event_id"])
}
