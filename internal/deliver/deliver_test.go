package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func TestDeliversEveryRecord(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{})
	want := rows(500)
	e.publish(want...)
	waitStats(t, d, "all delivered", func(s deliver.Stats) bool { return s.Delivered == 500 })
	s := stop(t, d)
	require.Equal(t, int64(500), s.Received)
	require.Zero(t, s.DeadLettered+s.Retried+s.Superseded+s.Filtered+s.Released)
	e.requireInSalesforce(want)
	require.Empty(t, e.dlqItems())
	// Batches, not one call per record: 500 records in 50-record batches.
	require.LessOrEqual(t, e.emu.Org().Counters().Calls["collections.upsert"], int64(500/10))
}

// Invariant 2: per-record results decide each message.
func TestMixedResultsDeadLetterExactlyTheRejected(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	all := rows(200)
	var bad []string
	for i := 3; i < len(all); i += 17 {
		bad = append(bad, all[i].ID)
	}
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{
		Object: "Contact", Keys: bad, Error: "FIELD_CUSTOM_VALIDATION_EXCEPTION",
		Message: "Email must be a company address", Fields: []string{"Email"},
	}}})
	d := e.deliverer("counselors", options{})
	e.publish(all...)
	waitStats(t, d, "all settled", func(s deliver.Stats) bool { return s.Delivered+s.DeadLettered == 200 })
	s := stop(t, d)
	require.Equal(t, int64(len(bad)), s.DeadLettered)
	require.Zero(t, s.Retried, "a validation error is permanent: no retries")

	var good []row
	for _, r := range all {
		if !slices.Contains(bad, r.ID) {
			good = append(good, r)
		}
	}
	e.requireInSalesforce(good)

	items := e.dlqItems()
	require.Len(t, items, len(bad))
	var got []string
	for _, it := range items {
		en := it.Entry
		require.Equal(t, "counselors", en.Sync)
		require.Equal(t, dlq.ReasonPermanent, en.Reason)
		require.Equal(t, "FIELD_CUSTOM_VALIDATION_EXCEPTION", en.Code)
		require.Equal(t, "Email must be a company address", en.Message)
		require.Equal(t, []string{"Email"}, en.Fields)
		require.Len(t, en.Attempts, 1)
		require.Equal(t, "permanent", en.Attempts[0].Class)
		require.Equal(t, subject, en.Subject)
		require.NotNil(t, en.Record)
		// The raw record is kept byte for byte.
		r, err := record.Decode(en.Raw)
		require.NoError(t, err)
		require.Equal(t, en.MessageID, r.ID)
		got = append(got, r.Payload["id"].(string))
	}
	slices.Sort(got)
	slices.Sort(bad)
	require.Equal(t, bad, got)
}

func TestLockErrorsOnFivePercentAreAllDelivered(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	seed := int64(42)
	e.faults(sfemu.FaultConfig{Seed: &seed, Records: []sfemu.RecordFault{{Object: "Contact", Probability: 0.05, Error: "UNABLE_TO_LOCK_ROW"}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.MaxAttempts = 10 }})
	want := rows(1000)
	e.publish(want...)
	waitStats(t, d, "all delivered", func(s deliver.Stats) bool { return s.Delivered == 1000 })
	s := stop(t, d)
	require.Zero(t, s.DeadLettered)
	e.requireInSalesforce(want)
	require.Empty(t, e.dlqItems())
	require.Positive(t, e.emu.Faults().Status().RecordsFired[0], "the fault fired")
}

