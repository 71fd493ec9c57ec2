// Package metrics is the one catalog of sfbridge's Prometheus metrics
// (docs/metrics.md lists them). The figures come from the daemon's status
// snapshot (web.Status) at scrape time, so the data path never touches
// Prometheus types and a scrape never sees a half-updated set.
package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sfbridge/sfbridge/internal/web"
)

// The catalog. Names end in _total for counters and _seconds for times.
var (
	syncRecords = prometheus.NewDesc("sfbridge_sync_records_total",
		"Records a sync has finished with, by outcome: delivered, superseded (a newer version was delivered), filtered (by the sync's rules), dead_lettered, and retried (a retry was scheduled).",
		[]string{"sync", "outcome"}, nil)
	syncPending = prometheus.NewDesc("sfbridge_sync_pending_records",
		"Records waiting in the queue for a sync and not yet handed to it.", []string{"sync"}, nil)
	syncInFlight = prometheus.NewDesc("sfbridge_sync_in_flight_records",
		"Records handed to a sync and not yet settled.", []string{"sync"}, nil)
	syncDLQ = prometheus.NewDesc("sfbridge_sync_dlq_records",
		"Records of a sync in the dead-letter queue now.", []string{"sync"}, nil)
	syncState = prometheus.NewDesc("sfbridge_sync_state",
		"1 for the state a sync is in (running, circuit_open, stopped, …), per state.", []string{"sync", "state"}, nil)
	sourcePublished = prometheus.NewDesc("sfbridge_source_published_records_total",
		"Records a source has published to the queue (each confirmed stored by the broker).", []string{"source"}, nil)
	sourceRejected = prometheus.NewDesc("sfbridge_source_rejected_events_total",
		"Events an event source refused as invalid (dead-lettered, or refused to the HTTP client).", []string{"source"}, nil)
	sourceQuarantined = prometheus.NewDesc("sfbridge_source_quarantined_inputs_total",
		"Whole inputs (files, objects) an event source quarantined as unreadable.", []string{"source"}, nil)
	sourceLastRun = prometheus.NewDesc("sfbridge_source_last_run_timestamp_seconds",
		"Unix time a source last finished a run (0: never).", []string{"source"}, nil)
	sourceErrored = prometheus.NewDesc("sfbridge_source_error",
		"1 when a source's last run ended with an error.", []string{"source"}, nil)
	apiUsed = prometheus.NewDesc("sfbridge_salesforce_api_calls_used",
		"The org's API calls used in the last 24 hours, as Salesforce last reported (Sforce-Limit-Info).", nil, nil)
	apiMax = prometheus.NewDesc("sfbridge_salesforce_api_calls_max",
		"The org's daily API call allocation, as Salesforce last reported.", nil, nil)
	sfConcurrency = prometheus.NewDesc("sfbridge_salesforce_concurrency_limit",
		"The client's current limit of concurrent Salesforce requests (shrinks on throttling, grows back).", nil, nil)
	sfInFlight = prometheus.NewDesc("sfbridge_salesforce_in_flight_requests",
		"Salesforce requests in flight.", nil, nil)
	ready = prometheus.NewDesc("sfbridge_ready",
		"1 when the daemon is ready (every part started).", nil, nil)
)

// Collector turns status snapshots into the catalog's metrics.
type Collector struct {
	status func(context.Context) web.Status
}

// NewRegistry returns a registry with the catalog (fed by status) and the
// Go runtime and process collectors.
func NewRegistry(status func(context.Context) web.Status) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&Collector{status: status},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Describe sends every descriptor of the catalog.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{syncRecords, syncPending, syncInFlight, syncDLQ, syncState,
		sourcePublished, sourceRejected, sourceQuarantined, sourceLastRun, sourceErrored, apiUsed, apiMax, sfConcurrency, sfInFlight, ready} {
		ch <- d
	}
}

// Collect takes one snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.status(context.Background())
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, s := range st.Syncs {
		counter(syncRecords, s.Delivered, s.Name, "delivered")
		counter(syncRecords, s.Superseded, s.Name, "superseded")
		counter(syncRecords, s.Filtered, s.Name, "filtered")
		counter(syncRecords, s.DeadLettered, s.Name, "dead_lettered")
		counter(syncRecords, s.Retried, s.Name, "retried")
		gauge(syncPending, float64(s.Pending), s.Name)
		gauge(syncInFlight, float64(s.InFlight), s.Name)
		gauge(syncDLQ, float64(s.DLQ), s.Name)
		gauge(syncState, 1, s.Name, s.State)
	}
	for _, s := range st.Sources {
		counter(sourcePublished, s.Published, s.Name)
		counter(sourceRejected, s.Rejected, s.Name)
		counter(sourceQuarantined, s.Quarantined, s.Name)
		var last float64
		if !s.LastRun.IsZero() {
			last = float64(s.LastRun.UnixNano()) / 1e9
		}
		gauge(sourceLastRun, last, s.Name)
		gauge(sourceErrored, boolf(s.LastError != ""), s.Name)
	}
	gauge(apiUsed, float64(st.Salesforce.APIUsed))
	gauge(apiMax, float64(st.Salesforce.APIMax))
	gauge(sfConcurrency, float64(st.Salesforce.Concurrency))
	gauge(sfInFlight, float64(st.Salesforce.InFlight))
	gauge(ready, boolf(st.Ready))
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var _ prometheus.Collector = (*Collector)(nil)
