package deliver_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func TestReplayedOlderVersionIsSuperseded(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{})
	newer := row{ID: "c-1", LastName: "Newer", Email: "n@example.org", Version: 5}
	e.publish(newer)
	waitStats(t, d, "delivered", func(s deliver.Stats) bool { return s.Delivered == 1 })
	// The older version arrives afterwards (a late redelivery, a replay).
	e.publish(row{ID: "c-1", LastName: "Older", Email: "o@example.org", Version: 4})
	waitStats(t, d, "superseded", func(s deliver.Stats) bool { return s.Superseded == 1 })
	stop(t, d)
	e.requireInSalesforce([]row{newer})
}

func TestReplayAfterTheFixDeliversExactlyTheDeadLettered(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	all := rows(300)
	var bad []string
	for i := 0; i < len(all); i += 100 { // 1%
		bad = append(bad, all[i].ID)
	}
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: bad, Error: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}}})
	d := e.deliverer("counselors", options{})
	// A second sync on the same records: a replay is not for it.
	other := e.deliverer("leads", options{syncCfg: func(s *config.Sync) {
		s.Object, s.ExternalID = "Lead", "Legacy_Id__c"
		s.Fields = config.Fields{
			{Name: "Legacy_Id__c", Expr: "row.id"},
			{Name: "LastName", Expr: "row.last_name"},
			{Name: "Company", Expr: `"ACME"`},
		}
	}})
	e.publish(all...)
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.DeadLettered == 300 })
	waitStats(t, other, "other settled", func(s deliver.Stats) bool { return s.Delivered == 300 })
	require.Len(t, e.dlqItems(), len(bad))

	e.faults(sfemu.FaultConfig{}) // the validation rule is lifted
	ctx := context.Background()
	var replayed []string
	for _, it := range e.dlqItems() {
		r, err := e.dlq.Replay(ctx, it.Seq)
		require.NoError(t, err)
		require.Equal(t, "counselors", r.Sync)
		replayed = append(replayed, r.MessageID)
	}
	require.Len(t, replayed, len(bad))
	waitStats(t, d, "replays delivered", func(s deliver.Stats) bool { return s.Delivered == 300 })
	waitStats(t, other, "replays not for it", func(s deliver.Stats) bool { return s.Filtered == int64(len(bad)) })
	s := stop(t, d)
	require.Equal(t, int64(len(bad)), s.DeadLettered)
	os := stop(t, other)
	require.Equal(t, int64(300), os.Delivered, "the other sync wrote nothing again")
	e.requireInSalesforce(all)
	require.Empty(t, e.dlqItems())

	// Replaying the same entry again is a no-op: it is gone.
	_, err := e.dlq.Replay(ctx, 1)
	require.ErrorIs(t, err, queue.ErrNotFound)
}

func TestReplayRefusesASyncWithoutConsumer(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: []string{"c-0"}, Error: "REQUIRED_FIELD_MISSING"}}})
	d := e.deliverer("counselors", options{})
	e.publish(rows(1)...)
	waitStats(t, d, "dead-lettered", func(s deliver.Stats) bool { return s.DeadLettered == 1 })
	stop(t, d)
	require.NoError(t, e.queue.DeleteConsumer(context.Background(), "counselors"))
	items := e.dlqItems()
	_, err := e.dlq.Replay(context.Background(), items[0].Seq)
	require.ErrorIs(t, err, dlq.ErrNoConsumer)
	require.Len(t, e.dlqItems(), 1, "the entry is kept")
}

// A replayed record runs through the sync's current mapping: fixing the
// mapping and replaying fixes the data.
func TestReplayUsesTheCurrentMapping(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	broken := func(s *config.Sync) {
		s.Fields = append(s.Fields, config.Field{Name: "Title", Expr: "upper(row.title)"})
	}
	d := e.deliverer("counselors", options{syncCfg: broken})
	r := rec(t, row{ID: "c-1", LastName: "Okafor", Email: "o@example.org", Version: 1})
	r.Payload["title"] = 42 // upper() wants text: the mapping fails
	require.NoError(t, e.queue.Publish(context.Background(), e.message(r)))
	waitStats(t, d, "dead-lettered", func(s deliver.Stats) bool { return s.DeadLettered == 1 })
	stop(t, d)
	items := e.dlqItems()
	require.Len(t, items, 1)
	require.Equal(t, dlq.ReasonMapping, items[0].Entry.Reason)

	// The mapping is fixed and sfbridge restarted; then the replay.
	fixed := e.deliverer("counselors", options{syncCfg: func(s *config.Sync) {
		s.Fields = append(s.Fields, config.Field{Name: "Title", Expr: `"Counselor " + string(row.title)`})
	}})
	_, err := e.dlq.Replay(context.Background(), items[0].Seq)
	require.NoError(t, err)
	waitStats(t, fixed, "delivered", func(s deliver.Stats) bool { return s.Delivered == 1 })
	stop(t, fixed)
	require.Equal(t, "Counselor 42", e.contacts()["c-1"]["Title"])
	require.Empty(t, e.dlqItems())
}
