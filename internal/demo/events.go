package demo

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// The demo's application events. An application (the platform the
// counselors use) emits two kinds:
//
//   - "rescue.first_active": a counselor's first active rescue, which
//     becomes a Case (external ID Platform_Event_Id__c = the event id) linked
//     to the counselor's Contact by its external ID;
//   - "counselor.login": a login.
//
// Every event also updates the counselor's Contact: Last_Active_At__c is
// the time of the counselor's newest event, whatever order the events
// arrive in (DESIGN.md invariant 4).
const (
	EventRescue = "rescue.first_active"
	EventLogin  = "counselor.login"
)

// EventsSyncsYAML is the syncs block that maps the demo's events from the
// source named source (a files, s3 or http source).
func EventsSyncsYAML(source string) string {
	return fmt.Sprintf(`  - name: %[1]s_rescues
    from: %[1]s.rescue.*
    object: Case
    external_id: Platform_Event_Id__c
    fields:
      Platform_Event_Id__c: event.id
      Subject: '"First active rescue of counselor " + event.counselor_id'
      Origin: '"Web"'
      Severity__c: event.severity
      Rescue_Started_At__c: event.time
      Contact: {Counselor_Id__c: event.counselor_id}
  - name: %[1]s_activity
    from: %[1]s
    when: event.counselor_id != nil
    object: Contact
    external_id: Counselor_Id__c
    fields:
      Counselor_Id__c: event.counselor_id
      LastName: event.name
      Last_Active_At__c: event.time
`, source)
}

// EventLedger is the truth event tests and the demo compare the org with:
// every event sfbridge accepted. It is safe for concurrent use.
type EventLedger struct {
	mu      sync.Mutex
	rescues map[string]map[string]any // event id → event
	newest  map[string]time.Time      // counselor id → newest event time
	names   map[string]string         // counselor id → name in the newest event
	ids     map[string]bool
}

// NewEventLedger returns an empty ledger.
func NewEventLedger() *EventLedger {
	return &EventLedger{rescues: map[string]map[string]any{}, newest: map[string]time.Time{}, names: map[string]string{}, ids: map[string]bool{}}
}

// Add records an accepted event (one MakeEvent made). Adding an event twice
// (a resend) changes nothing.
func (l *EventLedger) Add(ev map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := ev["id"].(string)
	if l.ids[id] {
		return
	}
	l.ids[id] = true
	c := ev["counselor_id"].(string)
	t, _ := time.Parse(time.RFC3339Nano, ev["time"].(string))
	if ev["type"] == EventRescue {
		l.rescues[id] = ev
	}
	if t.After(l.newest[c]) {
		l.newest[c] = t
		l.names[c] = ev["name"].(string)
	}
}

// Len returns how many distinct events the ledger holds.
func (l *EventLedger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

// EventMaker makes the demo's events: counselors counselor ids, times
// scattered over the last hour (so they arrive out of order), at
// millisecond precision (what a Salesforce datetime keeps).
type EventMaker struct {
	mu         sync.Mutex
	rnd        *rand.Rand
	counselors int
	seq        int
	prefix     string
	base       time.Time
	used       map[int64]bool
}

// NewEventMaker returns a maker whose event ids and counselor ids start
// with prefix (so makers with different prefixes never share a counselor).
func NewEventMaker(seed uint64, counselors int, prefix string, now time.Time) *EventMaker {
	return &EventMaker{rnd: rand.New(rand.NewPCG(seed, seed)), counselors: counselors, prefix: prefix, base: now.UTC().Truncate(time.Millisecond), used: map[int64]bool{}}
}

// Make returns the next event, a rescue one time in four.
func (m *EventMaker) Make() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	c := fmt.Sprintf("%sc%d", m.prefix, m.rnd.IntN(m.counselors)+1)
	// Distinct times, so a counselor's newest event is unambiguous.
	var t time.Time
	for {
		t = m.base.Add(-time.Duration(m.rnd.IntN(3_600_000)) * time.Millisecond)
		if !m.used[t.UnixMilli()] {
			m.used[t.UnixMilli()] = true
			break
		}
	}
	ev := map[string]any{
		"id":           fmt.Sprintf("%s%d", m.prefix, m.seq),
		"type":         EventLogin,
		"time":         t.Format("2006-01-02T15:04:05.000Z07:00"),
		"counselor_id": c,
		"name":         fmt.Sprintf("Counselor %s (%d)", c, m.seq),
	}
	if m.rnd.IntN(4) == 0 {
		ev["type"] = EventRescue
		ev["severity"] = m.rnd.IntN(5) + 1
	}
	return ev
}

