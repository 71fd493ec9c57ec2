package natsjs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/queue/queuetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, confirm := range []struct {
		name string
		on   bool
	}{{"fire_and_forget_acks", false}, {"confirmed_acks", true}} {
		t.Run("embedded/"+confirm.name, func(t *testing.T) {
			t.Parallel()
			queuetest.Run(t, func(t *testing.T) queuetest.Harness {
				return embeddedHarness(t, natsjs.Config{ConfirmAcks: confirm.on})
			})
		})
		t.Run("external/"+confirm.name, func(t *testing.T) {
			t.Parallel()
			queuetest.Run(t, func(t *testing.T) queuetest.Harness {
				return externalHarness(t, natsjs.Config{ConfirmAcks: confirm.on})
			})
		})
	}
}

// embeddedHarness runs an embedded broker in its own directory; Restart
// stops it and starts another on the same directory.
func embeddedHarness(t *testing.T, cfg natsjs.Config) queuetest.Harness {
	dir := t.TempDir()
	b := brokertest.Embedded(t, dir)
	return queuetest.Harness{
		Queue: open(t, b, cfg),
		Restart: func(t *testing.T) queue.Queue {
			require.NoError(t, b.Close())
			b = brokertest.Embedded(t, dir)
			return open(t, b, cfg)
		},
	}
}

// externalHarness uses the shared external server, in a namespace of its own
// whose streams are deleted when the test ends.
func externalHarness(t *testing.T, cfg natsjs.Config) queuetest.Harness {
	b := brokertest.External(t)
	cfg.Namespace = brokertest.Prefix(t)
	q := open(t, b, cfg)
	deleteStreamsAtCleanup(t, b, q)
	return queuetest.Harness{
		Queue:     q,
		NoRestart: "the external nats-server is shared by every test; restarts are tested on the embedded one",
	}
}

func open(t *testing.T, b *broker.Broker, cfg natsjs.Config) *natsjs.Queue {
	t.Helper()
	q, err := natsjs.Open(context.Background(), b, cfg)
	require.NoError(t, err)
	return q
}

func deleteStreamsAtCleanup(t testing.TB, b *broker.Broker, q *natsjs.Queue) {
	in, dlq := q.StreamNames()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range []string{in, dlq} {
			if err := b.JetStream().DeleteStream(ctx, s); err != nil {
				t.Errorf("delete stream %s: %v", s, err)
			}
		}
	})
}

func TestStreamsAndConsumerAsConfigured(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mode := range []string{"embedded", "external"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var b *broker.Broker
			cfg := natsjs.Config{Duplicates: 3 * time.Minute, AckWait: 9 * time.Second, MaxInFlight: 77, MaxBytes: 1 << 30}
			if mode == "embedded" {
				b = brokertest.Embedded(t, t.TempDir())
			} else {
				b = brokertest.External(t)
				cfg.Namespace = brokertest.Prefix(t)
			}
			q := open(t, b, cfg)
			if mode == "external" {
				deleteStreamsAtCleanup(t, b, q)
			}
			// Opening again is harmless (create or update).
			q = open(t, b, cfg)

			ns := func(s string) string {
				if cfg.Namespace == "" {
					return s
				}
				return cfg.Namespace + "." + s
			}
			inName, dlqName := q.StreamNames()
			in, err := b.JetStream().Stream(ctx, inName)
			require.NoError(t, err)
			ic := in.CachedInfo().Config
			require.Equal(t, []string{ns("in.>")}, ic.Subjects)
			require.Equal(t, jetstream.InterestPolicy, ic.Retention)
			require.Equal(t, jetstream.FileStorage, ic.Storage)
			require.Equal(t, jetstream.DiscardNew, ic.Discard)
			require.Equal(t, 3*time.Minute, ic.Duplicates)
			require.Equal(t, int64(1<<30), ic.MaxBytes)

			dlq, err := b.JetStream().Stream(ctx, dlqName)
			require.NoError(t, err)
			dc := dlq.CachedInfo().Config
			require.Equal(t, []string{ns("dlq.>")}, dc.Subjects)
			require.Equal(t, jetstream.LimitsPolicy, dc.Retention)
			require.Equal(t, jetstream.FileStorage, dc.Storage)
			require.Zero(t, dc.MaxAge)

			_, err = q.Consumer(ctx, queue.ConsumerConfig{Name: "s1", Subject: "in.db.>"})
			require.NoError(t, err)
			c, err := in.Consumer(ctx, "s1")
			require.NoError(t, err)
			cc := c.CachedInfo().Config
			require.Equal(t, "s1", cc.Durable)
			require.Equal(t, ns("in.db.>"), cc.FilterSubject)
			require.Equal(t, jetstream.AckExplicitPolicy, cc.AckPolicy)
			require.Equal(t, 9*time.Second, cc.AckWait)
			require.Equal(t, 77, cc.MaxAckPending)
			require.Equal(t, -1, cc.MaxDeliver, "unlimited: the application dead-letters")
			require.Empty(t, cc.BackOff, "a BackOff list would override AckWait")
			require.Equal(t, jetstream.DeliverAllPolicy, cc.DeliverPolicy)
		})
	}
}

