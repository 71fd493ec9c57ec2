package queuetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

func testPublishAndConsume(t *testing.T, h Harness) {
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.db.>"})
	before := time.Now()
	sent := []queue.Message{
		{Subject: "in.db.public.users", ID: "u-1", Data: []byte(`{"id":1}`),
			Headers: map[string]string{"Content-Type": "application/json", "sfbridge-version": "42"}},
		{Subject: "in.db.public.users", ID: "u-2", Data: []byte{0, 1, 2, 0xff}},
		{Subject: "in.db.orders", ID: "o-1", Data: nil},
	}
	publish(t, h.Queue, sent...)

	got := fetchN(t, c, len(sent))
	for i, d := range got {
		want := sent[i]
		require.Equal(t, want.Subject, d.Subject(), "#%d", i)
		require.Equal(t, want.ID, d.ID(), "#%d", i)
		require.True(t, bytes.Equal(want.Data, d.Data()), "#%d data %q, want %q", i, d.Data(), want.Data)
		wantHeaders := want.Headers
		if wantHeaders == nil {
			wantHeaders = map[string]string{}
		}
		require.Equal(t, wantHeaders, d.Headers(), "#%d", i)
		require.Equal(t, 1, d.Attempt(), "#%d", i)
		require.WithinRange(t, d.Published(), before.Add(-time.Minute), time.Now().Add(time.Minute), "#%d", i)
	}
	// Headers returns a copy.
	got[0].Headers()["Content-Type"] = "changed"
	require.Equal(t, "application/json", got[0].Headers()["Content-Type"])

	ackAll(t, got)
	expectNone(t, c, 300*time.Millisecond)
}

func testPublishRejectsInvalid(t *testing.T, h Harness) {
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>"})
	ctx := context.Background()
	good := msg("in.a.b", 0)
	tests := []struct {
		name   string
		bad    queue.Message
		errHas string
	}{
		{"outside in", queue.Message{Subject: "dlq.x", ID: "1"}, `not under "in."`},
		{"wildcard", queue.Message{Subject: "in.a.*", ID: "1"}, "wildcard"},
		{"no id", queue.Message{Subject: "in.a.b"}, "no ID"},
		{"reserved header", queue.Message{Subject: "in.a.b", ID: "1", Headers: map[string]string{"Nats-Msg-Id": "x"}}, "reserved"},
	}
	for _, tt := range tests {
		err := h.Queue.Publish(ctx, good, tt.bad)
		require.ErrorContains(t, err, "#1", tt.name)
		require.ErrorContains(t, err, tt.errHas, tt.name)
	}
	// Validation happens before anything is sent.
	expectNone(t, c, 300*time.Millisecond)
	require.NoError(t, h.Queue.Publish(ctx)) // nothing to publish is fine
}

func testOversizedMessageFailsAlone(t *testing.T, h Harness) {
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>"})
	max := h.Queue.MaxMessageSize()
	require.Positive(t, max)
	big := msg("in.a.big", 1)
	big.Data = make([]byte, max+1)
	sent := []queue.Message{msg("in.a.ok", 0), big, msg("in.a.ok", 2)}

	err := h.Queue.Publish(context.Background(), sent...)
	var be *queue.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, []int{1}, be.Failed())
	require.ErrorContains(t, err, "#1 (in.a.big)")

	got := fetchN(t, c, 2)
	require.Equal(t, []string{sent[0].ID, sent[2].ID}, ids(got))
	ackAll(t, got)
}

