package deliver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/state/natskv"
	sfsync "github.com/sfbridge/sfbridge/internal/sync"
)

// These tests run the loop against the real parts: an embedded NATS
// JetStream (queue, DLQ, state) and the Salesforce emulator over loopback
// HTTP, written through the real client and sink.

const (
	srcName    = "db"
	collection = "public.counselors"
	extField   = "Counselor_Id__c"
	waitFor    = 30 * time.Second
	pollEvery  = 10 * time.Millisecond
)

var subject = source.Subject(srcName, collection)

// env is one test's world.
type env struct {
	t      testing.TB
	emu    *sfemutest.Server
	client *salesforce.Client
	sink   *salesforce.Sink
	queue  *natsjs.Queue
	state  *natskv.Store
	dlq    *dlq.Store
	seq    int
}

// options shape a test's env and its Deliverer.
type options struct {
	sfConfig func(*salesforce.Config)
	syncCfg  func(*config.Sync)
	deliver  func(*deliver.Config)
	// beforeStart runs once the sync's consumer exists and before the loop
	// fetches (records published earlier than the consumer are not kept:
	// interest retention).
	beforeStart func()
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SFBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func setup(t testing.TB, o options) *env {
	t.Helper()
	emu := sfemutest.Start(t, sfemu.Options{Seed: 7})
	sfCfg := salesforce.Config{
		LoginURL:   emu.URL,
		APIVersion: "62.0",
		Auth:       salesforce.Auth{Flow: salesforce.FlowClientCredentials, ClientID: sfemu.DemoClientID, ClientSecret: sfemu.DemoClientSecret},
		Logger:     testLogger(t),
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		BudgetWait: 100 * time.Millisecond, ThrottleWait: 50 * time.Millisecond,
	}
	if o.sfConfig != nil {
		o.sfConfig(&sfCfg)
	}
	client, err := salesforce.New(sfCfg)
	require.NoError(t, err)
	sink, err := salesforce.NewSink(client, salesforce.SinkConfig{})
	require.NoError(t, err)

	b := brokertest.Embedded(t, t.TempDir())
	q, err := natsjs.Open(context.Background(), b, natsjs.Config{})
	require.NoError(t, err)
	st, err := natskv.Open(context.Background(), b, natskv.Options{})
	require.NoError(t, err)
	return &env{t: t, emu: emu, client: client, sink: sink, queue: q, state: st, dlq: dlq.NewStore(q)}
}

// syncConfig maps public.counselors rows onto Contact by Counselor_Id__c.
func syncConfig(name string) config.Sync {
	return config.Sync{
		Name:       name,
		From:       srcName + "." + collection,
		Object:     "Contact",
		ExternalID: extField,
		Fields: config.Fields{
			{Name: extField, Expr: "row.id"},
			{Name: "LastName", Expr: "row.last_name"},
			{Name: "Email", Expr: "row.email"},
		},
		Nulls:   config.NullsSkip,
		Deletes: config.DeletesDelete,
	}
}

func newSync(t testing.TB, sc config.Sync) *sfsync.Sync {
	t.Helper()
	s, err := sfsync.New(sc, &config.Source{Name: srcName, Type: config.SourcePostgresPoll})
	require.NoError(t, err)
	return s
}

// deliverer builds and starts a Deliverer for sync name; it is stopped when
// the test ends.
func (e *env) deliverer(name string, o options) *deliver.Deliverer {
	e.t.Helper()
	sc := syncConfig(name)
	if o.syncCfg != nil {
		o.syncCfg(&sc)
	}
	s := newSync(e.t, sc)
	cfg := deliver.Config{
		Sync: s, Queue: e.queue, State: e.state, Sink: e.sink,
		BatchSize: 50, Linger: 20 * time.Millisecond, IdlePoll: 200 * time.Millisecond, Concurrency: 2,
		MaxAttempts: 5,
		Backoff:     retry.Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2},
		Circuit:     retry.Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2},
		AckWait:     2 * time.Second,
		Logger:      testLogger(e.t),
	}
	if o.deliver != nil {
		o.deliver(&cfg)
	}
	d, err := deliver.New(cfg)
	require.NoError(e.t, err)
	if o.beforeStart != nil {
		_, err := e.queue.Consumer(context.Background(), d.ConsumerConfig())
		require.NoError(e.t, err)
		o.beforeStart()
	}
	require.NoError(e.t, d.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = d.Stop(ctx)
	})
	return d
}

