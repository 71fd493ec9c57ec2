package dlq_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
)

func openQueue(t *testing.T) *natsjs.Queue {
	t.Helper()
	b := brokertest.Embedded(t, t.TempDir())
	q, err := natsjs.Open(context.Background(), b, natsjs.Config{})
	require.NoError(t, err)
	return q
}

// put stores an entry of sync for message id with code.
func put(t *testing.T, s *dlq.Store, sync, id, code string) uint64 {
	t.Helper()
	e := sampleEntry()
	e.Sync, e.MessageID, e.Code = sync, id, code
	seq, err := s.Put(context.Background(), e)
	require.NoError(t, err)
	return seq
}

func seqs(items []dlq.Item) []uint64 {
	out := []uint64{}
	for _, it := range items {
		out = append(out, it.Seq)
	}
	return out
}

func TestPutIsDeduplicatedPerDelivery(t *testing.T) {
	t.Parallel()
	q := openQueue(t)
	s := dlq.NewStore(q)
	a := put(t, s, "counselors", "m1", "X")
	require.Equal(t, a, put(t, s, "counselors", "m1", "X"), "the same delivery dead-lettered twice is one entry")
	b := put(t, s, "rescues", "m1", "X")
	require.NotEqual(t, a, b, "the same record dead in two syncs is two entries")
	n, err := s.Count(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, uint64(2), n)

	// Headers carry the summary for tools.
	qe, err := q.DLQ().Get(context.Background(), a)
	require.NoError(t, err)
	require.Equal(t, map[string]string{dlq.HeaderSync: "counselors", dlq.HeaderReason: "permanent", dlq.HeaderCode: "X"}, qe.Headers)
	require.Equal(t, "dlq.counselors", qe.Subject)
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	q := openQueue(t)
	s := dlq.NewStore(q)
	ctx := context.Background()
	var all []uint64
	for i := range 12 {
		sync := []string{"counselors", "rescues"}[i%2]
		code := []string{"A", "B", "C"}[i%3]
		all = append(all, put(t, s, sync, fmt.Sprintf("m%d", i), code))
	}
	// A message in the DLQ that is not an entry (another tool, a newer
	// format) is listed with its error, not hidden.
	odd, err := q.DLQ().Put(ctx, queue.Message{Subject: "dlq.counselors", ID: "odd", Data: []byte("not an entry")})
	require.NoError(t, err)

	items, next, err := s.List(ctx, dlq.Filter{}, 0, 100)
	require.NoError(t, err)
	require.Zero(t, next)
	require.Equal(t, append(append([]uint64{}, all...), odd), seqs(items))
	require.Error(t, items[12].Err)
	require.Equal(t, "counselors", items[12].Sync())

	items, _, err = s.List(ctx, dlq.Filter{Sync: "rescues"}, 0, 100)
	require.NoError(t, err)
	require.Equal(t, []uint64{all[1], all[3], all[5], all[7], all[9], all[11]}, seqs(items))

	items, _, err = s.List(ctx, dlq.Filter{Sync: "counselors", Code: "A"}, 0, 100)
	require.NoError(t, err)
	require.Equal(t, []uint64{all[0], all[6]}, seqs(items))

	items, _, err = s.List(ctx, dlq.Filter{Reason: dlq.ReasonMaxAttempts}, 0, 100)
	require.NoError(t, err)
	require.Empty(t, items)

	// Paging.
	page, next, err := s.List(ctx, dlq.Filter{}, 0, 5)
	require.NoError(t, err)
	require.Equal(t, all[:5], seqs(page))
	require.Equal(t, all[5], next)
	page, _, err = s.List(ctx, dlq.Filter{}, next, 5)
	require.NoError(t, err)
	require.Equal(t, all[5:10], seqs(page))

	// By sequence.
	items, _, err = s.List(ctx, dlq.Filter{Seqs: []uint64{all[3], all[1], 999}}, 0, 100)
	require.NoError(t, err)
	require.Equal(t, []uint64{all[1], all[3]}, seqs(items))

	// By time: stored times come from the broker.
	first, err := s.Get(ctx, all[0])
	require.NoError(t, err)
	items, _, err = s.List(ctx, dlq.Filter{Until: first.Stored}, 0, 100)
	require.NoError(t, err)
	require.Empty(t, items, "until is exclusive")
	items, _, err = s.List(ctx, dlq.Filter{Since: first.Stored, Until: first.Stored.Add(time.Nanosecond)}, 0, 100)
	require.NoError(t, err)
	require.Contains(t, seqs(items), all[0])
	items, _, err = s.List(ctx, dlq.Filter{Since: time.Now().Add(time.Hour)}, 0, 100)
	require.NoError(t, err)
	require.Empty(t, items)

	_, _, err = s.List(ctx, dlq.Filter{Sync: "bad name!"}, 0, 10)
	require.ErrorContains(t, err, "sync")
	_, _, err = s.List(ctx, dlq.Filter{Since: time.Now(), Until: time.Now().Add(-time.Hour)}, 0, 10)
	require.ErrorContains(t, err, "before until")
}