func testDeduplication(t *testing.T, h Harness) {
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>"})
	first := queue.Message{Subject: "in.a.b", ID: "same", Data: []byte("first")}
	again := queue.Message{Subject: "in.a.b", ID: "same", Data: []byte("second")}
	other := queue.Message{Subject: "in.a.b", ID: "other", Data: []byte("first")}

	// Within one batch and across batches, a known ID counts as stored.
	publish(t, h.Queue, first, other, again)
	publish(t, h.Queue, again)

	got := fetchN(t, c, 2)
	require.Equal(t, []string{"same", "other"}, ids(got))
	require.Equal(t, "first", string(got[0].Data()))
	ackAll(t, got)
	expectNone(t, c, 300*time.Millisecond)

	// Still a duplicate after the first copy was consumed.
	publish(t, h.Queue, again)
	expectNone(t, c, 300*time.Millisecond)

	// NoDedup: stored every time, the ID known to the consumer and not
	// remembered by the broker (a later message with dedup is stored too).
	loose := queue.Message{Subject: "in.a.b", ID: "loose", Data: []byte("1"), NoDedup: true, Headers: map[string]string{"K": "v"}}
	publish(t, h.Queue, loose, loose)
	publish(t, h.Queue, queue.Message{Subject: "in.a.b", ID: "loose", Data: []byte("2")})
	got = fetchN(t, c, 3)
	require.Equal(t, []string{"loose", "loose", "loose"}, ids(got))
	require.Equal(t, map[string]string{"K": "v"}, got[0].Headers(), "the ID's header is not a user header")
	require.Equal(t, "2", string(got[2].Data()))
	ackAll(t, got)
}

func testOrderWithinSubject(t *testing.T, h Harness) {
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.order.>"})
	subjects := []string{"in.order.a", "in.order.b", "in.order.c"}
	const perSubject = 150
	var sent []queue.Message
	for i := range perSubject {
		for _, s := range subjects {
			sent = append(sent, msg(s, i))
		}
	}
	// Several Publish calls of uneven sizes.
	publish(t, h.Queue, sent[:7]...)
	publish(t, h.Queue, sent[7:300]...)
	publish(t, h.Queue, sent[300:]...)

	next := map[string]int{}
	for received := 0; received < len(sent); {
		ds := fetchN(t, c, min(50, len(sent)-received))
		for _, d := range ds {
			want := fmt.Sprintf("%s#%d", d.Subject(), next[d.Subject()])
			require.Equal(t, want, d.ID(), "out of order on %s", d.Subject())
			next[d.Subject()]++
			require.NoError(t, d.Ack(context.Background()))
		}
		received += len(ds)
	}
	for _, s := range subjects {
		require.Equal(t, perSubject, next[s], s)
	}
}

func testFilterAndFanOut(t *testing.T, h Harness) {
	all := consumer(t, h.Queue, queue.ConsumerConfig{Name: "all", Subject: "in.>"})
	srcA := consumer(t, h.Queue, queue.ConsumerConfig{Name: "srcA", Subject: "in.a.>"})
	usersAnywhere := consumer(t, h.Queue, queue.ConsumerConfig{Name: "users", Subject: "in.*.users"})

	a1 := msg("in.a.users", 1)
	a2 := msg("in.a.orders", 2)
	b1 := msg("in.b.users", 3)
	b2 := msg("in.b.orders", 4)
	publish(t, h.Queue, a1, a2, b1, b2)

	// Each consumer gets every matching message, whatever the others do.
	gotA := fetchN(t, srcA, 2)
	require.Equal(t, []string{a1.ID, a2.ID}, ids(gotA))
	ackAll(t, gotA)
	expectNone(t, srcA, 300*time.Millisecond)

	gotUsers := fetchN(t, usersAnywhere, 2)
	require.Equal(t, []string{a1.ID, b1.ID}, ids(gotUsers))
	ackAll(t, gotUsers)

	gotAll := fetchN(t, all, 4)
	require.Equal(t, []string{a1.ID, a2.ID, b1.ID, b2.ID}, ids(gotAll))
	ackAll(t, gotAll)
	expectNone(t, all, 300*time.Millisecond)
	expectNone(t, usersAnywhere, 10*time.Millisecond)
}

