package alert

import (
	"maps"
	"slices"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
)

// defaultQuiet is how long without dead letters resolves a DLQ alert when
// the group window is 0.
const defaultQuiet = time.Minute

// tracker is one channel's alert state. It is pure: every method takes the
// time and returns the messages to send, so its timing is tested without a
// clock. The Dispatcher serialises calls.
type tracker struct {
	name    string
	events  map[config.AlertEvent]bool
	window  time.Duration // group_window
	openFor time.Duration // circuit_open_for

	dlq     map[string]*dlqState
	circuit map[string]*circuitState
	auth    *authState
	stopped map[string]time.Time
}

type dlqState struct {
	since     time.Time // first dead letter of the episode
	firing    bool      // a message was sent this episode
	windowEnd time.Time
	count     int // in the current window
	total     int // sent so far this episode
	codes     map[string]int
}

type circuitState struct {
	since   time.Time
	cause   string
	alerted bool
}

type authState struct {
	since time.Time
	cause string
}

func newTracker(a config.Alert) *tracker {
	t := &tracker{
		name:    a.Name,
		events:  map[config.AlertEvent]bool{},
		window:  a.GroupWindow,
		openFor: a.CircuitOpenFor,
		dlq:     map[string]*dlqState{},
		circuit: map[string]*circuitState{},
		stopped: map[string]time.Time{},
	}
	for _, e := range a.Events {
		t.events[e] = true
	}
	return t
}

func (t *tracker) msg(ev config.AlertEvent, st Status, sync string, since, now time.Time) *Message {
	return &Message{Source: "sfbridge", Alert: t.name, Event: ev, Status: st, Sync: sync, Since: since.UTC(), At: now.UTC()}
}

func (t *tracker) quiet() time.Duration {
	if t.window > 0 {
		return t.window
	}
	return defaultQuiet
}

// deadLettered counts one record of sync reaching the DLQ with code.
func (t *tracker) deadLettered(sync, code string, now time.Time) []Message {
	if !t.events[config.EventDLQ] {
		return nil
	}
	s := t.dlq[sync]
	if s == nil {
		s = &dlqState{since: now, codes: map[string]int{}}
		t.dlq[sync] = s
	}
	if s.count == 0 {
		// A new window opens with this record (a resolved check pending
		// after a sent window becomes this window).
		s.windowEnd = now.Add(t.window)
	}
	s.count++
	s.codes[code]++
	return t.due(now)
}

// circuitOpened records that sync's circuit is open (again) because of cause.
func (t *tracker) circuitOpened(sync, cause string, now time.Time) []Message {
	if !t.events[config.EventCircuitOpen] {
		return nil
	}
	if s := t.circuit[sync]; s != nil {
		s.cause = cause
		return t.due(now)
	}
	t.circuit[sync] = &circuitState{since: now, cause: cause}
	return t.due(now)
}

// circuitClosed records that sync delivered again.
func (t *tracker) circuitClosed(sync string, now time.Time) []Message {
	s := t.circuit[sync]
	if s == nil {
		return nil
	}
	delete(t.circuit, sync)
	if !s.alerted {
		return nil
	}
	m := t.msg(config.EventCircuitOpen, Resolved, sync, s.since, now)
	m.Cause = s.cause
	m.Text = circuitResolvedText(m)
	return []Message{*m}
}

func (t *tracker) authFailed(cause string, now time.Time) []Message {
	if !t.events[config.EventAuthFailure] || t.auth != nil {
		return nil
	}
	t.auth = &authState{since: now, cause: cause}
	m := t.msg(config.EventAuthFailure, Firing, "", now, now)
	m.Cause = cause
	m.Text = authText(m)
	return []Message{*m}
}

func (t *tracker) authRecovered(now time.Time) []Message {
	if t.auth == nil {
		return nil
	}
	s := t.auth
	t.auth = nil
	m := t.msg(config.EventAuthFailure, Resolved, "", s.since, now)
	m.Cause = s.cause
	m.Text = authResolvedText(m)
	return []Message{*m}
}

func (t *tracker) syncStopped(sync, reason string, now time.Time) []Message {
	if !t.events[config.EventSyncStopped] {
		return nil
	}
	if _, done := t.stopped[sync]; done {
		return nil
	}
	t.stopped[sync] = now
	m := t.msg(config.EventSyncStopped, Firing, sync, now, now)
	m.Cause = reason
	m.Text = stoppedText(m)
	return []Message{*m}
}

func (t *tracker) syncStarted(sync string, now time.Time) []Message {
	since, was := t.stopped[sync]
	if !was {
		return nil
	}
	delete(t.stopped, sync)
	m := t.msg(config.EventSyncStopped, Resolved, sync, since, now)
	m.Text = startedText(m)
	return []Message{*m}
}

// due returns the messages whose time has come: DLQ windows that ended and
// circuits open for long enough.
func (t *tracker) due(now time.Time) []Message {
	var out []Message
	for _, sync := range slices.Sorted(maps.Keys(t.dlq)) {
		s := t.dlq[sync]
		if now.Before(s.windowEnd) {
			continue
		}
		if s.count == 0 {
			// A whole quiet window: recovered.
			delete(t.dlq, sync)
			if s.firing {
				m := t.msg(config.EventDLQ, Resolved, sync, s.since, now)
				m.Total = s.total
				m.Text = dlqResolvedText(m, t.quiet())
				out = append(out, *m)
			}
			continue
		}
		update := s.firing
		s.total += s.count
		m := t.msg(config.EventDLQ, Firing, sync, s.since, now)
		m.Count, m.Total, m.Codes = s.count, s.total, s.codes
		m.Text = dlqText(m, t.window, update)
		out = append(out, *m)
		s.firing = true
		s.count = 0
		s.codes = map[string]int{}
		s.windowEnd = now.Add(t.quiet())
	}
	for _, sync := range slices.Sorted(maps.Keys(t.circuit)) {
		s := t.circuit[sync]
		if s.alerted || now.Sub(s.since) < t.openFor {
			continue
		}
		s.alerted = true
		m := t.msg(config.EventCircuitOpen, Firing, sync, s.since, now)
		m.Cause = s.cause
		m.Text = circuitText(m)
		out = append(out, *m)
	}
	return out
}

// next returns when due has something to do, or the zero time.
func (t *tracker) next() time.Time {
	var at time.Time
	earlier := func(x time.Time) {
		if at.IsZero() || x.Before(at) {
			at = x
		}
	}
	for _, s := range t.dlq {
		earlier(s.windowEnd)
	}
	for _, s := range t.circuit {
		if !s.alerted {
			earlier(s.since.Add(t.openFor))
		}
	}
	return at
}