// Invariant 4: an older version retried after a newer one was delivered
// never overwrites it.
func TestOlderVersionRetriedLastIsSuperseded(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	// Key c-1 fails its first two writes: the first write of v1 and the
	// sink's own lock retry.
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: []string{"c-1"}, Times: 2, Error: "UNABLE_TO_LOCK_ROW"}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) {
		c.Backoff = retry.Policy{Initial: 500 * time.Millisecond, Max: time.Second, Multiplier: 2}
	}})
	older := row{ID: "c-1", LastName: "Older", Email: "old@example.org", Version: 1}
	newer := row{ID: "c-1", LastName: "Newer", Email: "new@example.org", Version: 2}
	e.publish(older)
	waitStats(t, d, "v1 retried", func(s deliver.Stats) bool { return s.Retried == 1 })
	e.publish(newer)
	waitStats(t, d, "v2 delivered, then v1 superseded", func(s deliver.Stats) bool {
		return s.Delivered == 1 && s.Superseded == 1
	})
	s := stop(t, d)
	require.Zero(t, s.DeadLettered)
	e.requireInSalesforce([]row{newer})

	// The guard holds v2, and the ledger of v1 is gone.
	entry, err := e.state.Get(context.Background(), "version/counselors/c-1")
	require.NoError(t, err)
	require.Contains(t, string(entry.Value), t0.Add(2*time.Second).Format(time.RFC3339))
	left, err := e.state.List(context.Background(), "attempts/")
	require.NoError(t, err)
	require.Empty(t, left)
}

// Invariant 4: several changes of one key in a batch collapse into the
// newest, written once.
func TestCoalescesVersionsOfAKeyInABatch(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	var batch []row
	for v := 1; v <= 3; v++ {
		batch = append(batch, row{ID: "c-1", LastName: fmt.Sprintf("V%d", v), Email: "x@example.org", Version: v})
	}
	// Arrival order is not version order: v3 comes before v2.
	batch[1], batch[2] = batch[2], batch[1]
	batch = append(batch, row{ID: "c-2", LastName: "Other", Email: "o@example.org", Version: 1})
	d := e.deliverer("counselors", options{
		deliver:     func(c *deliver.Config) { c.Concurrency = 1; c.Linger = 200 * time.Millisecond },
		beforeStart: func() { e.publish(batch...) }, // all there at the first fetch: one batch
	})
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.Superseded == 4 })
	s := stop(t, d)
	require.Equal(t, int64(2), s.Delivered)
	require.Equal(t, int64(2), s.Superseded)
	require.Equal(t, int64(1), s.Batches)
	e.requireInSalesforce([]row{batch[1], batch[3]})
	written := e.emu.Org().Counters().Written["Contact"]
	require.Equal(t, int64(2), written[sfemu.OpInsert]+written[sfemu.OpUpdate], "one write per key")
}

// Invariant 7: bad input goes to the DLQ with its reason; the rest flows.
func TestUndecodableAndUnmappableRecordsGoToTheDLQ(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{syncCfg: func(s *config.Sync) {
		s.Fields = append(s.Fields, config.Field{Name: "Title", Expr: "upper(row.title)"})
	}})
	good := rows(3)
	msgs := []queue.Message{
		{Subject: subject, ID: "garbage-1", Data: []byte("this is not an envelope")},
		e.message(rec(t, good[0])),
	}
	wrongType := rec(t, row{ID: "c-9", LastName: "N", Email: "e@example.org", Version: 1})
	wrongType.Payload["title"] = 42 // upper() wants text
	msgs = append(msgs, e.message(wrongType), e.message(rec(t, good[1])), e.message(rec(t, good[2])))
	require.NoError(t, e.queue.Publish(context.Background(), msgs...))
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.DeadLettered == 5 })
	s := stop(t, d)
	require.Equal(t, int64(3), s.Delivered)
	require.Equal(t, int64(2), s.DeadLettered)
	e.requireInSalesforce(good)

	items := e.dlqItems()
	require.Len(t, items, 2)
	byReason := map[dlq.Reason]dlq.Entry{}
	for _, it := range items {
		byReason[it.Entry.Reason] = it.Entry
	}
	dec := byReason[dlq.ReasonDecode]
	require.Equal(t, dlq.CodeDecode, dec.Code)
	require.Equal(t, "this is not an envelope", string(dec.Raw))
	require.Nil(t, dec.Record)
	require.Contains(t, dec.Message, "not a JSON object")
	mp := byReason[dlq.ReasonMapping]
	require.Equal(t, dlq.CodeMapping, mp.Code)
	require.Contains(t, mp.Message, "fields.Title")
	require.Equal(t, "permanent", mp.Attempts[0].Class)
	require.Equal(t, wrongType.ID, mp.Record.ID)
}