func TestDropAndGet(t *testing.T) {
	t.Parallel()
	q := openQueue(t)
	s := dlq.NewStore(q)
	ctx := context.Background()
	seq := put(t, s, "counselors", "m1", "A")
	it, err := s.Get(ctx, seq)
	require.NoError(t, err)
	require.NoError(t, it.Err)
	require.Equal(t, "counselors", it.Entry.Sync)
	require.False(t, it.Stored.IsZero())

	require.NoError(t, s.Drop(ctx, seq))
	_, err = s.Get(ctx, seq)
	require.ErrorIs(t, err, queue.ErrNotFound)
	require.ErrorIs(t, s.Drop(ctx, seq), queue.ErrNotFound)
}

func TestReplayRepublishesWithAFreshIDForTheEntrysSync(t *testing.T) {
	t.Parallel()
	q := openQueue(t)
	s := dlq.NewStore(q)
	ctx := context.Background()
	e := sampleEntry()
	cons, err := q.Consumer(ctx, queue.ConsumerConfig{Name: e.Sync, Subject: "in.platform_db.>"})
	require.NoError(t, err)
	// The original was published (and delivered) once: its ID is in the
	// broker's deduplication window.
	require.NoError(t, q.Publish(ctx, queue.Message{Subject: e.Subject, ID: e.MessageID, Data: e.Raw}))
	ds, err := cons.Fetch(ctx, 1, time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.NoError(t, ds[0].Ack(ctx))

	seq, err := s.Put(ctx, e)
	require.NoError(t, err)
	r, err := s.Replay(ctx, seq)
	require.NoError(t, err)
	require.Equal(t, dlq.Replayed{Seq: seq, Sync: e.Sync, Subject: e.Subject, MessageID: dlq.ReplayID(seq, e.MessageID)}, r)

	ds, err = cons.Fetch(ctx, 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1, "the replay was not taken for a duplicate")
	got := ds[0]
	require.Equal(t, e.Raw, got.Data())
	require.Equal(t, r.MessageID, got.ID())
	h := got.Headers()
	require.Equal(t, e.Sync, h[dlq.HeaderReplayFor])
	require.Equal(t, fmt.Sprint(seq), h[dlq.HeaderReplayOf])
	require.Equal(t, "00-abc-def-01", h["Traceparent"], "the original headers go along")
	require.Equal(t, 1, got.Attempt(), "a fresh message: a fresh count")
	require.NoError(t, got.Ack(ctx))

	_, err = s.Get(ctx, seq)
	require.ErrorIs(t, err, queue.ErrNotFound, "the entry is deleted once the replay is stored")
}

func TestReplayKeepsEntriesItCannotReplay(t *testing.T) {
	t.Parallel()
	q := openQueue(t)
	s := dlq.NewStore(q)
	ctx := context.Background()
	seq := put(t, s, "gone", "m1", "A")
	_, err := s.Replay(ctx, seq)
	require.ErrorIs(t, err, dlq.ErrNoConsumer)
	_, err = s.Get(ctx, seq)
	require.NoError(t, err, "kept")

	odd, err := q.DLQ().Put(ctx, queue.Message{Subject: "dlq.gone", ID: "odd", Data: []byte("not an entry")})
	require.NoError(t, err)
	_, err = s.Replay(ctx, odd)
	require.ErrorContains(t, err, "cannot be read")
}