// With interest retention the input stream keeps a message while a consumer
// still needs it, and no longer.
func TestInterestRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := brokertest.Embedded(t, t.TempDir())
	q := open(t, b, natsjs.Config{})
	inName, _ := q.StreamNames()
	stored := func() uint64 {
		s, err := b.JetStream().Stream(ctx, inName)
		require.NoError(t, err)
		return s.CachedInfo().State.Msgs
	}

	one, err := q.Consumer(ctx, queue.ConsumerConfig{Name: "one", Subject: "in.>"})
	require.NoError(t, err)
	two, err := q.Consumer(ctx, queue.ConsumerConfig{Name: "two", Subject: "in.a.>"})
	require.NoError(t, err)
	require.NoError(t, q.Publish(ctx,
		queue.Message{Subject: "in.a.x", ID: "1"},
		queue.Message{Subject: "in.b.x", ID: "2"},
	))
	require.Equal(t, uint64(2), stored())

	ds, err := one.Fetch(ctx, 2, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	for _, d := range ds {
		require.NoError(t, d.Ack(ctx))
	}
	// in.b.x had only consumer one; in.a.x waits for consumer two.
	require.Eventually(t, func() bool { return stored() == 1 }, 10*time.Second, 10*time.Millisecond)

	ds, err = two.Fetch(ctx, 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.NoError(t, ds[0].Term(ctx))
	require.Eventually(t, func() bool { return stored() == 0 }, 10*time.Second, 10*time.Millisecond)
}

// Namespaces keep two deployments on one server apart.
func TestNamespacesAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := brokertest.External(t)
	qa := open(t, b, natsjs.Config{Namespace: brokertest.Prefix(t)})
	deleteStreamsAtCleanup(t, b, qa)
	qb := open(t, b, natsjs.Config{Namespace: brokertest.Prefix(t)})
	deleteStreamsAtCleanup(t, b, qb)

	ca, err := qa.Consumer(ctx, queue.ConsumerConfig{Name: "s", Subject: "in.>"})
	require.NoError(t, err)
	cb, err := qb.Consumer(ctx, queue.ConsumerConfig{Name: "s", Subject: "in.>"})
	require.NoError(t, err)
	require.NoError(t, qa.Publish(ctx, queue.Message{Subject: "in.x.y", ID: "1", Data: []byte("a")}))
	_, err = qb.DLQ().Put(ctx, queue.Message{Subject: "dlq.s", ID: "1"})
	require.NoError(t, err)

	ds, err := ca.Fetch(ctx, 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, "in.x.y", ds[0].Subject())
	require.NoError(t, ds[0].Ack(ctx))
	ds, err = cb.Fetch(ctx, 1, 300*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, ds)

	n, err := qa.DLQ().Count(ctx, "")
	require.NoError(t, err)
	require.Zero(t, n)
	page, err := qb.DLQ().List(ctx, queue.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	require.Equal(t, "dlq.s", page.Entries[0].Subject)
}

func TestOpenRefusesAStreamItCannotChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := brokertest.Embedded(t, t.TempDir())
	_, err := b.JetStream().CreateStream(ctx, jetstream.StreamConfig{
		Name: natsjs.InStream, Subjects: []string{"in.>"}, Storage: jetstream.MemoryStorage,
	})
	require.NoError(t, err)
	_, err = natsjs.Open(ctx, b, natsjs.Config{})
	require.ErrorContains(t, err, "SFBRIDGE_IN")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    natsjs.Config
		errHas []string
	}{
		{name: "zero is valid", cfg: natsjs.Config{}},
		{name: "full", cfg: natsjs.Config{Namespace: "prod-eu_1", Duplicates: time.Hour, AckWait: time.Minute,
			MaxInFlight: 10, Replicas: 3, MaxAge: 24 * time.Hour, MaxBytes: 1 << 30, PublishWindow: 10, PublishTimeout: time.Second}},
		{name: "namespace dot", cfg: natsjs.Config{Namespace: "a.b"}, errHas: []string{"Namespace", `"a.b"`}},
		{name: "namespace digit", cfg: natsjs.Config{Namespace: "1a"}, errHas: []string{"Namespace", "start with a letter"}},
		{name: "namespace long", cfg: natsjs.Config{Namespace: "a123456789012345678901234567890123"}, errHas: []string{"longer than 32"}},
		{name: "negatives", cfg: natsjs.Config{Duplicates: -1, MaxAge: -1, MaxBytes: -1, MaxInFlight: -1, Replicas: -1, PublishWindow: -1, PublishTimeout: -1, AckWait: -1},
			errHas: []string{"Duplicates", "MaxAge", "MaxBytes", "MaxInFlight", "Replicas", "PublishWindow", "PublishTimeout", "AckWait"}},
		{name: "window beyond age", cfg: natsjs.Config{MaxAge: time.Minute}, errHas: []string{"Duplicates: window 2m0s is longer than MaxAge 1m0s"}},
		{name: "replicas", cfg: natsjs.Config{Replicas: 7}, errHas: []string{"Replicas: must be 1 to 5, got 7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.errHas) == 0 {
				require.NoError(t, err)
				return
			}
			for _, s := range tt.errHas {
				require.ErrorContains(t, err, s)
			}
		})
	}
}

