package deliver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// The version guard in stream order (Config.StreamOrder, ADR 0004): the
// records of a key arrive in version order, as a postgres_poll table
// publishes them, and invariant 4 holds without a state-store entry per key.

func streamOrder(c *deliver.Config) { c.StreamOrder = true }

// stateKeys lists the state store's keys under prefix.
func (e *env) stateKeys(prefix string) []string {
	e.t.Helper()
	entries, err := e.state.List(context.Background(), prefix)
	require.NoError(e.t, err)
	var out []string
	for _, en := range entries {
		out = append(out, en.Key)
	}
	return out
}

// First deliveries write nothing to the state store: its size does not grow
// with the number of keys delivered.
func TestStreamOrderKeepsNoStatePerKey(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{deliver: streamOrder})
	want := rows(400)
	e.publish(want...)
	// A second version of some rows, published later (as the source would).
	for i := 0; i < len(want); i += 10 {
		want[i].LastName, want[i].Version = "Renamed", 2
		e.publish(want[i])
	}
	waitStats(t, d, "all settled", func(s deliver.Stats) bool { return s.Delivered+s.Superseded == 440 })
	s := stop(t, d)
	require.Equal(t, deliver.GuardStreamOrder, s.Guard)
	require.False(t, s.CatchingUp)
	require.Zero(t, s.Durable, "no record needed the state store")
	require.Zero(t, s.DeadLettered+s.Retried)
	e.requireInSalesforce(want)
	require.Equal(t, []string{"guard/counselors"}, e.stateKeys(""), "no guard entry, no ledger, no pin: only the marker that the sync runs in stream order")
}

// An older version that fails and is retried after a newer one was
// delivered is superseded: while it waits to come back, its key goes
// through the state store.
func TestStreamOrderOlderVersionRetriedLastIsSuperseded(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: []string{"c-1"}, Times: 2, Error: "UNABLE_TO_LOCK_ROW"}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) {
		c.StreamOrder = true
		c.Backoff = retry.Policy{Initial: 500 * time.Millisecond, Max: time.Second, Multiplier: 2}
	}})
	older := row{ID: "c-1", LastName: "Older", Email: "old@example.org", Version: 1}
	newer := row{ID: "c-1", LastName: "Newer", Email: "new@example.org", Version: 2}
	other := row{ID: "c-2", LastName: "Other", Email: "other@example.org", Version: 1}
	e.publish(older)
	waitStats(t, d, "v1 retried", func(s deliver.Stats) bool { return s.Retried == 1 })
	e.publish(newer, other)
	waitStats(t, d, "v2 and c-2 delivered, then v1 superseded", func(s deliver.Stats) bool {
		return s.Delivered == 2 && s.Superseded == 1
	})
	s := stop(t, d)
	require.Zero(t, s.DeadLettered)
	require.Equal(t, int64(2), s.Durable, "v2 (its key had a delivery to come back) and v1's redelivery")
	e.requireInSalesforce([]row{newer, other})
	require.Equal(t, []string{"version/counselors/c-1"}, e.stateKeys("version/"), "only the key that needed it")
}

// Many versions of a few keys, in version order, over several workers and
// small batches, with lock errors: Salesforce ends with the newest version
// of every key.
func TestStreamOrderNewestVersionWinsUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Probability: 0.1, Error: "UNABLE_TO_LOCK_ROW"}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) {
		c.StreamOrder = true
		c.Concurrency, c.BatchSize, c.Linger = 4, 5, time.Millisecond
		c.MaxAttempts = 50
	}})
	const keys, versions = 8, 15
	all, want := versionsOfKeys(keys, versions)
	for i := 0; i < len(all); i += 3 {
		e.publish(all[i:min(i+3, len(all))]...)
	}
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.Superseded == keys*versions })
	s := stop(t, d)
	require.Zero(t, s.DeadLettered)
	require.Positive(t, s.Retried, "the lock errors fired")
	e.requireInSalesforce(want)
}

