package httpsrc

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/source"
)

func TestOneEvent(t *testing.T) {
	t.Parallel()
	received := time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC)
	b := setup(t, func(o *Options) { o.Now = func() time.Time { return received } })

	r := b.post(t, "application/json", []byte(ev("r-1", "active_rescue", `"counselor":{"id":42}`)))
	require.Equal(t, Response{Accepted: 1, Duplicates: 0, Rejected: []Rejection{}}, r.accepted(t))
	require.JSONEq(t, `{"accepted":1,"duplicates":0,"rejected":[]}`, string(r.body))

	recs := b.drain(t, 1)
	got := recs[0]
	require.Equal(t, "events", got.Source)
	require.Equal(t, "active_rescue", got.Collection)
	require.Equal(t, record.OpUpsert, got.Op)
	require.Equal(t, record.Key{{Name: "id", Value: "r-1"}}, got.Key)
	require.Equal(t, received, got.Time)
	require.Equal(t, record.EventVersion(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), 0), got.Version)
	require.Equal(t, map[string]string{
		"event_id": "r-1",
		"request":  r.header.Get("X-Request-Id"),
		"index":    "0",
		"remote":   "127.0.0.1",
	}, got.Metadata)
	require.Equal(t, "r-1", got.Payload["id"])
	require.Equal(t, map[string]any{"id": json.Number("42")}, got.Payload["counselor"])

	// The message ID is the one any source reading this event computes.
	in := event.Intake{Source: "events", Spec: event.Spec{IDField: "id", TypeField: "type", TimeField: "time"}}
	want, err := in.Spec.Record("events", event.Event{ID: "r-1", Type: "active_rescue", Key: "r-1",
		Time: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), Fields: map[string]any{"id": "r-1"}}, received, nil)
	require.NoError(t, err)
	require.Equal(t, want.ID, got.ID)

	st := b.src.Stats()
	require.Equal(t, Stats{Requests: 1, Accepted: 1, Bytes: int64(len(ev("r-1", "active_rescue", `"counselor":{"id":42}`)))}, st)
}

func TestFormats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name, contentType string
		body              string
		gzip              bool
	}{
		{"array", "application/json", "array", false},
		{"array with charset", "application/json; charset=UTF-8", "array", false},
		{"ndjson", "application/x-ndjson", "ndjson", false},
		{"jsonl with blank lines", "application/jsonl", "blank lines", false},
		{"gzip ndjson", "application/x-ndjson", "ndjson", true},
		{"gzip array", "application/json", "array", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Other ids each time: the broker would drop resent events.
			three := []string{ev(c.name+"/a", "signup"), ev(c.name+"/b", "signup"), ev(c.name+"/c", "active_rescue")}
			var body []byte
			switch c.body {
			case "array":
				body = array(three...)
			case "ndjson":
				body = ndjson(three...)
			case "blank lines":
				body = []byte(three[0] + "\n\n" + three[1] + "\r\n   \n" + three[2]) // no final newline
			}
			edit := []func(*http.Request){}
			if c.gzip {
				body, edit = gzipped(t, body), append(edit, withGzip)
			}
			r := b.post(t, c.contentType, body, edit...)
			require.Equal(t, Response{Accepted: 3, Rejected: []Rejection{}}, r.accepted(t))
			recs := b.drain(t, 3)
			require.Equal(t, []string{c.name + "/a", c.name + "/b", c.name + "/c"}, eventIDs(recs))
			for i, rec := range recs {
				require.Equal(t, []string{"0", "1", "2"}[i], rec.Metadata["index"], "index counts events, not blank lines")
				require.Equal(t, r.header.Get("X-Request-Id"), rec.Metadata["request"])
			}
			require.Equal(t, "in.events.active_rescue", source.Subject("events", recs[2].Collection))
		})
	}
	st := b.src.Stats()
	require.Equal(t, int64(len(cases)), st.Requests)
	require.Equal(t, int64(3*len(cases)), st.Accepted)
	require.Zero(t, st.ClientErrors+st.ServerErrors+st.Rejected+st.Duplicates)
}

// Events whose type, id and time repeat an earlier one of the request are
// counted and queued once; the same id with another time is another
// version, queued too. Across requests the broker drops the resent ones.
func TestDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	later := `{"id":"a","type":"signup","time":"2024-05-01T12:00:01Z"}`
	body := ndjson(ev("a", "signup"), ev("b", "signup"), ev("a", "signup", `"other":"field"`), ev("a", "signup"), later, ev("a", "active_rescue"))
	r := b.post(t, "application/x-ndjson", body)
	require.Equal(t, Response{Accepted: 4, Duplicates: 2, Rejected: []Rejection{}}, r.accepted(t))
	recs := b.drain(t, 4)
	require.Equal(t, []string{"a", "b", "a", "a"}, eventIDs(recs))
	require.Equal(t, []string{"0", "1", "4", "5"}, []string{recs[0].Metadata["index"], recs[1].Metadata["index"], recs[2].Metadata["index"], recs[3].Metadata["index"]})
	require.Equal(t, "active_rescue", recs[3].Collection)

	// The whole request again: answered like the first time, queued once
	// (the broker's deduplication by message ID).
	r = b.post(t, "application/x-ndjson", body)
	require.Equal(t, Response{Accepted: 4, Duplicates: 2, Rejected: []Rejection{}}, r.accepted(t))
	b.drain(t, 0)
	require.Equal(t, int64(4), b.src.Stats().Duplicates)
}