func TestOpenValidates(t *testing.T) {
	t.Parallel()
	b := brokertest.Embedded(t, t.TempDir())
	_, err := natsjs.Open(context.Background(), b, natsjs.Config{Namespace: "a b"})
	require.ErrorContains(t, err, "Namespace")
}

// A Publish cancelled midway reports exactly the messages it cannot vouch
// for: every message it does not list as failed is stored.
func TestPublishCancelledMidway(t *testing.T) {
	t.Parallel()
	b := brokertest.Embedded(t, t.TempDir())
	q := open(t, b, natsjs.Config{PublishWindow: 256})
	c, err := q.Consumer(context.Background(), queue.ConsumerConfig{Name: "all", Subject: "in.>", MaxInFlight: 100_000})
	require.NoError(t, err)

	const n = 20_000
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{Subject: "in.a.b", ID: fmt.Sprint(i), Data: make([]byte, 512)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err = q.Publish(ctx, msgs...)
	failed := map[string]bool{}
	if err != nil {
		require.ErrorIs(t, err, context.Canceled)
		var be *queue.BatchError
		require.ErrorAs(t, err, &be)
		for _, i := range be.Failed() {
			failed[msgs[i].ID] = true
		}
	}
	t.Logf("%d of %d reported not stored", len(failed), n)

	stored := map[string]bool{}
	for {
		ds, err := c.Fetch(context.Background(), 1000, 500*time.Millisecond)
		require.NoError(t, err)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			stored[d.ID()] = true
		}
	}
	for _, m := range msgs {
		if !failed[m.ID] {
			require.True(t, stored[m.ID], "message %s confirmed but not stored", m.ID)
		}
	}
}