// A process that stopped with a delivery in hand (killed): the next one
// cannot know what it left, so it checks every record against the state
// store until the consumer's ack floor passes what had been delivered.
func TestStreamOrderAfterACrashChecksUntilTheLeftoversSettle(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	older := row{ID: "c-1", LastName: "Older", Email: "old@example.org", Version: 1}
	newer := row{ID: "c-1", LastName: "Newer", Email: "new@example.org", Version: 2}
	d := e.deliverer("counselors", options{
		deliver: streamOrder,
		beforeStart: func() {
			// The killed process: it fetched v1 and never settled it.
			e.publish(older)
			c, err := e.queue.Consumer(context.Background(), queueConfig(e, "counselors"))
			require.NoError(t, err)
			got, err := c.Fetch(context.Background(), 1, 5*time.Second)
			require.NoError(t, err)
			require.Len(t, got, 1)
			e.publish(newer)
		},
	})
	require.True(t, d.Stats().CatchingUp, "v1 is unsettled")
	// v2 first (v1 waits out the ack wait), then v1's redelivery.
	waitStats(t, d, "v2 delivered, v1 superseded", func(s deliver.Stats) bool { return s.Delivered == 1 && s.Superseded == 1 })
	waitStats(t, d, "caught up", func(s deliver.Stats) bool { return !s.CatchingUp })
	e.publish(row{ID: "c-2", LastName: "After", Email: "after@example.org", Version: 1})
	waitStats(t, d, "c-2 delivered", func(s deliver.Stats) bool { return s.Delivered == 2 })
	s := stop(t, d)
	require.Equal(t, int64(2), s.Durable, "v2 and v1 through the state store; c-2, after catching up, not")
	e.requireInSalesforce([]row{newer, {ID: "c-2", LastName: "After", Email: "after@example.org"}})
}

// A dead letter pins its key: every later version goes through the state
// store, in this process and the next, so a replay of the older version
// finds the newer one and is superseded.
func TestStreamOrderReplayOfAnOlderDeadLetterIsSuperseded(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: []string{"c-1"}, Times: 1, Error: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}}})
	older := row{ID: "c-1", LastName: "Older", Email: "old@example.org", Version: 1}
	newer := row{ID: "c-1", LastName: "Newer", Email: "new@example.org", Version: 2}
	d := e.deliverer("counselors", options{deliver: streamOrder})
	e.publish(older)
	waitStats(t, d, "v1 dead-lettered", func(s deliver.Stats) bool { return s.DeadLettered == 1 })
	stop(t, d)
	require.Len(t, e.stateKeys("pinned/counselors/"), 2, "the row's key and the external ID")

	// The next process: the pins are read back. (It starts once the broker
	// has the dead letter's term, so it has nothing to catch up on.)
	d = e.deliverer("counselors", options{deliver: streamOrder, beforeStart: func() { e.settledAndQuiet() }})
	require.False(t, d.Stats().CatchingUp)
	e.publish(newer)
	waitStats(t, d, "v2 delivered", func(s deliver.Stats) bool { return s.Delivered == 1 })
	e.replayTheDeadLetter()
	waitStats(t, d, "the replay superseded", func(s deliver.Stats) bool { return s.Superseded == 1 })
	s := stop(t, d)
	require.Equal(t, int64(2), s.Durable, "v2 (pinned) and the replay")
	e.requireInSalesforce([]row{newer})
	require.Empty(t, e.dlqItems())
}

// queueConfig is the consumer config of the env's deliverers for sync name.
func queueConfig(e *env, name string) queue.ConsumerConfig {
	return queue.ConsumerConfig{Name: name, Subject: subject, AckWait: 2 * time.Second, MaxInFlight: 1000}
}

// A dead letter from before the sync was in stream order (the state-store
// guard, an older sfbridge) has no pin: the stream-order guard pins the
// keys of the DLQ's entries when it starts, so a replay still finds the
// newer version written since.
func TestStreamOrderPinsTheDLQItFinds(t *testing.T) {
	t.Parallel()
	e, newer := deadLetteredUnderTheStateStoreGuard(t)
	require.Empty(t, e.stateKeys("pinned/"))

	d := e.deliverer("counselors", options{deliver: streamOrder, beforeStart: func() { e.settledAndQuiet() }})
	require.Len(t, e.stateKeys("pinned/counselors/"), 2, "pinned at start")
	e.publish(newer)
	waitStats(t, d, "v2 delivered", func(s deliver.Stats) bool { return s.Delivered == 1 })
	e.replayTheDeadLetter()
	waitStats(t, d, "the replay superseded", func(s deliver.Stats) bool { return s.Superseded == 1 })
	stop(t, d)
	e.requireInSalesforce([]row{newer})
}

