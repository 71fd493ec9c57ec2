package engine_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/dlq"
)

// Event files put into an S3 bucket (an in-process S3 store) reach
// Salesforce through the s3 source: good events of every object are
// delivered, a bad line is one DLQ entry naming the object and line, an
// unreadable object is quarantined with its .error, and every processed
// object is moved under the processed prefix.
func TestS3EventsEndToEnd(t *testing.T) {
	t.Parallel()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("app-events"))
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	put := func(key string, body []byte) {
		t.Helper()
		_, err := backend.PutObject("app-events", key, map[string]string{"Content-Type": "application/octet-stream"}, bytes.NewReader(body), int64(len(body)), nil)
		require.NoError(t, err)
	}

	sourceYAML := fmt.Sprintf(`  - name: bucket
    type: s3
    bucket: app-events
    prefix: in/
    region: us-east-1
    endpoint: %s
    force_path_style: true
    access_key_id: AKIDTEST
    secret_access_key: test-secret
    every: 1s
    mark: move
    processed_prefix: done/
    quarantine_prefix: bad/
`, s3srv.URL)
	e := startEventsEngine(t, sourceYAML, []string{"bucket"}, nil)

	ledger := demo.NewEventLedger()
	maker := demo.NewEventMaker(21, 30, "s", time.Now())
	for i := range 6 {
		var buf bytes.Buffer
		for range 200 {
			ev := maker.Make()
			ledger.Add(ev)
			line, err := json.Marshal(ev)
			require.NoError(t, err)
			buf.Write(line)
			buf.WriteByte('\n')
		}
		if i == 2 { // one bad line amid good ones
			buf.WriteString(`{"id":"broken","type":` + "\n")
		}
		if i%2 == 1 {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			_, _ = zw.Write(buf.Bytes())
			require.NoError(t, zw.Close())
			put(fmt.Sprintf("in/2024-05-01/part-%d.ndjson.gz", i), gz.Bytes())
		} else {
			put(fmt.Sprintf("in/2024-05-01/part-%d.ndjson", i), buf.Bytes())
		}
	}
	put("in/2024-05-01/garbage.ndjson", []byte("\x00\x01\x02 not events"))

	waitEventsInSync(t, e.emu.Org(), ledger, 2*time.Minute, func() any { return e.eng.Status(t.Context()) })
	eventually(t, 30*time.Second, func() error {
		list, err := backend.ListBucket("app-events", nil, gofakes3.ListBucketPage{})
		if err != nil {
			return err
		}
		keys := map[string]bool{}
		for _, c := range list.Contents {
			keys[c.Key] = true
		}
		for i := range 6 {
			name := fmt.Sprintf("2024-05-01/part-%d.ndjson", i)
			if i%2 == 1 {
				name += ".gz"
			}
			if !keys["done/in/"+name] || keys["in/"+name] {
				return fmt.Errorf("%s not moved under done/: %v", name, keys)
			}
		}
		if !keys["bad/in/2024-05-01/garbage.ndjson"] || !keys["bad/in/2024-05-01/garbage.ndjson.error"] {
			return fmt.Errorf("the unreadable object is not quarantined with its .error: %v", keys)
		}
		return nil
	})
	obj, err := backend.GetObject("app-events", "bad/in/2024-05-01/garbage.ndjson.error", nil)
	require.NoError(t, err)
	var reason bytes.Buffer
	_, _ = reason.ReadFrom(obj.Contents)
	require.Contains(t, reason.String(), "binary data")

	items, _, err := dlq.NewStore(e.eng.Queue()).List(t.Context(), dlq.Filter{Reason: dlq.ReasonInvalidEvent}, 0, 10)
	require.NoError(t, err)
	require.Len(t, items, 1, "the one bad line")
	require.Equal(t, "bucket", items[0].Entry.Sync)
	require.Contains(t, items[0].Entry.Message, "s3://app-events/in/2024-05-01/part-2.ndjson, line 201")
	require.Equal(t, `{"id":"broken","type":`, string(items[0].Entry.Raw))
	eventually(t, 10*time.Second, func() error { // counted once the object is deleted
		if st := e.eng.Status(t.Context()).Sources[0]; st.Rejected != 1 || st.Quarantined != 1 {
			return fmt.Errorf("source status: %d rejected, %d quarantined; want 1 and 1", st.Rejected, st.Quarantined)
		}
		return nil
	})
}
