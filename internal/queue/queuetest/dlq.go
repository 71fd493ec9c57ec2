package queuetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

func testDLQ(t *testing.T, h Harness) {
	ctx := context.Background()
	dlq := h.Queue.DLQ()
	before := time.Now()
	e1 := queue.Message{Subject: "dlq.sync1", ID: "sync1/in.a.b#1", Data: []byte("record 1"),
		Headers: map[string]string{"sfbridge-reason": "INVALID_FIELD: Email", "sfbridge-attempts": "10"}}
	e2 := queue.Message{Subject: "dlq.sync2", ID: "sync2/in.a.b#1", Data: []byte("record 1")}
	e3 := queue.Message{Subject: "dlq.sync1", ID: "sync1/in.a.b#2", Data: []byte("record 2")}

	var seqs []uint64
	for _, e := range []queue.Message{e1, e2, e3} {
		seq, err := dlq.Put(ctx, e)
		require.NoError(t, err)
		seqs = append(seqs, seq)
	}
	require.Less(t, seqs[0], seqs[1])
	require.Less(t, seqs[1], seqs[2])

	// Putting an entry again (a crash between Put and Ack) stores it once.
	seq, err := dlq.Put(ctx, e1)
	require.NoError(t, err)
	require.Equal(t, seqs[0], seq)
	requireCount(t, dlq, "", 3)

	got, err := dlq.Get(ctx, seqs[0])
	require.NoError(t, err)
	require.Equal(t, e1, got.Message)
	require.Equal(t, seqs[0], got.Seq)
	require.WithinRange(t, got.Stored, before.Add(-time.Minute), time.Now().Add(time.Minute))

	page, err := dlq.List(ctx, queue.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, seqs, entrySeqs(page.Entries))
	require.Zero(t, page.Next)
	require.Equal(t, []queue.Message{e1, e2, e3}, entryMessages(page.Entries))

	page, err = dlq.List(ctx, queue.ListOptions{Subject: "dlq.sync1"})
	require.NoError(t, err)
	require.Equal(t, []queue.Message{e1, e3}, entryMessages(page.Entries))
	requireCount(t, dlq, "dlq.sync1", 2)
	requireCount(t, dlq, "dlq.*", 3)
	requireCount(t, dlq, "dlq.none", 0)

	require.NoError(t, dlq.Delete(ctx, seqs[0]))
	_, err = dlq.Get(ctx, seqs[0])
	require.ErrorIs(t, err, queue.ErrNotFound)
	require.ErrorIs(t, dlq.Delete(ctx, seqs[0]), queue.ErrNotFound)
	require.ErrorIs(t, dlq.Delete(ctx, seqs[2]+1000), queue.ErrNotFound)
	_, err = dlq.Get(ctx, seqs[2]+1000)
	require.ErrorIs(t, err, queue.ErrNotFound)

	page, err = dlq.List(ctx, queue.ListOptions{Subject: "dlq.sync1"})
	require.NoError(t, err)
	require.Equal(t, []queue.Message{e3}, entryMessages(page.Entries))
	requireCount(t, dlq, "", 2)
}

func testDLQPaging(t *testing.T, h Harness) {
	ctx := context.Background()
	dlq := h.Queue.DLQ()
	var wantA []uint64
	for i := range 25 {
		subject := "dlq.a"
		if i%2 == 1 {
			subject = "dlq.b"
		}
		seq, err := dlq.Put(ctx, queue.Message{Subject: subject, ID: fmt.Sprint(i), Data: []byte{byte(i)}})
		require.NoError(t, err)
		if subject == "dlq.a" {
			wantA = append(wantA, seq)
		}
	}
	require.Len(t, wantA, 13)

	var gotA []uint64
	opts := queue.ListOptions{Subject: "dlq.a", Limit: 4}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "paging does not end")
		page, err := dlq.List(ctx, opts)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Entries), 4)
		if len(page.Entries) == 4 {
			require.NotZero(t, page.Next, "a full page has a next")
		}
		for _, e := range page.Entries {
			require.Equal(t, "dlq.a", e.Subject)
		}
		gotA = append(gotA, entrySeqs(page.Entries)...)
		if page.Next == 0 {
			break
		}
		opts.From = page.Next
	}
	require.Equal(t, wantA, gotA)

	// From starts at a sequence, inclusive; the default limit is at least 25.
	page, err := dlq.List(ctx, queue.ListOptions{From: wantA[5]})
	require.NoError(t, err)
	require.Len(t, page.Entries, 25-10)
	require.Equal(t, wantA[5], page.Entries[0].Seq)
	require.Zero(t, page.Next)
}

func testDLQRejectsInvalid(t *testing.T, h Harness) {
	ctx := context.Background()
	dlq := h.Queue.DLQ()
	for _, bad := range []struct {
		msg    queue.Message
		errHas string
	}{
		{queue.Message{Subject: "in.a.b", ID: "1"}, `not under "dlq."`},
		{queue.Message{Subject: "dlq.>", ID: "1"}, "wildcard"},
		{queue.Message{Subject: "dlq.s"}, "no ID"},
		{queue.Message{Subject: "dlq.s", ID: "1", Headers: map[string]string{"nats-expected-stream": "x"}}, "reserved"},
	} {
		_, err := dlq.Put(ctx, bad.msg)
		require.ErrorContains(t, err, bad.errHas, "%+v", bad.msg)
	}
	_, err := dlq.List(ctx, queue.ListOptions{Subject: "in.>"})
	require.ErrorContains(t, err, `not under "dlq."`)
	_, err = dlq.List(ctx, queue.ListOptions{Limit: -1})
	require.ErrorContains(t, err, "limit")
	_, err = dlq.Count(ctx, "dlq.a b")
	require.ErrorContains(t, err, "forbidden character")
	requireCount(t, dlq, "", 0)
}

func requireCount(t *testing.T, dlq queue.DLQ, subject string, want uint64) {
	t.Helper()
	n, err := dlq.Count(context.Background(), subject)
	require.NoError(t, err)
	require.Equal(t, want, n, "count of %q", subject)
}

func entrySeqs(es []queue.Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// entryMessages returns the entries' messages, with nil headers where the
// entry has none (as they were put).
func entryMessages(es []queue.Entry) []queue.Message {
	out := make([]queue.Message, len(es))
	for i, e := range es {
		out[i] = e.Message
		if len(out[i].Headers) == 0 {
			out[i].Headers = nil
		}
	}
	return out
}
