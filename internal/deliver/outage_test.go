package deliver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// Invariant 3: an outage is not a record's fault. With max_attempts 1 a
// single record-level failure would dead-letter a record; none may.
func TestOutageSpendsNoAttempts(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{sfemu.OutageRefuse, sfemu.Outage503} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := setup(t, options{})
			d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) {
				c.MaxAttempts = 1
				c.AckWait = 300 * time.Millisecond // held records must be kept alive
			}})
			first := rows(300)
			e.publish(first[:100]...)
			waitStats(t, d, "a first part delivered", func(s deliver.Stats) bool { return s.Delivered == 100 })

			e.faults(sfemu.FaultConfig{Outage: &sfemu.OutageFault{Mode: mode, Duration: sfemu.Duration(1500 * time.Millisecond)}})
			e.publish(first[100:]...)
			s := waitStats(t, d, "records held while Salesforce is out", func(s deliver.Stats) bool {
				return s.Circuit.State != deliver.CircuitClosed && s.Held > 0
			})
			require.NotEmpty(t, s.Circuit.LastError)

			waitStats(t, d, "all delivered after the outage", func(s deliver.Stats) bool { return s.Delivered == 300 })
			s = stop(t, d)
			require.Zero(t, s.DeadLettered)
			require.Zero(t, s.Retried, "no attempt was spent")
			require.Equal(t, int64(300), s.Received, "held records were kept alive (InProgress): none was redelivered")
			require.Equal(t, deliver.CircuitClosed, s.Circuit.State)
			require.Positive(t, e.emu.Faults().Status().OutageHits)
			e.requireInSalesforce(first)
			require.Empty(t, e.dlqItems())
			// No record's ledger holds a failure.
			left, err := e.state.List(context.Background(), "attempts/")
			require.NoError(t, err)
			require.Empty(t, left)
		})
	}
}

func TestDailyAPILimitPausesAndResumes(t *testing.T) {
	t.Parallel()
	e := setup(t, options{sfConfig: func(c *salesforce.Config) { c.APIReserve = -1 }})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) {
		c.MaxAttempts = 1
		c.BatchSize = 10
		c.Concurrency = 1
	}})
	want := rows(100)
	e.publish(want[:10]...)
	waitStats(t, d, "first batch", func(s deliver.Stats) bool { return s.Delivered == 10 })

	used, _ := e.emu.Org().APIUsage()
	e.emu.Org().SetAPILimit(used + 3) // three more calls today
	e.publish(want[10:]...)
	s := waitStats(t, d, "paused at the limit", func(s deliver.Stats) bool {
		return s.Circuit.State != deliver.CircuitClosed && s.Held > 0
	})
	require.Less(t, s.Delivered, int64(100))
	paused := s.Delivered
	// While paused, nothing more goes through.
	require.Never(t, func() bool { return d.Stats().Delivered > paused }, 300*time.Millisecond, 20*time.Millisecond)

	e.emu.Org().SetAPILimit(100000)
	waitStats(t, d, "resumed", func(s deliver.Stats) bool { return s.Delivered == 100 })
	s = stop(t, d)
	require.Zero(t, s.DeadLettered+s.Retried)
	e.requireInSalesforce(want)
}

func TestSessionsExpiringMidRunReauthenticate(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.MaxAttempts = 1; c.BatchSize = 20 }})
	want := rows(400)
	for i := 0; i < 400; i += 100 {
		e.publish(want[i : i+100]...)
		waitStats(t, d, "part delivered", func(s deliver.Stats) bool { return s.Delivered >= int64(i+50) })
		e.faults(sfemu.FaultConfig{ExpireSessions: true})
	}
	waitStats(t, d, "all delivered", func(s deliver.Stats) bool { return s.Delivered == 400 })
	s := stop(t, d)
	require.Zero(t, s.DeadLettered+s.Retried)
	e.requireInSalesforce(want)
	require.GreaterOrEqual(t, e.client.TokenRequests(), int64(4), "logged in again after each expiry")
}

func TestStopDrainsInFlightBatches(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	e.faults(sfemu.FaultConfig{Latency: []sfemu.LatencyFault{{Match: sfemu.Match{Endpoint: "collections.*"}, Fixed: sfemu.Duration(400 * time.Millisecond)}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.BatchSize = 20; c.AckWait = 2 * time.Second }})
	e.publish(rows(200)...)
	waitStats(t, d, "a batch in flight", func(s deliver.Stats) bool { return s.InFlight > 0 })
	s := stop(t, d) // waits for the batches in hand
	require.Positive(t, s.Delivered)
	require.Less(t, s.Delivered, int64(200))
	require.Zero(t, s.DeadLettered+s.Retried)
	// What the loop received was written and acked, or handed back (invariant 6).
	// Messages still in transit to a pull request that Stop abandoned never
	// reached the loop; the broker redelivers them after the ack wait (2s here).
	require.Equal(t, s.Received, s.Ended())
	require.Len(t, e.contacts(), int(s.Delivered))

	// Nothing is lost: the next run delivers the rest.
	e.faults(sfemu.FaultConfig{})
	d2 := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.AckWait = 2 * time.Second }})
	waitStats(t, d2, "the rest delivered", func(x deliver.Stats) bool { return x.Delivered == 200-s.Delivered })
	stop(t, d2)
	e.requireInSalesforce(rows(200))
}

func TestStopDuringAnOutageHandsRecordsBack(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.MaxAttempts = 1 }})
	e.faults(sfemu.FaultConfig{Outage: &sfemu.OutageFault{Mode: sfemu.OutageRefuse, Duration: sfemu.Duration(time.Hour)}})
	e.publish(rows(30)...)
	waitStats(t, d, "held", func(s deliver.Stats) bool { return s.Held > 0 })
	s := stop(t, d)
	require.Positive(t, s.Released)
	require.Zero(t, s.Delivered+s.DeadLettered+s.Retried)

	// A new loop delivers them all once Salesforce is back: no attempt was
	// spent (max_attempts is 1).
	e.faults(sfemu.FaultConfig{})
	d2 := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.MaxAttempts = 1 }})
	waitStats(t, d2, "delivered", func(s deliver.Stats) bool { return s.Delivered == 30 })
	stop(t, d2)
	e.requireInSalesforce(rows(30))
}

// An error no record can get past (here: the external ID field does not
// exist on the object) is not the records' fault: they are held, not
// dead-lettered, until someone fixes it.
func TestOrgWideRefusalHoldsRecords(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	d := e.deliverer("leads", options{syncCfg: func(s *config.Sync) {
		s.Object = "Lead" // Lead has no Counselor_Id__c
		s.Fields = append(s.Fields, config.Field{Name: "Company", Expr: `"ACME"`})
	}, deliver: func(c *deliver.Config) { c.MaxAttempts = 1 }})
	e.publish(rows(10)...)
	s := waitStats(t, d, "held", func(s deliver.Stats) bool { return s.Held == 10 && s.Circuit.Openings >= 2 })
	require.Contains(t, s.Circuit.LastError, "NOT_FOUND")
	s = stop(t, d)
	require.Zero(t, s.DeadLettered+s.Retried+s.Delivered)
	require.Equal(t, int64(10), s.Released)
	require.Empty(t, e.dlqItems())
}
