package engine_test

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/engine"
	"github.com/sfbridge/sfbridge/internal/pgtest"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// bundle is what an end-to-end test works with.
type bundle struct {
	db     *pgtest.DB
	emu    *sfemu.Emulator
	eng    *engine.Engine // nil when the test runs sfbridge as a process
	cfg    *config.Config
	schema string
}

// options adjust setup; the zero value is setup's.
type options struct {
	orgs, counselors int
	// faults are in force before the engine starts.
	faults *sfemu.FaultConfig
	// config adjusts the demo config before the engine starts.
	config func(*config.Config)
	engine engine.Options
}

// setup creates the demo tables in a schema of the test's own, an emulator
// and an engine running the demo's config on them (embedded NATS).
func setup(t *testing.T, orgs, counselors int) *bundle {
	t.Helper()
	return setupWith(t, options{orgs: orgs, counselors: counselors})
}

func setupWith(t *testing.T, o options) *bundle {
	t.Helper()
	db := pgtest.New(t)
	ctx := t.Context()
	require.NoError(t, demo.Setup(ctx, db.Pool, db.Schema, o.orgs, o.counselors))

	emu := sfemu.New(sfemu.Options{Seed: 1})
	if o.faults != nil {
		require.NoError(t, emu.Faults().Set(*o.faults))
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	cfg, _, err := demo.WriteConfig(dir, srv.URL, "127.0.0.1:0", db.URL, db.Schema)
	require.NoError(t, err)
	pg := cfg.Sources[0].PostgresPoll
	pg.Every = 200 * time.Millisecond
	for i := range pg.Tables { // the tables took the source's lag when the config was loaded
		pg.Tables[i].Lag = 0
	}
	// A Contact whose Account is not there yet is retried; keep that short.
	cfg.Delivery.Backoff.Initial, cfg.Delivery.Backoff.Max = 200*time.Millisecond, 2*time.Second
	if o.config != nil {
		o.config(cfg)
	}

	eng, err := engine.New(cfg, o.engine)
	require.NoError(t, err)
	require.NoError(t, eng.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, eng.Stop(stopCtx))
	})
	require.NoError(t, eng.Ready())
	return &bundle{db: db, emu: emu, eng: eng, cfg: cfg, schema: db.Schema}
}

// waitInSync polls until the emulator holds exactly what the tables say.
func (b *bundle) waitInSync(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var diffs []string
	for time.Now().Before(deadline) {
		var err error
		diffs, err = demo.Compare(t.Context(), b.db.Pool, b.schema, b.emu.Org(), 10)
		require.NoError(t, err)
		if len(diffs) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
	var syncs any = "(sfbridge runs as a process)"
	if b.eng != nil {
		syncs = b.eng.Status(t.Context()).Syncs
	}
	t.Fatalf("not in sync after %s:\n  %s\nsyncs: %+v", within, strings.Join(diffs, "\n  "), syncs)
}

func TestBackfillThenChangesWhileRunning(t *testing.T) {
	t.Parallel()
	b := setup(t, 20, 3000)
	b.waitInSync(t, 2*time.Minute)

	// The application keeps changing rows: updates, inserts, soft deletes.
	rnd := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		_, err := demo.Change(t.Context(), b.db.Pool, b.schema, rnd, 3000)
		require.NoError(t, err)
	}
	b.waitInSync(t, time.Minute)

	st := b.eng.Status(t.Context())
	for _, s := range st.Syncs {
		require.Zero(t, s.DLQ, "sync %s", s.Name)
		require.Zero(t, s.DeadLettered, "sync %s", s.Name)
	}
	require.NotZero(t, st.Sources[0].Published)
}

func TestLockErrorsAndAnOutageLoseNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 10, 1500)
	// 5% of Contact writes fail with UNABLE_TO_LOCK_ROW, and Salesforce
	// refuses connections for a while.
	require.NoError(t, b.emu.Faults().Set(sfemu.FaultConfig{
		Seed:    new(int64(3)),
		Records: []sfemu.RecordFault{{Object: "Contact", Probability: 0.05, Error: "UNABLE_TO_LOCK_ROW"}},
		Outage:  &sfemu.OutageFault{Mode: sfemu.OutageRefuse, Duration: sfemu.Duration(2 * time.Second)},
	}))
	b.waitInSync(t, 2*time.Minute)
	for _, s := range b.eng.Status(t.Context()).Syncs {
		require.Zero(t, s.DLQ, "sync %s: nothing may reach the DLQ for lock errors or an outage", s.Name)
	}
}