// CompareEvents checks that the org holds what the ledger says: one Case
// per rescue event with its fields and its counselor's Contact, one Contact
// per counselor whose Last_Active_At__c and LastName are those of the
// counselor's newest event, and no other Case. It returns one line per
// difference (at most limit), empty when in sync.
func CompareEvents(org *sfemu.Org, l *EventLedger, limit int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < limit {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	contacts, _ := org.Dump("Contact", false)
	contactByCounselor := map[string]map[string]any{}
	for _, c := range contacts {
		if ext, _ := c["Counselor_Id__c"].(string); ext != "" {
			contactByCounselor[ext] = c
		}
	}
	counselors := make([]string, 0, len(l.newest))
	for c := range l.newest {
		counselors = append(counselors, c)
	}
	sort.Strings(counselors)
	for _, c := range counselors {
		ct, ok := contactByCounselor[c]
		if !ok {
			add("counselor %s: no Contact", c)
			continue
		}
		if got := sfTime(ct["Last_Active_At__c"]); !got.Equal(l.newest[c]) {
			add("counselor %s: Contact.Last_Active_At__c %v, want %v (the newest event's)", c, ct["Last_Active_At__c"], l.newest[c].Format(time.RFC3339Nano))
		}
		if ct["LastName"] != l.names[c] {
			add("counselor %s: Contact.LastName %q, want %q", c, ct["LastName"], l.names[c])
		}
	}
	cases, _ := org.Dump("Case", false)
	seen := map[string]bool{}
	for _, cs := range cases {
		id, _ := cs["Platform_Event_Id__c"].(string)
		ev, ok := l.rescues[id]
		if !ok {
			add("Case %v: Platform_Event_Id__c %q is not an accepted rescue event", cs["Id"], id)
			continue
		}
		if seen[id] {
			add("event %s: more than one Case", id)
		}
		seen[id] = true
		want, _ := time.Parse(time.RFC3339Nano, ev["time"].(string))
		if got := sfTime(cs["Rescue_Started_At__c"]); !got.Equal(want) {
			add("event %s: Case.Rescue_Started_At__c %v, want %s", id, cs["Rescue_Started_At__c"], ev["time"])
		}
		if fmt.Sprint(cs["Severity__c"]) != fmt.Sprint(ev["severity"]) {
			add("event %s: Case.Severity__c %v, want %v", id, cs["Severity__c"], ev["severity"])
		}
		if ct := contactByCounselor[ev["counselor_id"].(string)]; ct == nil || cs["ContactId"] != ct["Id"] {
			add("event %s: Case.ContactId %v is not counselor %s's Contact", id, cs["ContactId"], ev["counselor_id"])
		}
	}
	for id := range l.rescues {
		if !seen[id] {
			add("event %s: no Case", id)
		}
	}
	return diffs
}

// sfTime reads a datetime as the emulator keeps it; zero when it cannot.
func sfTime(v any) time.Time {
	s, _ := v.(string)
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// EventsConfigYAML is a config with event sources (sourcesYAML: the
// entries of the sources list, indented by two spaces) whose syncs are
// EventsSyncsYAML of each name in syncSources, into the emulator at
// emulatorURL.
func EventsConfigYAML(dataDir, emulatorURL, adminListen, sourcesYAML string, syncSources ...string) string {
	syncs := ""
	for _, s := range syncSources {
		syncs += EventsSyncsYAML(s)
	}
	return fmt.Sprintf(`version: 1
data_dir: %[1]q
nats: embedded
salesforce:
  login_url: %[2]s
  auth:
    flow: client_credentials
    client_id: %[4]s
    client_secret: ${env:SFBRIDGE_DEMO_CLIENT_SECRET}
sources:
%[5]ssyncs:
%[6]sdelivery:
  batch_size: 200
  # A Case whose Contact is not there yet is retried: keep that short.
  backoff: {initial: 200ms, max: 2s}
admin:
  listen: %[3]s
`, dataDir, emulatorURL, adminListen, sfemu.DemoClientID, sourcesYAML, syncs)
}
