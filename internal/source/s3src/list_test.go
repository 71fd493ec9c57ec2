package s3src

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Scheduled runs list after the last key processed (StartAfter), so they
// read only new keys; a key that sorts below one already processed is
// invisible to them and is found by the periodic full listing.
func TestStartAfterAndFullListing(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(o *Options) {
		o.Config.Every = 100 * time.Millisecond
		o.FullListEvery = 5
	})
	b.s3.put(t, "in/b.ndjson", ndjson(ev("b1", "order")))
	b.start(t)
	require.Equal(t, []string{"b1"}, eventIDs(b.drain(t, 1)))
	eventually(t, "an incremental run after b", func() bool {
		return b.src.Stats().Listings >= 2
	})
	b.s3.put(t, "in/a.ndjson", ndjson(ev("a1", "order"))) // below b
	b.s3.put(t, "in/c.ndjson", ndjson(ev("c1", "order"))) // above b
	require.Equal(t, []string{"a1", "c1"}, eventIDs(b.drain(t, 2)))

	// Every list request is either a full listing (no start-after) or
	// starts after the highest key done then; a was read only after a
	// full listing, c by an incremental one.
	var lastList request
	var readA, readC request
	for _, r := range b.s3.requests() {
		switch {
		case r.Key == "":
			lastList = r
		case r.Key == "in/a.ndjson" && readA.Method == "":
			readA = lastList
		case r.Key == "in/c.ndjson" && readC.Method == "":
			readC = lastList
		}
	}
	require.False(t, readA.Query.Has("start-after"), "a was found by a full listing: %v", readA.Query)
	if readC.Query.Has("start-after") { // unless a full listing came first
		require.Equal(t, "in/b.ndjson", readC.Query.Get("start-after"))
	}
	sawIncremental := false
	for _, r := range b.s3.requests() {
		if r.Key == "" && r.Query.Get("start-after") == "in/b.ndjson" {
			sawIncremental = true
		}
	}
	require.True(t, sawIncremental, "runs after b listed with start-after=in/b.ndjson")
	st := b.src.Stats()
	require.GreaterOrEqual(t, st.FullListings, int64(2))
	require.Less(t, st.FullListings, st.Listings)
	require.Equal(t, 1, b.s3.gets("in/b.ndjson"), "b is read once")
}