// row is one source row of the test table.
type row struct {
	ID       string
	LastName string
	Email    string
	Version  int // the row's updated_at, in seconds after t0
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// rec builds the record a postgres_poll source would publish for r.
func rec(t testing.TB, r row) record.Record {
	t.Helper()
	v := record.TimeVersion(t0.Add(time.Duration(r.Version)*time.Second), 0)
	key := record.Key{{Name: "id", Value: r.ID}}
	id, err := record.DeriveID(srcName, collection, key, v)
	require.NoError(t, err)
	return record.Record{
		ID: id, Source: srcName, Collection: collection, Op: record.OpUpsert, Key: key, Version: v,
		Time:    t0.Add(time.Hour),
		Payload: map[string]any{"id": r.ID, "last_name": r.LastName, "email": r.Email},
	}
}

// publish publishes rows as records.
func (e *env) publish(rows ...row) {
	e.t.Helper()
	msgs := make([]queue.Message, len(rows))
	for i, r := range rows {
		msgs[i] = e.message(rec(e.t, r))
	}
	require.NoError(e.t, e.queue.Publish(context.Background(), msgs...))
}

func (e *env) message(r record.Record) queue.Message {
	e.t.Helper()
	data, err := record.Encode(r)
	require.NoError(e.t, err)
	return queue.Message{Subject: subject, ID: r.ID, Data: data}
}

// rows returns n rows c-0 … c-(n-1).
func rows(n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{ID: fmt.Sprintf("c-%d", i), LastName: fmt.Sprintf("Name %d", i), Email: fmt.Sprintf("c%d@example.org", i), Version: 1}
	}
	return out
}

// versionsOfKeys returns versions 1…versions of keys rows c-0 … c-(keys-1),
// in version order, and the newest version of each (what Salesforce must
// end with).
func versionsOfKeys(keys, versions int) (all, newest []row) {
	for v := 1; v <= versions; v++ {
		for k := range keys {
			all = append(all, row{ID: fmt.Sprintf("c-%d", k), LastName: fmt.Sprintf("v%d", v), Email: "x@example.org", Version: v})
		}
	}
	return all, slices.Clone(all[len(all)-keys:])
}

// contacts returns the emulator's Contacts by external ID.
func (e *env) contacts() map[string]map[string]any {
	e.t.Helper()
	recs, ok := e.emu.Org().Dump("Contact", false)
	require.True(e.t, ok)
	out := make(map[string]map[string]any, len(recs))
	for _, r := range recs {
		if k, ok := r[extField].(string); ok {
			out[k] = r
		}
	}
	return out
}

// requireInSalesforce checks that Salesforce holds exactly rows (by
// external ID, with their values) plus nothing else.
func (e *env) requireInSalesforce(want []row) {
	e.t.Helper()
	got := e.contacts()
	require.Len(e.t, got, len(want))
	for _, r := range want {
		c, ok := got[r.ID]
		require.True(e.t, ok, "%s is not in Salesforce", r.ID)
		require.Equal(e.t, r.LastName, c["LastName"], r.ID)
		require.Equal(e.t, r.Email, c["Email"], r.ID)
	}
}

// waitStats polls d's stats until cond holds.
func waitStats(t *testing.T, d *deliver.Deliverer, what string, cond func(deliver.Stats) bool) deliver.Stats {
	t.Helper()
	var s deliver.Stats
	require.Eventually(t, func() bool {
		s = d.Stats()
		return cond(s)
	}, waitFor, pollEvery, "%s; stats: %+v", what, &s)
	return s
}

// stop stops d and checks that every received delivery ended in a counted
// state (invariant 6).
func stop(t *testing.T, d *deliver.Deliverer) deliver.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, d.Stop(ctx))
	s := d.Stats()
	require.Equal(t, s.Received, s.Ended(), "every delivery ends in a counted state: %+v", s)
	require.Zero(t, s.InFlight)
	return s
}

// dlqItems lists every DLQ entry.
func (e *env) dlqItems() []dlq.Item {
	e.t.Helper()
	var out []dlq.Item
	require.NoError(e.t, e.dlq.Each(context.Background(), dlq.Filter{}, func(it dlq.Item) (bool, error) {
		require.NoError(e.t, it.Err)
		out = append(out, it)
		return true, nil
	}))
	return out
}

func (e *env) faults(cfg sfemu.FaultConfig) {
	e.t.Helper()
	require.NoError(e.t, e.emu.Faults().Set(cfg))
}
