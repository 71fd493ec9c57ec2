package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

func testRestartKeepsMessages(t *testing.T, h Harness) {
	if h.Restart == nil {
		t.Skipf("cannot restart this broker: %s", h.NoRestart)
	}
	ctx := context.Background()
	cfg := queue.ConsumerConfig{Name: "sync1", Subject: "in.>", AckWait: 30 * time.Second}
	c := consumer(t, h.Queue, cfg)
	sent := msgs("in.db.t", 50)
	publish(t, h.Queue, sent...)
	entry := queue.Message{Subject: "dlq.sync1", ID: "dead-1", Data: []byte("dead"), Headers: map[string]string{"reason": "x"}}
	seq, err := h.Queue.DLQ().Put(ctx, entry)
	require.NoError(t, err)

	ackAll(t, fetchN(t, c, 20))
	// The broker has processed the acks before it stops (acks may be
	// fire-and-forget; an ack in flight at a crash means a redelivery).
	require.Eventually(t, func() bool {
		st, err := c.Stats(ctx)
		return err == nil && st.InFlight == 0 && st.Pending == 30
	}, 10*time.Second, 20*time.Millisecond)

	q := restart(t, h)

	// Publishing a message again after the restart (a source re-reading from
	// its last checkpoint) does not store it twice.
	publish(t, q, sent[45:]...)

	c = consumer(t, q, cfg)
	got := fetchN(t, c, 30)
	require.Equal(t, msgIDs(sent[20:]), ids(got))
	for i, d := range got {
		require.Equal(t, string(sent[20+i].Data), string(d.Data()))
		require.Equal(t, 1, d.Attempt())
	}
	ackAll(t, got)
	expectNone(t, c, 300*time.Millisecond)

	e, err := q.DLQ().Get(ctx, seq)
	require.NoError(t, err)
	require.Equal(t, entry, e.Message)
}

func testRestartKeepsAttempts(t *testing.T, h Harness) {
	if h.Restart == nil {
		t.Skipf("cannot restart this broker: %s", h.NoRestart)
	}
	ctx := context.Background()
	cfg := queue.ConsumerConfig{Name: "sync1", Subject: "in.>", AckWait: time.Second}
	c := consumer(t, h.Queue, cfg)
	publish(t, h.Queue, msg("in.a.b", 0))

	d := fetchOne(t, c)
	require.Equal(t, 1, d.Attempt())
	require.NoError(t, d.Nack(ctx, 0))
	d = fetchOne(t, c)
	require.Equal(t, 2, d.Attempt())
	// Left unsettled across the restart: it comes back after the ack wait.

	q := restart(t, h)
	c = consumer(t, q, cfg)
	d = fetchOne(t, c)
	require.Equal(t, 3, d.Attempt())
	require.NoError(t, d.Nack(ctx, 0))
	d = fetchOne(t, c)
	require.Equal(t, 4, d.Attempt())
	require.NoError(t, d.Ack(ctx))
}
