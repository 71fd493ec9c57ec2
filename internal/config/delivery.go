package config

import "time"

// Delivery configures the delivery loop every sync runs (used from issue 5).
// A sync's batch_size and concurrency override these.
type Delivery struct {
	// BatchSize is the most records fetched and written at once.
	BatchSize int `yaml:"batch_size"`
	// Linger is how long a partial batch waits for more records.
	Linger time.Duration `yaml:"linger"`
	// Concurrency is the batches in flight per sync.
	Concurrency int `yaml:"concurrency"`
	// MaxAttempts is how many record-level failures send a record to the
	// DLQ (outages do not count; DESIGN.md invariant 3).
	MaxAttempts int       `yaml:"max_attempts"`
	Backoff     Backoff   `yaml:"backoff"`
	DLQWindow   DLQWindow `yaml:"dlq_window"`
	// MaxBacklog is flow control: a postgres_poll source pauses before its
	// next page while the queue backlog (pending plus unacknowledged) of
	// the syncs reading it exceeds this, and goes on once it is at most
	// half of it. 0 turns it off.
	MaxBacklog int `yaml:"max_backlog"`
	// VersionGuard chooses how DESIGN.md invariant 4 is enforced (ADR 0004):
	// auto uses stream order where it holds, state_store keeps every key's
	// newest version in the state store for every sync.
	VersionGuard VersionGuard `yaml:"version_guard"`
}

// VersionGuard is a value of delivery.version_guard.
type VersionGuard string

// Version guards.
const (
	GuardAuto       VersionGuard = "auto"
	GuardStateStore VersionGuard = "state_store"
)

// VersionGuards lists every version guard.
var VersionGuards = []VersionGuard{GuardAuto, GuardStateStore}

// Queue configures the queue's streams on NATS JetStream.
type Queue struct {
	// DedupWindow is the broker's deduplication window of the input and
	// DLQ streams: a message whose ID was published within it is stored
	// once. The broker keeps every ID of the window in memory.
	DedupWindow time.Duration `yaml:"dedup_window"`
}

// Backoff is the delay before a failed record is retried: Initial, doubling
// per attempt up to Max.
type Backoff struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// DLQWindow stops a sync whose records nearly all fail: if Threshold of the
// last Size records went to the DLQ, the sync stops and alerts instead of
// filling the DLQ. Size 0 turns the window off.
type DLQWindow struct {
	Size      int     `yaml:"size"`
	Threshold Percent `yaml:"threshold"`
}

// AlertType is a kind of alert channel.
type AlertType string

// Alert types.
const (
	AlertWebhook AlertType = "webhook"
)

// AlertTypes lists every alert type.
var AlertTypes = []AlertType{AlertWebhook}

// AlertEvent is something an alert can be sent for.
type AlertEvent string

// Alert events.
const (
	// EventDLQ: records reached the DLQ (grouped per GroupWindow).
	EventDLQ AlertEvent = "dlq"
	// EventCircuitOpen: a circuit stayed open longer than CircuitOpenFor.
	EventCircuitOpen AlertEvent = "circuit_open"
	// EventAuthFailure: Salesforce rejected sfbridge's credentials.
	EventAuthFailure AlertEvent = "auth_failure"
	// EventSyncStopped: a sync stopped (e.g. by its DLQ window).
	EventSyncStopped AlertEvent = "sync_stopped"
)

// AlertEvents lists every alert event.
var AlertEvents = []AlertEvent{EventDLQ, EventCircuitOpen, EventAuthFailure, EventSyncStopped}

// Alert is one alert channel (used from issue 5). Each is sent once per
// state change, with a recovery message.
type Alert struct {
	// Name identifies the alert in logs (default "<type>_<n>").
	Name string    `yaml:"name"`
	Type AlertType `yaml:"type"`
	// URL is the webhook (a Slack incoming webhook works).
	URL Secret `yaml:"url"`
	// Events limits what is sent (default all).
	Events []AlertEvent `yaml:"events"`
	// GroupWindow gathers DLQ records into one message per window.
	GroupWindow time.Duration `yaml:"group_window"`
	// CircuitOpenFor is how long a circuit stays open before it alerts.
	CircuitOpenFor time.Duration `yaml:"circuit_open_for"`
	// Timeout bounds one webhook call.
	Timeout time.Duration `yaml:"timeout"`
}

// Admin is the admin HTTP server: /healthz and /readyz (issue 5), and the
// dashboard, JSON API and /metrics as they land.
type Admin struct {
	Listen string `yaml:"listen"`
	// Token is the bearer token the API and dashboard require; required
	// when Listen is not a loopback address.
	Token Secret `yaml:"token"`
}
