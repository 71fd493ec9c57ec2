package s3src

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
)

// mark: move copies each processed object under processed_prefix (keeping
// its key) and deletes it. With the prefix "" the processed and quarantine
// prefixes lie inside the listed one: their objects are never read, and
// the listing jumps past them.
func TestMarkMove(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) {
		o.Config.Mark = config.MarkMove
		o.Config.Prefix = ""
	})
	objects := map[string][]byte{
		"a.ndjson":           ndjson(ev("a1", "order")),
		"sub/b.csv":          []byte("id,type,time\nb1,order,2024-05-01T12:00:00Z\n"),
		"weird key +&=.json": []byte(ev("w1", "order")),
		"z.ndjson":           ndjson(ev("z1", "order")),
	}
	for k, v := range objects {
		b.s3.put(t, k, v)
	}
	// Already processed and quarantined objects from earlier.
	b.s3.put(t, "sfbridge/processed/old.ndjson", ndjson(ev("old", "order")))
	b.s3.put(t, "sfbridge/quarantine/bad.ndjson", []byte("garbage"))
	b.start(t)

	require.Equal(t, []string{"a1", "b1", "w1", "z1"}, eventIDs(b.drain(t, 4)))
	for k, v := range objects {
		_, still := b.s3.get(t, k)
		require.False(t, still, "%s is moved away", k)
		moved, ok := b.s3.get(t, "sfbridge/processed/"+k)
		require.True(t, ok, "%s is under processed/", k)
		require.Equal(t, v, moved)
		_, has := b.checkpoint(t, k)
		require.False(t, has, "the checkpoint of %s is dropped once it is moved", k)
	}
	b.rerun(t)
	b.noMore(t)
	for _, r := range b.s3.requests() {
		if r.Method == http.MethodGet {
			require.False(t, strings.HasPrefix(r.Key, "sfbridge/"), "read %s", r.Key)
		}
	}
	// The listing stepped over each skipped prefix with one request.
	var jumps []string
	for _, r := range b.s3.requests() {
		if r.Key == "" && r.Query.Has("start-after") {
			jumps = append(jumps, r.Query.Get("start-after"))
		}
	}
	require.Contains(t, jumps, "sfbridge/processed/"+skipPastSuffix)
	require.Contains(t, jumps, "sfbridge/quarantine/"+skipPastSuffix)
	require.Equal(t, int64(4), b.src.Stats().Objects)
}

// mark: tag adds sfbridge-processed=<time> to each processed object,
// keeping its other tags; an object that carries the tag already is not
// read; the state caches the tag, so a later run does not ask S3 again.
func TestMarkTag(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) { o.Config.Mark = config.MarkTag })
	ctx := context.Background()
	b.s3.put(t, "in/a.ndjson", ndjson(ev("a1", "order"), ev("a2", "order")))
	b.s3.put(t, "in/done.ndjson", ndjson(ev("d1", "order")))
	for key, tags := range map[string][]types.Tag{
		"in/a.ndjson":    {{Key: aws.String("team"), Value: aws.String("ops")}},
		"in/done.ndjson": {{Key: aws.String(TagKey), Value: aws.String("2024-04-01T00:00:00Z")}},
	} {
		_, err := b.s3.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String(testBucket), Key: aws.String(key), Tagging: &types.Tagging{TagSet: tags},
		})
		require.NoError(t, err)
	}
	b.start(t)

	require.Equal(t, []string{"a1", "a2"}, eventIDs(b.drain(t, 2)))
	require.Equal(t, map[string]string{"team": "ops", TagKey: "2024-05-01T12:30:00Z"}, b.s3.objectTags("in/a.ndjson"))
	require.Zero(t, b.s3.gets("in/done.ndjson"), "a tagged object is not read")
	for _, k := range []string{"in/a.ndjson", "in/done.ndjson"} {
		c, ok := b.checkpoint(t, k)
		require.True(t, ok, k)
		require.True(t, c.Marked && c.Complete, k)
		require.Equal(t, b.s3.etag(t, k), c.ETag)
		_, stays := b.s3.get(t, k)
		require.True(t, stays)
	}
	before := len(b.s3.requests())
	b.rerun(t)
	b.noMore(t)
	for _, r := range b.s3.requests()[before:] {
		require.Empty(t, r.Key, "the state knows both objects are tagged: %+v", r)
	}
	require.Equal(t, int64(1), b.src.Stats().Objects)
}

// An object overwritten with new content (a new ETag) is read again, under
// every mark; its events the broker already holds (same id, type and time)
// are not delivered twice.
func TestOverwrittenObjectReadAgain(t *testing.T) {
	t.Parallel()
	for _, mark := range []config.S3Mark{config.MarkState, config.MarkTag} {
		t.Run(string(mark), func(t *testing.T) {
			t.Parallel()
			b := setup(t, false, func(o *Options) { o.Config.Mark = mark })
			b.s3.put(t, "in/a.ndjson", ndjson(ev("e1", "order")))
			b.start(t)
			require.Equal(t, []string{"e1"}, eventIDs(b.drain(t, 1)))
			first, _ := b.checkpoint(t, "in/a.ndjson")

			b.s3.put(t, "in/a.ndjson", ndjson(ev("e1", "order"), ev("e2", "order")))
			b.rerun(t)
			require.Equal(t, []string{"e2"}, eventIDs(b.drain(t, 1)))
			second, ok := b.checkpoint(t, "in/a.ndjson")
			require.True(t, ok)
			require.NotEqual(t, first.ETag, second.ETag)
			require.Equal(t, b.s3.etag(t, "in/a.ndjson"), second.ETag)
			require.Equal(t, int64(2), second.Items)
			require.Equal(t, int64(2), b.src.Stats().Objects)
			require.Equal(t, 2, b.s3.gets("in/a.ndjson"))
		})
	}
}

// A full listing forgets the checkpoints of objects no longer in the
// bucket, so mark: state does not grow the state forever.
func TestFullListingForgetsDeletedObjects(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	b.s3.put(t, "in/a.ndjson", ndjson(ev("a1", "order")))
	b.s3.put(t, "in/b.ndjson", ndjson(ev("b1", "order")))
	b.start(t)
	b.drain(t, 2)
	_, err := b.s3.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String("in/a.ndjson")})
	require.NoError(t, err)
	b.rerun(t)
	_, ok := b.checkpoint(t, "in/a.ndjson")
	require.False(t, ok, "the deleted object's checkpoint is gone")
	_, ok = b.checkpoint(t, "in/b.ndjson")
	require.True(t, ok, "the other object's checkpoint stays")
	b.noMore(t)
}
