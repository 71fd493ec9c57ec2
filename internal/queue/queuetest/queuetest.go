// Package queuetest is the conformance suite of the queue seam: every
// queue.Queue adapter runs it (DESIGN.md §3). An adapter's test calls Run
// with a function that opens a fresh, isolated queue per subtest.
//
// The suite uses short ack waits and delays (0.5–2s) and waits on
// conditions with deadlines, never on sleeps. Its only assumptions about time
// are lower bounds the contract guarantees (a nacked message does not come
// back before its delay) and generous upper bounds on liveness (a message
// that must come back does so within 10s).
package queuetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// Harness is one isolated queue under test.
type Harness struct {
	// Queue is open on storage no other test uses.
	Queue queue.Queue
	// Restart stops the queue and the broker under it, starts the broker
	// again on the same storage and returns the queue opened on it. Nil when
	// the broker cannot be restarted from a test.
	Restart func(t *testing.T) queue.Queue
	// NoRestart says why Restart is nil (the skip message of restart tests).
	NoRestart string
}

// Run runs the suite. open is called once per subtest, from the subtest.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"PublishAndConsume", testPublishAndConsume},
		{"PublishRejectsInvalidMessages", testPublishRejectsInvalid},
		{"OversizedMessageFailsAlone", testOversizedMessageFailsAlone},
		{"Deduplication", testDeduplication},
		{"OrderWithinSubject", testOrderWithinSubject},
		{"FilterAndFanOut", testFilterAndFanOut},
		{"ConcurrentHandlesShareDurable", testConcurrentHandlesShareDurable},
		{"ConsumerLifecycle", testConsumerLifecycle},
		{"Stats", testStats},
		{"NackDelayRedelivers", testNackDelayRedelivers},
		{"AckWaitRedelivers", testAckWaitRedelivers},
		{"InProgressExtendsAckWait", testInProgressExtendsAckWait},
		{"AckAndTermAreFinal", testAckAndTermAreFinal},
		{"SettleOnce", testSettleOnce},
		{"ContextCancellation", testContextCancellation},
		{"DLQ", testDLQ},
		{"DLQPaging", testDLQPaging},
		{"DLQRejectsInvalid", testDLQRejectsInvalid},
		{"RestartKeepsMessagesAndPositions", testRestartKeepsMessages},
		{"RestartKeepsAttemptCount", testRestartKeepsAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// restart restarts h's broker; the caller has checked that it can.
func restart(t *testing.T, h Harness) queue.Queue {
	t.Helper()
	q := h.Restart(t)
	require.NotNil(t, q)
	return q
}

// msg builds a message whose ID and data derive from subject and i.
func msg(subject string, i int) queue.Message {
	return queue.Message{
		Subject: subject,
		ID:      fmt.Sprintf("%s#%d", subject, i),
		Data:    fmt.Appendf(nil, "data %s %d", subject, i),
	}
}

// msgs builds n messages on subject, numbered from 0.
func msgs(subject string, n int) []queue.Message {
	out := make([]queue.Message, n)
	for i := range out {
		out[i] = msg(subject, i)
	}
	return out
}

// consumer opens a consumer with a long ack wait (no redelivery by accident
// on a slow machine) unless cfg says otherwise.
func consumer(t *testing.T, q queue.Queue, cfg queue.ConsumerConfig) queue.Consumer {
	t.Helper()
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	c, err := q.Consumer(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, cfg.Name, c.Name())
	return c
}

func publish(t *testing.T, q queue.Queue, ms ...queue.Message) {
	t.Helper()
	require.NoError(t, q.Publish(context.Background(), ms...))
}

// fetchN fetches until it has n deliveries, failing after 10s or when more
// than n arrive. It leaves them unsettled. It keeps one pull request open
// rather than polling with short ones: nats-server 2.9 can lose a delivery
// made as a pull request expires (it comes back after the ack wait, counted).
func fetchN(t *testing.T, c queue.Consumer, n int) []queue.Delivery {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	var got []queue.Delivery
	for len(got) < n {
		left := time.Until(deadline)
		require.Truef(t, left > 0, "fetched %d of %d deliveries in 10s", len(got), n)
		ds, err := c.Fetch(ctx, n-len(got), left)
		require.NoError(t, err)
		got = append(got, ds...)
	}
	require.Len(t, got, n)
	return got
}

// fetchOne fetches exactly one delivery within 10s.
func fetchOne(t *testing.T, c queue.Consumer) queue.Delivery {
	t.Helper()
	return fetchN(t, c, 1)[0]
}

// expectNone fetches for wait and fails if anything is delivered.
func expectNone(t *testing.T, c queue.Consumer, wait time.Duration) {
	t.Helper()
	ds, err := c.Fetch(context.Background(), 10, wait)
	require.NoError(t, err)
	if len(ds) > 0 {
		require.Failf(t, "unexpected delivery", "%s: %s (attempt %d), and %d more",
			c.Name(), ds[0].ID(), ds[0].Attempt(), len(ds)-1)
	}
}

func ackAll(t *testing.T, ds []queue.Delivery) {
	t.Helper()
	for _, d := range ds {
		require.NoError(t, d.Ack(context.Background()))
	}
}

func ids(ds []queue.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID()
	}
	return out
}

func msgIDs(ms []queue.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
