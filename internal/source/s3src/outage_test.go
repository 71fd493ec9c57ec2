package s3src

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/retry"
)

// With S3 unreachable the source starts anyway, logs, and retries with
// backoff; once S3 answers again every object is processed, each event
// published once.
func TestS3DownRetriedLater(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	b.s3.put(t, "in/a.ndjson", ndjson(ev("a1", "order"), ev("a2", "order")))
	b.s3.put(t, "in/b.csv", []byte("id,type,time\nb1,order,2024-05-01T12:00:00Z\n"))
	var refused atomic.Int64
	b.s3.setDrop(func(*http.Request) bool { refused.Add(1); return true })
	b.start(t)
	eventually(t, "several failed runs", func() bool { return b.src.Stats().Failures >= 3 })
	require.Zero(t, b.src.Stats().Listings)
	b.noMore(t)
	require.Contains(t, b.log.String(), "cannot list the bucket now")
	require.Contains(t, b.log.String(), "listing run failed; retrying")

	b.s3.setDrop(nil)
	require.Equal(t, []string{"a1", "a2", "b1"}, eventIDs(b.drain(t, 3)))
	eventually(t, "both objects marked", func() bool { return b.src.Stats().Objects == 2 })
	require.Positive(t, refused.Load())
}

// A GET cut off in the middle of the body (the network) is no fault of
// the object: nothing is quarantined or dead-lettered, and the object is
// read again later, its events published once.
func TestGetCutOffRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) { o.BatchSize = 5 })
	b.s3.put(t, "in/a.ndjson", manyEvents("e", 40))
	b.s3.put(t, "in/b.ndjson.gz", gzipped(t, manyEvents("g", 40)))
	var cutA, cutB atomic.Bool
	b.s3.setCut(func(r *http.Request) int {
		switch {
		case r.URL.Path == "/events/in/a.ndjson" && cutA.CompareAndSwap(false, true):
			return 700 // ten events into the body: two batches are confirmed
		case r.URL.Path == "/events/in/b.ndjson.gz" && cutB.CompareAndSwap(false, true):
			return 100 // in the middle of the gzip stream
		}
		return 0
	})
	b.start(t)
	require.Len(t, b.drain(t, 80), 80)
	eventually(t, "both objects marked", func() bool { return b.src.Stats().Objects == 2 })
	st := b.src.Stats()
	require.Zero(t, st.Quarantined)
	require.Zero(t, st.DeadLettered)
	require.Equal(t, int64(2), st.Failures)
	require.Empty(t, b.deadLetters(t))
	logged := b.log.String()
	require.Contains(t, logged, `read s3://events/in/a.ndjson: unexpected EOF`)
	require.Contains(t, logged, `read s3://events/in/b.ndjson.gz: unexpected EOF`)
}

// An object S3 refuses to give (403 on its GetObject) is logged and
// retried while the objects after it are processed; the listing position
// stays before it until it is done.
func TestFailingObjectDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) { o.Backoff = retry.Policy{Initial: time.Hour, Multiplier: 1} })
	b.s3.put(t, "in/a.ndjson", ndjson(ev("a1", "order")))
	b.s3.put(t, "in/b.ndjson", ndjson(ev("b1", "order")))
	b.s3.put(t, "in/c.ndjson", ndjson(ev("c1", "order")))
	var denied atomic.Bool
	denied.Store(true)
	b.s3.setDeny(func(r *http.Request) bool { return denied.Load() && r.URL.Path == "/events/in/a.ndjson" })
	b.start(t)
	require.Equal(t, []string{"b1", "c1"}, eventIDs(b.drain(t, 2)))
	eventually(t, "the failed run is over", func() bool { return b.src.Stats().Failures == 1 })
	require.Contains(t, b.log.String(), "AccessDenied")
	after, err := b.src.loadListing(context.Background())
	require.NoError(t, err)
	require.Empty(t, after, "the listing does not move past a")
	_, ok := b.checkpoint(t, "in/a.ndjson")
	require.False(t, ok)

	denied.Store(false)
	b.rerun(t)
	require.Equal(t, []string{"a1"}, eventIDs(b.drain(t, 1)))
	after, err = b.src.loadListing(context.Background())
	require.NoError(t, err)
	require.Equal(t, "in/c.ndjson", after)
	require.Equal(t, 2, b.s3.gets("in/a.ndjson"), "read once in each run")
	require.Equal(t, int64(3), b.src.Stats().Objects)
}

// What configuration must fix fails Start: a bucket that does not exist.
func TestStartFailsOnMissingBucket(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) { o.Config.Bucket = "no-such-bucket" })
	src, err := New(b.opts)
	require.NoError(t, err)
	err = src.Start(context.Background())
	require.ErrorContains(t, err, "s3src: source bucket: bucket no-such-bucket: no such bucket")
	_, err = src.Trigger("")
	require.Error(t, err)
}
