package queuetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

func testNackDelayRedelivers(t *testing.T, h Harness) {
	ctx := context.Background()
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>"})
	sent := msg("in.a.b", 0)
	publish(t, h.Queue, sent)

	d := fetchOne(t, c)
	require.Equal(t, 1, d.Attempt())
	const delay = 1500 * time.Millisecond
	nacked := time.Now()
	require.NoError(t, d.Nack(ctx, delay))

	// Not before the delay (the server received the nack before this fetch).
	expectNone(t, c, 300*time.Millisecond)

	again := fetchOne(t, c)
	require.GreaterOrEqual(t, time.Since(nacked), delay, "redelivered before the nack delay")
	require.Equal(t, sent.ID, again.ID())
	require.Equal(t, string(sent.Data), string(again.Data()))
	require.Equal(t, 2, again.Attempt())

	// Nack without delay: at once, and counted.
	require.NoError(t, again.Nack(ctx, 0))
	third := fetchOne(t, c)
	require.Equal(t, 3, third.Attempt())
	require.NoError(t, third.Ack(ctx))
	expectNone(t, c, 300*time.Millisecond)

	// A negative delay is refused and leaves the delivery unsettled.
	publish(t, h.Queue, msg("in.a.b", 1))
	d = fetchOne(t, c)
	require.ErrorContains(t, d.Nack(ctx, -time.Second), "negative")
	require.NoError(t, d.Ack(ctx))
}

func testAckWaitRedelivers(t *testing.T, h Harness) {
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>", AckWait: 500 * time.Millisecond})
	publish(t, h.Queue, msg("in.a.b", 0))
	first := fetchOne(t, c)
	// Left unsettled: back after the ack wait, counted.
	again := fetchOne(t, c)
	require.Equal(t, first.ID(), again.ID())
	require.Equal(t, 2, again.Attempt())
	require.NoError(t, again.Ack(context.Background()))
	expectNone(t, c, time.Second)
}

func testInProgressExtendsAckWait(t *testing.T, h Harness) {
	const ackWait = 2 * time.Second
	cfg := queue.ConsumerConfig{Name: "sync1", Subject: "in.>", AckWait: ackWait}
	worker := consumer(t, h.Queue, cfg)
	watcher := consumer(t, h.Queue, cfg) // a second handle: it would receive a redelivery
	publish(t, h.Queue, msg("in.a.b", 0))
	d := fetchOne(t, worker)

	// Keep working for twice the ack wait, signalling progress.
	stop := make(chan struct{})
	progressErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(ackWait / 8)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				progressErr <- nil
				return
			case <-tick.C:
				if err := d.InProgress(context.Background()); err != nil {
					progressErr <- err
					return
				}
			}
		}
	})
	expectNone(t, watcher, 2*ackWait)
	close(stop)
	wg.Wait()
	require.NoError(t, <-progressErr)

	// Once progress stops, the ack wait runs out and the message comes back.
	again := fetchOne(t, watcher)
	require.Equal(t, d.ID(), again.ID())
	require.Equal(t, 2, again.Attempt())
	require.NoError(t, again.Ack(context.Background()))
}

func testAckAndTermAreFinal(t *testing.T, h Harness) {
	ctx := context.Background()
	const ackWait = 500 * time.Millisecond
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>", AckWait: ackWait})
	publish(t, h.Queue, msg("in.a.b", 0), msg("in.a.b", 1))
	ds := fetchN(t, c, 2)
	require.NoError(t, ds[0].Ack(ctx))
	require.NoError(t, ds[1].Term(ctx))
	// Neither comes back, even after several ack waits.
	expectNone(t, c, 3*ackWait)
}

func testSettleOnce(t *testing.T, h Harness) {
	ctx := context.Background()
	c := consumer(t, h.Queue, queue.ConsumerConfig{Name: "sync1", Subject: "in.>"})
	publish(t, h.Queue, msgs("in.a.b", 3)...)
	ds := fetchN(t, c, 3)

	require.NoError(t, ds[0].InProgress(ctx))
	require.NoError(t, ds[0].InProgress(ctx)) // any number of times before settling
	require.NoError(t, ds[0].Ack(ctx))
	require.NoError(t, ds[1].Nack(ctx, time.Hour))
	require.NoError(t, ds[2].Term(ctx))
	for i, d := range ds {
		require.ErrorIs(t, d.Ack(ctx), queue.ErrSettled, "#%d", i)
		require.ErrorIs(t, d.Nack(ctx, 0), queue.ErrSettled, "#%d", i)
		require.ErrorIs(t, d.Term(ctx), queue.ErrSettled, "#%d", i)
		require.ErrorIs(t, d.InProgress(ctx), queue.ErrSettled, "#%d", i)
	}
	// The hour-long nack holds.
	expectNone(t, c, 300*time.Millisecond)
}
