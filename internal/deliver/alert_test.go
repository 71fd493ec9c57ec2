package deliver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/alert"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// webhook is an alert receiver: an HTTP server keeping every message.
type webhook struct {
	mu  sync.Mutex
	got []alert.Message
}

func (w *webhook) messages() []alert.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]alert.Message(nil), w.got...)
}

// count returns how many messages have event and status.
func (w *webhook) count(ev config.AlertEvent, st alert.Status) int {
	n := 0
	for _, m := range w.messages() {
		if m.Event == ev && m.Status == st {
			n++
		}
	}
	return n
}

func startAlerts(t *testing.T, mut func(*config.Alert)) (*alert.Dispatcher, *webhook) {
	t.Helper()
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m alert.Message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.got = append(w.got, m)
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	a := config.Alert{
		Name: "ops", Type: config.AlertWebhook, URL: config.NewSecret(srv.URL), Events: config.AlertEvents,
		GroupWindow: 200 * time.Millisecond, CircuitOpenFor: 200 * time.Millisecond, Timeout: 5 * time.Second,
	}
	if mut != nil {
		mut(&a)
	}
	d, err := alert.New([]config.Alert{a}, alert.Options{Logger: testLogger(t), Retry: retry.Policy{Initial: 10 * time.Millisecond, Multiplier: 2}})
	require.NoError(t, err)
	d.Start(context.Background())
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d, w
}

// One message per state change, with a recovery message: an outage longer
// than circuit_open_for, rejected credentials, dead letters (grouped).
func TestAlertsOncePerStateChange(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	alerts, hook := startAlerts(t, nil)
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.Alerts = alerts }})
	all := rows(60)
	e.publish(all[:10]...)
	waitStats(t, d, "first part", func(s deliver.Stats) bool { return s.Delivered == 10 })

	// The sessions expire and the token endpoint refuses the credentials
	// for a while: records are held, the circuit opens.
	e.faults(sfemu.FaultConfig{ExpireSessions: true, HTTP: []sfemu.HTTPFault{{
		Match: sfemu.Match{Endpoint: "oauth.token"}, Status: 400, Body: "json",
		ErrorCode: "INVALID_GRANT", Message: "authentication failure",
	}}})
	e.publish(all[10:30]...)
	waitStats(t, d, "held", func(s deliver.Stats) bool { return s.Held > 0 })
	require.Eventually(t, func() bool {
		return hook.count(config.EventAuthFailure, alert.Firing) == 1 && hook.count(config.EventCircuitOpen, alert.Firing) == 1
	}, waitFor, pollEvery, "%+v", hook.messages())

	// The credentials work again: one recovery message for each.
	e.faults(sfemu.FaultConfig{})
	waitStats(t, d, "delivered", func(s deliver.Stats) bool { return s.Delivered == 30 })
	require.Eventually(t, func() bool {
		return hook.count(config.EventAuthFailure, alert.Resolved) == 1 && hook.count(config.EventCircuitOpen, alert.Resolved) == 1
	}, waitFor, pollEvery, "%+v", hook.messages())

	// Dead letters: one grouped message, then a recovery.
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Keys: []string{"c-40", "c-41", "c-42"}, Error: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}}})
	e.publish(all[30:]...)
	waitStats(t, d, "settled", func(s deliver.Stats) bool { return s.Delivered+s.DeadLettered == 60 })
	require.Eventually(t, func() bool { return hook.count(config.EventDLQ, alert.Resolved) == 1 }, waitFor, pollEvery, "%+v", hook.messages())
	stop(t, d)

	ms := hook.messages()
	dead := 0
	for _, m := range ms {
		if m.Event == config.EventDLQ && m.Status == alert.Firing {
			dead += m.Count
		}
	}
	require.Equal(t, 3, dead, "%+v", ms)
	require.LessOrEqual(t, hook.count(config.EventDLQ, alert.Firing), 2, "grouped, not one per record")
	require.Equal(t, 1, hook.count(config.EventAuthFailure, alert.Firing))
	require.Equal(t, 1, hook.count(config.EventCircuitOpen, alert.Firing))
	require.Equal(t, 1, hook.count(config.EventCircuitOpen, alert.Resolved))
	require.Equal(t, 1, hook.count(config.EventAuthFailure, alert.Resolved))
	require.Zero(t, hook.count(config.EventSyncStopped, alert.Firing))
}

// A short outage, under circuit_open_for, sends nothing.
func TestShortOutageSendsNoAlert(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	alerts, hook := startAlerts(t, func(a *config.Alert) { a.CircuitOpenFor = time.Hour })
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) { c.Alerts = alerts }})
	e.faults(sfemu.FaultConfig{Outage: &sfemu.OutageFault{Mode: sfemu.Outage503, Duration: sfemu.Duration(300 * time.Millisecond)}})
	e.publish(rows(20)...)
	waitStats(t, d, "delivered", func(s deliver.Stats) bool { return s.Delivered == 20 })
	s := stop(t, d)
	require.Zero(t, s.Retried)
	require.Positive(t, e.emu.Faults().Status().OutageHits)
	require.Empty(t, hook.messages())
}

func TestDLQWindowAlertsSyncStopped(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	alerts, hook := startAlerts(t, nil)
	e.faults(sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Probability: 1, Error: "REQUIRED_FIELD_MISSING"}}})
	d := e.deliverer("counselors", options{deliver: func(c *deliver.Config) {
		c.Alerts = alerts
		c.Window = config.DLQWindow{Size: 10, Threshold: 50}
	}})
	e.publish(rows(50)...)
	<-d.Done()
	require.Eventually(t, func() bool { return hook.count(config.EventSyncStopped, alert.Firing) == 1 }, waitFor, pollEvery)
	stopped := hook.messages()
	var m alert.Message
	for _, x := range stopped {
		if x.Event == config.EventSyncStopped {
			m = x
		}
	}
	require.Equal(t, "counselors", m.Sync)
	require.Contains(t, m.Cause, "dlq_window")
}
