package web

import (
	"context"
	"time"
)

// Provider is what the server shows: the engine implements it.
type Provider interface {
	// Status is a snapshot for the dashboard and GET /v1/status.
	Status(ctx context.Context) Status
	// Ready is nil once the daemon has started every part and can take
	// work; otherwise it says what is not ready.
	Ready() error
}

// Status is the daemon's state as the dashboard and the API show it.
type Status struct {
	Version    string           `json:"version"`
	Started    time.Time        `json:"started"`
	Ready      bool             `json:"ready"`
	NotReady   string           `json:"not_ready,omitempty"`
	Broker     string           `json:"broker"`
	Salesforce SalesforceStatus `json:"salesforce"`
	Sources    []SourceStatus   `json:"sources"`
	Syncs      []SyncStatus     `json:"syncs"`
}

// SalesforceStatus is the org connection and its API budget.
type SalesforceStatus struct {
	InstanceURL string `json:"instance_url,omitempty"`
	APIUsed     int64  `json:"api_used"`
	APIMax      int64  `json:"api_max"`
	Concurrency int    `json:"concurrency_limit"`
	InFlight    int    `json:"in_flight"`
}

// SourceStatus is one source.
type SourceStatus struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	State     string    `json:"state"`
	LastRun   time.Time `json:"last_run,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Published uint64    `json:"published"`
	// Rejected counts events an event source refused (dead-lettered as
	// invalid_event, or refused to an HTTP client); Quarantined counts
	// whole inputs (files, objects) set aside as unreadable.
	Rejected    uint64 `json:"rejected"`
	Quarantined uint64 `json:"quarantined"`
}

// SyncStatus is one sync and the end state of its records (invariant 6).
type SyncStatus struct {
	Name         string `json:"name"`
	Object       string `json:"object"`
	State        string `json:"state"` // running, circuit_open, stopped (DLQ window), …
	StateReason  string `json:"state_reason,omitempty"`
	Delivered    uint64 `json:"delivered"`
	Superseded   uint64 `json:"superseded"`
	Filtered     uint64 `json:"filtered"`
	DeadLettered uint64 `json:"dead_lettered"`
	Retried      uint64 `json:"retried"`
	Pending      uint64 `json:"pending"`
	InFlight     int    `json:"in_flight"`
	DLQ          uint64 `json:"dlq"`
	// Guard is how the version guard orders versions: "state store" or
	// "stream order" (deliver.Stats.Guard), with " (catching up)" while a
	// stream-order guard checks what an earlier process left unsettled.
	Guard string `json:"guard,omitempty"`
}
