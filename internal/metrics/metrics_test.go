package metrics

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/web"
)

func TestCollect(t *testing.T) {
	t.Parallel()
	st := web.Status{
		Ready:      true,
		Salesforce: web.SalesforceStatus{APIUsed: 12, APIMax: 1000, Concurrency: 10},
		Sources:    []web.SourceStatus{{Name: "db", Published: 7, LastRun: time.Unix(100, 0)}},
		Syncs:      []web.SyncStatus{{Name: "counselors", State: "running", Delivered: 5, DeadLettered: 1, DLQ: 1}},
	}
	reg := NewRegistry(func(context.Context) web.Status { return st })
	want := `
# HELP sfbridge_sync_records_total Records a sync has finished with, by outcome: delivered, superseded (a newer version was delivered), filtered (by the sync's rules), dead_lettered, and retried (a retry was scheduled).
# TYPE sfbridge_sync_records_total counter
sfbridge_sync_records_total{outcome="dead_lettered",sync="counselors"} 1
sfbridge_sync_records_total{outcome="delivered",sync="counselors"} 5
sfbridge_sync_records_total{outcome="filtered",sync="counselors"} 0
sfbridge_sync_records_total{outcome="retried",sync="counselors"} 0
sfbridge_sync_records_total{outcome="superseded",sync="counselors"} 0
# HELP sfbridge_source_last_run_timestamp_seconds Unix time a source last finished a run (0: never).
# TYPE sfbridge_source_last_run_timestamp_seconds gauge
sfbridge_source_last_run_timestamp_seconds{source="db"} 100
# HELP sfbridge_ready 1 when the daemon is ready (every part started).
# TYPE sfbridge_ready gauge
sfbridge_ready 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"sfbridge_sync_records_total", "sfbridge_source_last_run_timestamp_seconds", "sfbridge_ready"))
}

// TestCatalogIsDocumented keeps docs/metrics.md in step with the catalog.
func TestCatalogIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/metrics.md")
	require.NoError(t, err)
	reg := NewRegistry(func(context.Context) web.Status {
		return web.Status{Sources: []web.SourceStatus{{Name: "s"}}, Syncs: []web.SyncStatus{{Name: "y", State: "running"}}}
	})
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "sfbridge_") {
			continue
		}
		require.Contains(t, string(doc), "`"+name+"`", "docs/metrics.md must describe %s", name)
	}
}
