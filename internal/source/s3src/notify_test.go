package s3src

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
)

// An S3 event notification on SQS gets its object processed at once,
// long before the next listing; the message is deleted only once the
// object is marked (here: moved). Test events, malformed messages,
// notifications about other buckets or other events are deleted without
// reading anything.
func TestNotificationsTriggerProcessing(t *testing.T) {
	t.Parallel()
	b := setup(t, true, func(o *Options) { o.Config.Mark = config.MarkMove })
	var mu sync.Mutex
	movedAtDelete := map[string]bool{}
	b.sqs.onDelete = func(body string) {
		objs, _, _ := parseNotification(body)
		for _, o := range objs {
			moved := b.s3.exists("sfbridge/processed/"+o.Key) && !b.s3.exists(o.Key)
			mu.Lock()
			movedAtDelete[o.Key] = moved
			mu.Unlock()
		}
	}
	b.start(t) // the first listing finds an empty bucket
	require.Equal(t, int64(1), b.src.Stats().Listings)

	key := "in/2024/05/my file+1.ndjson"
	b.s3.put(t, key, ndjson(ev("n1", "order"), ev("n2", "order")))
	id := b.sqs.send(s3Event(testBucket, key))
	require.Equal(t, []string{"n1", "n2"}, eventIDs(b.drain(t, 2)))
	eventually(t, "the notification is deleted", func() bool { deleted, _ := b.sqs.state(id); return deleted })
	mu.Lock()
	require.True(t, movedAtDelete[key], "deleted only after the object was moved")
	mu.Unlock()

	// Through SNS (no raw message delivery), the same.
	b.s3.put(t, "in/sns.json", []byte(ev("s1", "order")))
	snsID := b.sqs.send(`{"Type":"Notification","MessageId":"x","TopicArn":"arn:aws:sns:eu-west-1:1:t","Message":` + quote(s3Event(testBucket, "in/sns.json")) + `}`)
	require.Equal(t, []string{"s1"}, eventIDs(b.drain(t, 1)))
	eventually(t, "the SNS notification is deleted", func() bool { deleted, _ := b.sqs.state(snsID); return deleted })

	b.s3.put(t, "in/elsewhere.ndjson", ndjson(ev("x1", "order")))
	others := []string{
		b.sqs.send(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-05-01T12:00:00.000Z","Bucket":"events","RequestId":"R","HostId":"H"}`),
		b.sqs.send(`not json at all`),
		b.sqs.send(`{"Records":[]}`),
		b.sqs.send(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"events"},"object":{}}}]}`),
		b.sqs.send(s3Event("another-bucket", "in/elsewhere.ndjson")),
		b.sqs.send(`{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"events"},"object":{"key":"in/elsewhere.ndjson"}}}]}`),
		b.sqs.send(s3Event(testBucket, "outside/prefix.ndjson")),
	}
	for _, id := range others {
		eventually(t, "message "+id+" is deleted", func() bool { deleted, _ := b.sqs.state(id); return deleted })
	}
	b.noMore(t)
	require.Zero(t, b.s3.gets("in/elsewhere.ndjson"))
	st := b.src.Stats()
	require.Equal(t, int64(3), st.Malformed)
	require.Equal(t, int64(9), st.Notifications)
	require.Equal(t, int64(1), st.Listings, "no listing ran: the notifications did it all")
	require.Empty(t, b.sqs.protocolProblems())
	require.Contains(t, b.log.String(), "notifications are set up")
}

// A notification whose object cannot be processed now (the queue is down)
// is not deleted: it comes back after its visibility timeout and is done
// then; its events are published once.
func TestNotificationKeptUntilDone(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.sqs.visibility = 300 * time.Millisecond
	b.start(t)
	b.gate.set(func(g *gate) { g.err = errors.New("queue down") })
	b.s3.put(t, "in/a.ndjson", ndjson(ev("a1", "order")))
	id := b.sqs.send(s3Event(testBucket, "in/a.ndjson"))
	eventually(t, "the object failed", func() bool { return b.src.Stats().Failures > 0 })
	deleted, _ := b.sqs.state(id)
	require.False(t, deleted, "kept while its object is not done")
	_, ok := b.checkpoint(t, "in/a.ndjson")
	require.False(t, ok, "nothing confirmed, nothing checkpointed")

	b.gate.set(func(g *gate) { g.err = nil })
	require.Equal(t, []string{"a1"}, eventIDs(b.drain(t, 1)))
	eventually(t, "the notification is deleted", func() bool { deleted, _ := b.sqs.state(id); return deleted })
	_, received := b.sqs.state(id)
	require.GreaterOrEqual(t, received, 2)
}

// quote renders s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		objs []notified
		test bool
		err  string
	}{
		{"put", s3Event("events", "in/a b+c%.ndjson"), []notified{{Event: "ObjectCreated:Put", Bucket: "events", Key: "in/a b+c%.ndjson"}}, false, ""},
		{"etag", `{"Records":[{"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"b"},"object":{"key":"k","eTag":"abc-2"}}}]}`,
			[]notified{{Event: "ObjectCreated:CompleteMultipartUpload", Bucket: "b", Key: "k", ETag: "abc-2"}}, false, ""},
		{"test event", `{"Service":"Amazon S3","Event":"s3:TestEvent"}`, nil, true, ""},
		{"sns", `{"Type":"Notification","Message":` + quote(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`) + `}`,
			[]notified{{Event: "ObjectCreated:Put", Bucket: "b", Key: "k"}}, false, ""},
		{"not json", `<xml/>`, nil, false, "not JSON"},
		{"no records", `{"Records":[]}`, nil, false, "neither an S3 event notification"},
		{"other json", `{"hello":"world"}`, nil, false, "neither an S3 event notification"},
		{"missing fields", `{"Records":[{"s3":{}}]}`, nil, false, "record 0: eventName, s3.bucket.name, s3.object.key missing"},
		{"bad escape", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a%zz"}}}]}`, nil, false, "record 0: s3.object.key is not URL-encoded"},
		{"one bad of two", `{"Records":[7,{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
			[]notified{{Event: "ObjectCreated:Put", Bucket: "b", Key: "k"}}, false, "record 0: json: cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, test, err := parseNotification(tt.body)
			require.Equal(t, tt.objs, objs)
			require.Equal(t, tt.test, test)
			if tt.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.err)
			}
		})
	}
}
