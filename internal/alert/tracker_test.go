package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
)

var t0 = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func channel(mut func(*config.Alert)) *tracker {
	a := config.Alert{
		Name: "ops", Type: config.AlertWebhook, Events: config.AlertEvents,
		GroupWindow: time.Minute, CircuitOpenFor: 5 * time.Minute,
	}
	if mut != nil {
		mut(&a)
	}
	return newTracker(a)
}

// kinds renders messages as "event/status/sync" for compact assertions.
func kinds(ms []Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, string(m.Event)+"/"+string(m.Status)+"/"+m.Sync)
	}
	return out
}

func TestDeadLettersAreGroupedPerSyncAndWindow(t *testing.T) {
	t.Parallel()
	tr := channel(nil)
	require.Empty(t, tr.deadLettered("a", "FIELD_CUSTOM_VALIDATION_EXCEPTION", at(0)))
	require.Empty(t, tr.deadLettered("a", "FIELD_CUSTOM_VALIDATION_EXCEPTION", at(10*time.Second)))
	require.Empty(t, tr.deadLettered("a", "REQUIRED_FIELD_MISSING", at(20*time.Second)))
	require.Empty(t, tr.deadLettered("b", "DUPLICATE_VALUE", at(30*time.Second)))
	require.Equal(t, at(time.Minute), tr.next())

	ms := tr.due(at(time.Minute))
	require.Equal(t, []string{"dlq/firing/a"}, kinds(ms))
	m := ms[0]
	require.Equal(t, 3, m.Count)
	require.Equal(t, 3, m.Total)
	require.Equal(t, map[string]int{"FIELD_CUSTOM_VALIDATION_EXCEPTION": 2, "REQUIRED_FIELD_MISSING": 1}, m.Codes)
	require.Equal(t, t0, m.Since)
	require.Equal(t, "sfbridge: 3 records of sync a went to the DLQ in the last 1m0s (FIELD_CUSTOM_VALIDATION_EXCEPTION ×2, REQUIRED_FIELD_MISSING ×1). Inspect them with: sfbridge dlq list --sync a", m.Text)

	// b's window ends 30s later; a gets more within the next window.
	require.Empty(t, tr.deadLettered("a", "REQUIRED_FIELD_MISSING", at(70*time.Second)))
	ms = tr.due(at(90 * time.Second))
	require.Equal(t, []string{"dlq/firing/b"}, kinds(ms))
	ms = tr.due(at(130 * time.Second))
	require.Equal(t, []string{"dlq/firing/a"}, kinds(ms))
	require.Equal(t, 1, ms[0].Count)
	require.Equal(t, 4, ms[0].Total)
	require.Contains(t, ms[0].Text, "1 record more of sync a")

	// A whole quiet window resolves each, once.
	ms = tr.due(at(150 * time.Second))
	require.Equal(t, []string{"dlq/resolved/b"}, kinds(ms))
	require.Empty(t, tr.due(at(151*time.Second)))
	ms = tr.due(at(190 * time.Second))
	require.Equal(t, []string{"dlq/resolved/a"}, kinds(ms))
	require.Equal(t, 4, ms[0].Total)
	require.Empty(t, tr.due(at(time.Hour)))
	require.True(t, tr.next().IsZero())
}

func TestZeroGroupWindowSendsAtOnce(t *testing.T) {
	t.Parallel()
	tr := channel(func(a *config.Alert) { a.GroupWindow = 0 })
	require.Equal(t, []string{"dlq/firing/a"}, kinds(tr.deadLettered("a", "X", at(0))))
	require.Equal(t, []string{"dlq/firing/a"}, kinds(tr.deadLettered("a", "X", at(time.Second))))
	require.Empty(t, tr.due(at(30*time.Second)))
	require.Equal(t, []string{"dlq/resolved/a"}, kinds(tr.due(at(61*time.Second))))
}

func TestCircuitAlertsOnlyAfterTheThresholdAndOnce(t *testing.T) {
	t.Parallel()
	tr := channel(nil)
	// A short outage: no message at all.
	require.Empty(t, tr.circuitOpened("a", "connection refused", at(0)))
	require.Empty(t, tr.due(at(time.Minute)))
	require.Empty(t, tr.circuitClosed("a", at(2*time.Minute)))

	// A long one: one firing, one resolved.
	require.Empty(t, tr.circuitOpened("a", "connection refused", at(10*time.Minute)))
	require.Equal(t, at(15*time.Minute), tr.next())
	require.Empty(t, tr.circuitOpened("a", "HTTP 503", at(12*time.Minute)), "reported again: the cause is updated")
	ms := tr.due(at(15 * time.Minute))
	require.Equal(t, []string{"circuit_open/firing/a"}, kinds(ms))
	require.Equal(t, "HTTP 503", ms[0].Cause)
	require.Contains(t, ms[0].Text, "has not reached Salesforce for 5m0s")
	require.Empty(t, tr.circuitOpened("a", "HTTP 503", at(16*time.Minute)))
	require.Empty(t, tr.due(at(20*time.Minute)))
	ms = tr.circuitClosed("a", at(21*time.Minute))
	require.Equal(t, []string{"circuit_open/resolved/a"}, kinds(ms))
	require.Equal(t, "sfbridge: sync a delivers to Salesforce again, after 11m0s.", ms[0].Text)
	require.Empty(t, tr.circuitClosed("a", at(22*time.Minute)))
}

func TestAuthFailureOncePerStateChange(t *testing.T) {
	t.Parallel()
	tr := channel(nil)
	ms := tr.authFailed("invalid_grant: authentication failure", at(0))
	require.Equal(t, []string{"auth_failure/firing/"}, kinds(ms))
	require.Empty(t, tr.authFailed("invalid_grant again", at(time.Second)))
	ms = tr.authRecovered(at(time.Minute))
	require.Equal(t, []string{"auth_failure/resolved/"}, kinds(ms))
	require.Empty(t, tr.authRecovered(at(2*time.Minute)))
}

func TestSyncStoppedOnce(t *testing.T) {
	t.Parallel()
	tr := channel(nil)
	require.Empty(t, tr.syncStarted("a", at(0)), "a fresh start says nothing")
	require.Equal(t, []string{"sync_stopped/firing/a"}, kinds(tr.syncStopped("a", "90% failed", at(time.Second))))
	require.Empty(t, tr.syncStopped("a", "90% failed", at(2*time.Second)))
	require.Equal(t, []string{"sync_stopped/resolved/a"}, kinds(tr.syncStarted("a", at(time.Minute))))
}

func TestEventsFilter(t *testing.T) {
	t.Parallel()
	tr := channel(func(a *config.Alert) { a.Events = []config.AlertEvent{config.EventAuthFailure}; a.CircuitOpenFor = 0 })
	require.Empty(t, tr.deadLettered("a", "X", at(0)))
	require.Empty(t, tr.circuitOpened("a", "down", at(0)))
	require.Empty(t, tr.due(at(time.Hour)))
	require.Empty(t, tr.syncStopped("a", "why", at(0)))
	require.Len(t, tr.authFailed("bad", at(0)), 1)
}