func TestFilteredRecordsAreAckedAndCounted(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{syncCfg: func(s *config.Sync) { s.When = `row.email endsWith "@example.org"` }})
	want := rows(5)
	other := row{ID: "x-1", LastName: "Elsewhere", Email: "x@elsewhere.test", Version: 1}
	e.publish(append(want, other)...)
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.Filtered == 6 })
	s := stop(t, d)
	require.Equal(t, int64(1), s.Filtered)
	e.requireInSalesforce(want)
}

func TestDeletes(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{})
	all := rows(3)
	e.publish(all...)
	waitStats(t, d, "upserted", func(s deliver.Stats) bool { return s.Delivered == 3 })
	del := rec(t, row{ID: "c-1", Version: 2})
	del.Op, del.Payload = record.OpDelete, nil
	del.ID, _ = record.DeriveID(srcName, collection, del.Key, del.Version)
	require.NoError(t, e.queue.Publish(context.Background(), e.message(del)))
	waitStats(t, d, "deleted", func(s deliver.Stats) bool { return s.Delivered == 4 })
	// The upsert of an older version cannot resurrect it.
	e.publish(row{ID: "c-1", LastName: "Ghost", Email: "g@example.org", Version: 0})
	waitStats(t, d, "stale upsert superseded", func(s deliver.Stats) bool { return s.Superseded == 1 })
	stop(t, d)
	e.requireInSalesforce([]row{all[0], all[2]})
}

func TestMaxAttemptsDeadLettersWithEveryAttempt(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: []string{"c-2"}, Error: "UNABLE_TO_LOCK_ROW"}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.MaxAttempts = 3 }})
	want := rows(4)
	e.publish(want...)
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered == 3 && s.DeadLettered == 1 })
	s := stop(t, d)
	require.Equal(t, int64(2), s.Retried, "two retries, the third failure dead-letters")
	items := e.dlqItems()
	require.Len(t, items, 1)
	en := items[0].Entry
	require.Equal(t, dlq.ReasonMaxAttempts, en.Reason)
	require.Equal(t, "UNABLE_TO_LOCK_ROW", en.Code)
	require.Len(t, en.Attempts, 3)
	for i, a := range en.Attempts {
		require.Equal(t, i+1, a.N)
		require.Equal(t, i+1, a.Delivery)
		require.Equal(t, "retry", a.Class)
		require.Equal(t, "UNABLE_TO_LOCK_ROW", a.Code)
		if i > 0 {
			require.False(t, a.At.Before(en.Attempts[i-1].At))
		}
	}
	left, err := e.state.List(context.Background(), "attempts/")
	require.NoError(t, err)
	require.Empty(t, left, "the ledger is cleared once the record ends")
	e.requireInSalesforce([]row{want[0], want[1], want[3]})
}

func TestDLQWindowStopsTheSync(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Probability: 1, Error: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) {
		c.Window = config.DLQWindow{Size: 20, Threshold: 90}
		c.BatchSize = 10
	}})
	e.publish(rows(200)...)
	select {
	case <-d.Done():
	case <-time.After(waitFor):
		t.Fatal("the sync did not stop")
	}
	require.ErrorIs(t, d.Err(), deliver.ErrStopped)
	s := stop(t, d)
	// The window judges full windows only: 19 dead letters fit, the 20th
	// would have made 20 of the last 20 (≥ 90%).
	require.Equal(t, int64(19), s.DeadLettered)
	require.Positive(t, s.Released)
	require.True(t, s.Window.Tripped)
	require.Contains(t, s.Stopped, "dlq_window")
	require.Len(t, e.dlqItems(), 19)
	// The rest waits in the queue.
	cons, err := e.queue.Consumer(context.Background(), d.ConsumerConfig())
	require.NoError(t, err)
	st, err := cons.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(200-19), st.Pending+uint64(st.InFlight))
}