func testConcurrentHandlesShareDurable(t *testing.T, h Harness) {
	cfg := queue.ConsumerConfig{Name: "shared", Subject: "in.>"}
	handles := []queue.Consumer{consumer(t, h.Queue, cfg), consumer(t, h.Queue, cfg)}
	const n = 400
	sent := msgs("in.share.x", n)
	publish(t, h.Queue, sent...)

	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		total   int
		perWork = make([]int, len(handles))
		errs    = make(chan error, len(handles))
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w, c := range handles {
		wg.Go(func() {
			for {
				mu.Lock()
				done := total >= n
				mu.Unlock()
				if done {
					errs <- nil
					return
				}
				ds, err := c.Fetch(ctx, 25, 200*time.Millisecond)
				if err != nil {
					errs <- err
					return
				}
				for _, d := range ds {
					if err := d.Ack(ctx); err != nil {
						errs <- err
						return
					}
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID()]++
				}
				total += len(ds)
				perWork[w] += len(ds)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, n, total, "deliveries across both handles")
	require.Len(t, seen, n)
	for id, k := range seen {
		require.Equal(t, 1, k, "%s delivered %d times", id, k)
	}
	t.Logf("deliveries per handle: %v", perWork)
	expectNone(t, handles[0], 300*time.Millisecond)
}

func testConsumerLifecycle(t *testing.T, h Harness) {
	ctx := context.Background()
	q := h.Queue
	cfg := queue.ConsumerConfig{Name: "b-sync", Subject: "in.x.>", AckWait: 5 * time.Second, MaxInFlight: 10}
	consumer(t, q, cfg)
	consumer(t, q, cfg) // the same again: harmless
	consumer(t, q, queue.ConsumerConfig{Name: "a-sync", Subject: "in.y.>"})

	names, err := q.ConsumerNames(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a-sync", "b-sync"}, names)

	// A changed ack wait is an update, not an error.
	cfg.AckWait = 7 * time.Second
	consumer(t, q, cfg)

	require.NoError(t, q.DeleteConsumer(ctx, "b-sync"))
	names, err = q.ConsumerNames(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a-sync"}, names)
	require.ErrorIs(t, q.DeleteConsumer(ctx, "b-sync"), queue.ErrNotFound)

	for _, bad := range []struct {
		cfg    queue.ConsumerConfig
		errHas string
	}{
		{queue.ConsumerConfig{Name: "a.b", Subject: "in.>"}, `name "a.b"`},
		{queue.ConsumerConfig{Name: "", Subject: "in.>"}, "name is empty"},
		{queue.ConsumerConfig{Name: "x", Subject: "dlq.>"}, `not under "in."`},
		{queue.ConsumerConfig{Name: "x", Subject: ""}, "subject is empty"},
		{queue.ConsumerConfig{Name: "x", Subject: "in.>", AckWait: -time.Second}, "AckWait"},
		{queue.ConsumerConfig{Name: "x", Subject: "in.>", MaxInFlight: -1}, "MaxInFlight"},
	} {
		_, err := q.Consumer(ctx, bad.cfg)
		require.ErrorContains(t, err, bad.errHas, "%+v", bad.cfg)
	}
	require.ErrorContains(t, q.DeleteConsumer(ctx, "a b"), `name "a b"`)
}

func testStats(t *testing.T, h Harness) {
	ctx := context.Background()
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>"})
	// backlog drops the positions, which depend on what the stream held before.
	backlog := func(s queue.ConsumerStats) queue.ConsumerStats {
		return queue.ConsumerStats{Pending: s.Pending, InFlight: s.InFlight, Redelivered: s.Redelivered}
	}
	st, err := c.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, queue.ConsumerStats{}, backlog(st))
	require.Equal(t, st.AckFloor, st.Delivered, "nothing delivered yet")

	publish(t, h.Queue, msgs("in.s.x", 5)...)
	got := fetchN(t, c, 2)
	// The broker counts a consumer's pending messages as it gets to them: under
	// load the figure can lag the publish for a moment.
	require.Eventually(t, func() bool {
		st, err = c.Stats(ctx)
		return err == nil && backlog(st) == queue.ConsumerStats{Pending: 3, InFlight: 2}
	}, 5*time.Second, 10*time.Millisecond, "last stats: %+v, %v", st, err)
	// Two delivered, none settled: the ack floor is below the last delivered,
	// and the newest stored message is three further on.
	require.Less(t, st.AckFloor, st.Delivered, "%+v", st)
	last, err := h.Queue.LastPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, st.Delivered+3, last, "%+v", st)
	firstDelivered := st.Delivered

	require.NoError(t, got[0].Nack(ctx, 0))
	require.NoError(t, got[1].Ack(ctx))
	// The rest and the nacked one (whose place among them is the broker's).
	rest := fetchN(t, c, 4)
	attempts := map[string]int{}
	for _, d := range rest {
		attempts[d.ID()] = d.Attempt()
	}
	require.Equal(t, map[string]int{"in.s.x#0": 2, "in.s.x#2": 1, "in.s.x#3": 1, "in.s.x#4": 1}, attempts)
	// Delivery numbers run 1…6 without gaps, redelivery included; queue
	// positions follow the publish order, and a redelivery keeps its own.
	var cons []uint64
	pos := map[string]uint64{}
	for _, d := range append(slices.Clone(got), rest...) {
		sp, cp := d.Sequence()
		cons = append(cons, cp)
		if p, ok := pos[d.ID()]; ok {
			require.Equal(t, p, sp, "a redelivery is the same message")
		}
		pos[d.ID()] = sp
	}
	require.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, cons)
	require.Eventually(t, func() bool {
		st, err = c.Stats(ctx)
		return err == nil && st.Deliveries == 6
	}, 10*time.Second, 20*time.Millisecond, "the consumer counts the six deliveries: %+v, %v", st, err)
	for i := 1; i < 5; i++ {
		require.Less(t, pos[fmt.Sprintf("in.s.x#%d", i-1)], pos[fmt.Sprintf("in.s.x#%d", i)])
	}
	require.Equal(t, firstDelivered, pos["in.s.x#1"])
	require.Eventually(t, func() bool {
		st, err = c.Stats(ctx)
		return err == nil && backlog(st) == queue.ConsumerStats{Pending: 0, InFlight: 4, Redelivered: 1}
	}, 10*time.Second, 20*time.Millisecond, "stats %+v, err %v", st, err)
	// The nacked first message holds the ack floor below where it was
	// delivered, although a later one was acked.
	require.Equal(t, firstDelivered+3, st.Delivered, "%+v", st)
	require.Less(t, st.AckFloor, firstDelivered, "%+v", st)
	ackAll(t, rest)
	require.Eventually(t, func() bool {
		st, err = c.Stats(ctx)
		return err == nil && backlog(st) == queue.ConsumerStats{} && st.AckFloor == st.Delivered
	}, 10*time.Second, 20*time.Millisecond, "stats %+v, err %v", st, err)
	require.Equal(t, firstDelivered+3, st.AckFloor, "every message settled: the floor reaches the last delivered")
}

func testContextCancellation(t *testing.T, h Harness) {
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>"})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	err := h.Queue.Publish(cancelled, msg("in.a.b", 0), msg("in.a.b", 1))
	require.ErrorIs(t, err, context.Canceled)
	var be *queue.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, []int{0, 1}, be.Failed())
	_, err = h.Queue.Consumer(cancelled, queue.ConsumerConfig{Name: "sync2", Subject: "in.>"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = c.Fetch(cancelled, 1, time.Second)
	require.ErrorIs(t, err, context.Canceled)
	_, err = c.Stats(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	_, err = h.Queue.DLQ().Put(cancelled, queue.Message{Subject: "dlq.s", ID: "1"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = h.Queue.DLQ().List(cancelled, queue.ListOptions{})
	require.ErrorIs(t, err, context.Canceled)

	// A fetch blocked waiting for messages returns when its context ends,
	// long before its maxWait.
	ctx, cancelSoon := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancelSoon)
	_, err = c.Fetch(ctx, 10, time.Minute)
	require.ErrorIs(t, err, context.Canceled)

	// A deadline shorter than maxWait bounds the fetch without an error.
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	ds, err := c.Fetch(short, 10, time.Minute)
	if err != nil {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.Empty(t, ds)

	// Settling with a dead context fails and leaves the delivery unsettled.
	publish(t, h.Queue, msg("in.a.b", 1))
	d := fetchOne(t, c)
	require.ErrorIs(t, d.Ack(cancelled), context.Canceled)
	require.ErrorIs(t, d.Nack(cancelled, 0), context.Canceled)
	require.ErrorIs(t, d.Term(cancelled), context.Canceled)
	require.ErrorIs(t, d.InProgress(cancelled), context.Canceled)
	require.NoError(t, d.Ack(context.Background()))
	expectNone(t, c, 300*time.Millisecond)
	require.ErrorIs(t, d.Ack(context.Background()), queue.ErrSettled)
}