// A sync that delivered records before it ran in stream order may have DLQ
// replays waiting in the queue (their entries gone from the DLQ, so nothing
// pins their keys): on its first start in stream order it checks every
// record against the state store until it has delivered and settled what
// was published before, then marks the sync.
func TestStreamOrderFirstStartCatchesUpOnWaitingReplays(t *testing.T) {
	t.Parallel()
	e, newer := deadLetteredUnderTheStateStoreGuard(t)
	require.Empty(t, e.stateKeys("guard/"))
	e.settledAndQuiet()

	// While no loop runs: the newer version, then the replay of the older.
	e.publish(newer)
	e.replayTheDeadLetter()
	require.Empty(t, e.dlqItems())

	d := e.deliverer("counselors", options{deliver: streamOrder})
	require.True(t, d.Stats().CatchingUp)
	waitStats(t, d, "v2 delivered, the replay superseded", func(s deliver.Stats) bool { return s.Delivered == 1 && s.Superseded == 1 })
	waitStats(t, d, "caught up", func(s deliver.Stats) bool { return !s.CatchingUp })
	require.Empty(t, e.stateKeys("guard/"), "the marker is written by a clean stop")
	stop(t, d)
	require.Len(t, e.stateKeys("guard/counselors"), 1)
	e.requireInSalesforce([]row{newer})
}

// A stop that does not finish cleanly (or a killed process) leaves no
// marker: the broker writes its consumer state to disk a little after the
// deliveries it describes, so the next start cannot trust it to show what
// was in hand, and catches up on everything the queue holds.
func TestStreamOrderUncleanStopCatchesUpNextTime(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{deliver: streamOrder})
	e.publish(rows(10)...)
	waitStats(t, d, "delivered", func(s deliver.Stats) bool { return s.Delivered == 10 })
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, d.Stop(cancelled), context.Canceled)
	require.Empty(t, e.stateKeys("guard/"))

	d = e.deliverer("counselors", options{deliver: streamOrder})
	require.True(t, d.Stats().CatchingUp)
	waitStats(t, d, "caught up", func(s deliver.Stats) bool { return !s.CatchingUp })
	stop(t, d)
	require.Len(t, e.stateKeys("guard/counselors"), 1, "a clean stop")
	e.requireInSalesforce(rows(10))
}

// deadLetteredUnderTheStateStoreGuard runs the counselors sync with the
// state-store guard until v1 of c-1 is in the DLQ (a validation rule that
// fails it once), stops it, and returns the env and v2 of c-1.
func deadLetteredUnderTheStateStoreGuard(t *testing.T) (*env, row) {
	t.Helper()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: []string{"c-1"}, Times: 1, Error: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}}})
	d := e.deliverer("counselors", options{})
	e.publish(row{ID: "c-1", LastName: "Older", Email: "old@example.org", Version: 1})
	waitStats(t, d, "v1 dead-lettered", func(s deliver.Stats) bool { return s.DeadLettered == 1 })
	stop(t, d)
	return e, row{ID: "c-1", LastName: "Newer", Email: "new@example.org", Version: 2}
}

// settledAndQuiet waits until the broker has every settle of the stopped
// loop, and until the pull request it left open (IdlePoll, 200 ms) has
// expired: otherwise the next record published would go to that request,
// reach no one, and come back as a redelivery.
func (e *env) settledAndQuiet() {
	e.t.Helper()
	c, err := e.queue.Consumer(context.Background(), queueConfig(e, "counselors"))
	require.NoError(e.t, err)
	require.Eventually(e.t, func() bool {
		st, err := c.Stats(context.Background())
		return err == nil && st.AckFloor == st.Delivered
	}, waitFor, pollEvery)
	time.Sleep(time.Second)
}

// replayTheDeadLetter replays the DLQ's one entry.
func (e *env) replayTheDeadLetter() {
	e.t.Helper()
	items := e.dlqItems()
	require.Len(e.t, items, 1)
	_, err := e.dlq.Replay(context.Background(), items[0].Seq)
	require.NoError(e.t, err)
}