func TestUnknownFieldDeadLettersOnlyThatRecord(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{syncCfg: func(s *config.Sync) {
		// Fields the org does not have: every row of a request is refused.
		s.Fields = append(s.Fields, config.Field{Name: "No_Such_Field__c", Expr: "row.extra"})
	}})
	ok := rows(4)
	bad := row{ID: "c-bad", LastName: "Bad", Email: "b@example.org", Version: 1}
	r := rec(t, bad)
	r.Payload["extra"] = "x"
	require.NoError(t, e.queue.Publish(context.Background(), e.message(rec(t, ok[0])), e.message(r), e.message(rec(t, ok[1])), e.message(rec(t, ok[2])), e.message(rec(t, ok[3]))))
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.DeadLettered == 5 })
	s := stop(t, d)
	require.Equal(t, int64(1), s.DeadLettered)
	e.requireInSalesforce(ok)
	items := e.dlqItems()
	require.Len(t, items, 1)
	require.Equal(t, r.ID, items[0].Entry.Record.ID)
}

// A request refused as a whole (400 JSON_PARSER_ERROR) may be one record's
// fault: the records are written one by one, and only one that is refused
// alone goes to the DLQ.
func TestRequestLevelRejectionIsolatesTheRecord(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	all := rows(5)
	// The batch's request and the first single one are refused.
	e.faults(sfemu.FaultConfig{HTTP: []sfemu.HTTPFault{{
		Match: sfemu.Match{Endpoint: "collections.upsert"}, Status: 400, Body: "json",
		ErrorCode: "JSON_PARSER_ERROR", Message: "Unexpected character", Next: 2,
	}}})
	d := e.deliverer("counselors", options{
		deliver:     func(c *deliver.Config) { c.Concurrency = 1; c.Linger = 200 * time.Millisecond },
		beforeStart: func() { e.publish(all...) },
	})
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.DeadLettered == 5 })
	s := stop(t, d)
	require.Equal(t, int64(1), s.Batches)
	require.Equal(t, int64(1), s.DeadLettered)
	e.requireInSalesforce(all[1:])
	items := e.dlqItems()
	require.Len(t, items, 1)
	en := items[0].Entry
	require.Equal(t, dlq.ReasonPermanent, en.Reason)
	require.Equal(t, "JSON_PARSER_ERROR", en.Code)
	require.Equal(t, rec(t, all[0]).ID, en.Record.ID)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := deliver.New(deliver.Config{BatchSize: -1, MaxAttempts: -2, Window: config.DLQWindow{Size: 5, Threshold: 0}})
	require.Error(t, err)
	for _, want := range []string{"sync: required", "queue: required", "state: required", "sink: required", "batch_size", "max_attempts", "dlq_window"} {
		require.Contains(t, err.Error(), want)
	}
	require.False(t, errors.Is(err, deliver.ErrStopped))
}

// Invariant 4 under concurrency: many versions of a few keys, in shuffled
// order, over several workers and batches; Salesforce ends with the newest
// version of every key.
func TestNewestVersionWinsUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.Concurrency = 4; c.BatchSize = 5; c.Linger = time.Millisecond }})
	const keys, versions = 8, 15
	all, want := versionsOfKeys(keys, versions)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for i := 0; i < len(all); i += 7 {
		e.publish(all[i:min(i+7, len(all))]...)
	}
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.Superseded == keys*versions })
	s := stop(t, d)
	require.Zero(t, s.DeadLettered+s.Retried)
	e.requireInSalesforce(want)
}

// A version of another kind (the table moved from polling to CDC) cannot
// be ordered against the stored one: it is delivered, and counted.
func TestIncomparableVersionIsDeliveredAndCounted(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{})
	e.publish(row{ID: "c-1", LastName: "Polled", Email: "p@example.org", Version: 9})
	waitStats(t, d, "delivered", func(s deliver.Stats) bool { return s.Delivered == 1 })
	cdc := rec(t, row{ID: "c-1", LastName: "Replicated", Email: "r@example.org"})
	cdc.Version = record.LSNVersion(0x16_B374D848, 1)
	cdc.ID, _ = cdc.DerivedID()
	require.NoError(t, e.queue.Publish(context.Background(), e.message(cdc)))
	waitStats(t, d, "delivered", func(s deliver.Stats) bool { return s.Delivered == 2 })
	s := stop(t, d)
	require.Equal(t, int64(1), s.Incomparable)
	require.Equal(t, "Replicated", e.contacts()["c-1"]["LastName"])
}
