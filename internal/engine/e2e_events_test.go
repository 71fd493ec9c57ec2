package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/emit"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/engine"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

const eventsToken = "test-events-token-5f1c"

// eventsEnv is what the events configs read from the environment.
func eventsEnv() map[string]string {
	return map[string]string{
		"SFBRIDGE_DEMO_CLIENT_SECRET": sfemu.DemoClientSecret,
		"SFBRIDGE_DEMO_EVENTS_TOKEN":  eventsToken,
	}
}

// httpSourceYAML is an http source named name on listen.
func httpSourceYAML(name, listen string) string {
	return fmt.Sprintf("  - name: %s\n    type: http\n    listen: %s\n    token: ${env:SFBRIDGE_DEMO_EVENTS_TOKEN}\n", name, listen)
}

// filesSourceYAML is a files source named name on dir.
func filesSourceYAML(name, dir string) string {
	return fmt.Sprintf("  - name: %s\n    type: files\n    path: %q\n    settle: 200ms\n    rescan: 1s\n", name, dir)
}

// eventsEngine is an engine running an events config in this process.
type eventsEngine struct {
	emu *sfemu.Emulator
	eng *engine.Engine
	cfg *config.Config
}

func startEventsEngine(t *testing.T, sourcesYAML string, syncSources []string, faults *sfemu.FaultConfig) *eventsEngine {
	t.Helper()
	emu := sfemu.New(sfemu.Options{Seed: 1})
	if faults != nil {
		require.NoError(t, emu.Faults().Set(*faults))
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, "sfbridge.yaml")
	yaml := demo.EventsConfigYAML(filepath.Join(dir, "data"), srv.URL, "127.0.0.1:0", sourcesYAML, syncSources...)
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	env := eventsEnv()
	cfg, err := config.LoadWith(path, config.Options{LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok }})
	require.NoError(t, err)
	eng, err := engine.New(cfg, engine.Options{NoAdmin: true})
	require.NoError(t, err)
	require.NoError(t, eng.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, eng.Stop(ctx))
	})
	return &eventsEngine{emu: emu, eng: eng, cfg: cfg}
}

// toEmit turns a demo event into an emit.Event.
func toEmit(ev map[string]any) emit.Event {
	t, _ := time.Parse(time.RFC3339Nano, ev["time"].(string))
	data := map[string]any{}
	for k, v := range ev {
		switch k {
		case "id", "type", "time":
		default:
			data[k] = v
		}
	}
	return emit.Event{ID: ev["id"].(string), Type: ev["type"].(string), Time: t, Data: data}
}

// waitEventsInSync polls until the org holds what the ledger says.
func waitEventsInSync(t *testing.T, org *sfemu.Org, l *demo.EventLedger, within time.Duration, status func() any) {
	t.Helper()
	deadline := time.Now().Add(within)
	var diffs []string
	for time.Now().Before(deadline) {
		if diffs = demo.CompareEvents(org, l, 10); len(diffs) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
	t.Fatalf("not in sync after %s:\n  %s\nstatus: %+v", within, strings.Join(diffs, "\n  "), status())
}

// Application events posted over HTTP, through the emit package, arrive out
// of order and some twice, while 5% of Contact writes hit
// UNABLE_TO_LOCK_ROW: every Case is there once, every Contact shows its
// newest event, nothing is in the DLQ.
func TestHTTPEventsEndToEnd(t *testing.T) {
	t.Parallel()
	e := startEventsEngine(t, httpSourceYAML("app", "127.0.0.1:0"), []string{"app"}, &sfemu.FaultConfig{
		Seed:    new(int64(5)),
		Records: []sfemu.RecordFault{{Object: "Contact", Probability: 0.05, Error: "UNABLE_TO_LOCK_ROW"}},
	})
	addr := e.eng.SourceAddr("app")
	require.NotEmpty(t, addr)

	ledger := demo.NewEventLedger()
	maker := demo.NewEventMaker(7, 40, "h", time.Now())
	sink, err := emit.NewHTTPSink("http://"+addr, eventsToken, emit.HTTPOptions{})
	require.NoError(t, err)
	client, err := emit.New(emit.Config{SpoolDir: t.TempDir(), Sink: sink, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close(context.Background()) })

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resend []map[string]any
			for i := range 500 {
				ev := maker.Make()
				_, err := client.Emit(t.Context(), toEmit(ev))
				require.NoError(t, err)
				ledger.Add(ev)
				if i%25 == w {
					resend = append(resend, ev)
				}
			}
			for _, ev := range resend { // the application sends some again
				_, err := client.Emit(t.Context(), toEmit(ev))
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, client.Flush(ctx))
	require.Zero(t, client.Stats().Rejected)

	waitEventsInSync(t, e.emu.Org(), ledger, 2*time.Minute, func() any { return e.eng.Status(t.Context()).Syncs })
	require.Equal(t, 2000, ledger.Len())
	n, err := dlq.NewStore(e.eng.Queue()).Count(t.Context(), "")
	require.NoError(t, err)
	require.Zero(t, n, "nothing in the DLQ")
	st := e.eng.Status(t.Context())
	require.Len(t, st.Sources, 1)
	require.GreaterOrEqual(t, st.Sources[0].Published, uint64(2000))
	// Events carry the application's time, in no order: their syncs keep
	// each key's newest version in the state store.
	for _, s := range st.Syncs {
		require.Equal(t, deliver.GuardStateStore, s.Guard, s.Name)
	}
}

// freePort returns a loopback address no one listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// writeEventFile writes events as NDJSON into dir the way an application
// should: to a hidden temporary name, then renamed into place.
func writeEventFile(t *testing.T, dir, name string, events []map[string]any) {
	t.Helper()
	var b strings.Builder
	for _, ev := range events {
		line, err := json.Marshal(ev)
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(b.String()), 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, name)))
}

// sfbridge is killed with SIGKILL while it takes events over HTTP (from an
// application using the emit package, which keeps emitting while sfbridge
// is down) and from files dropped in a folder, with batches in flight to
// Salesforce; then started again on the same data_dir. Every accepted
// event is in Salesforce exactly once in effect (one Case per rescue event,
// each Contact showing its newest event), every file is processed, and the
// DLQ is empty.
func TestEventsKilledMidBatchAndRestarted(t *testing.T) {
	t.Parallel()
	bin := buildSfbridge(t)
	emu := sfemu.New(sfemu.Options{Seed: 1})
	require.NoError(t, emu.Faults().Set(sfemu.FaultConfig{Latency: []sfemu.LatencyFault{{
		Match: sfemu.Match{Endpoint: "collections.*"}, Fixed: sfemu.Duration(100 * time.Millisecond), PerRecord: sfemu.Duration(time.Millisecond),
	}}}))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	org := emu.Org()

	dir := t.TempDir()
	drops := filepath.Join(dir, "drops")
	require.NoError(t, os.MkdirAll(drops, 0o755))
	listen := freePort(t)
	yaml := demo.EventsConfigYAML(filepath.Join(dir, "data"), srv.URL, "127.0.0.1:0",
		httpSourceYAML("app", listen)+filesSourceYAML("drops", drops), "app", "drops")
	cfgPath := filepath.Join(dir, "sfbridge.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(yaml), 0o600))
	env := os.Environ()
	for k, v := range eventsEnv() {
		env = append(env, k+"="+v)
	}

	ledger := demo.NewEventLedger()
	appEvents := demo.NewEventMaker(11, 60, "h", time.Now())
	fileEvents := demo.NewEventMaker(12, 60, "f", time.Now())
	sink, err := emit.NewHTTPSink("http://"+listen, eventsToken, emit.HTTPOptions{})
	require.NoError(t, err)
	client, err := emit.New(emit.Config{SpoolDir: filepath.Join(dir, "spool"), Sink: sink, MaxBackoff: time.Second, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close(context.Background()) })

	first := startDaemon(t, bin, cfgPath, env)
	// The application emits all along, whether sfbridge is up or not.
	const appTotal = 3000
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for i := range appTotal {
			ev := appEvents.Make()
			if _, err := client.Emit(context.Background(), toEmit(ev)); err != nil {
				t.Errorf("emit: %v", err)
				return
			}
			ledger.Add(ev)
			if i%50 == 0 {
				time.Sleep(20 * time.Millisecond) // a steady trickle
			}
		}
	}()
	for f := range 10 {
		batch := make([]map[string]any, 500)
		for i := range batch {
			batch[i] = fileEvents.Make()
			ledger.Add(batch[i])
		}
		writeEventFile(t, drops, fmt.Sprintf("events-%02d.ndjson", f), batch)
	}

	eventually(t, 2*time.Minute, func() error {
		select {
		case <-first.done:
			require.FailNow(t, "sfbridge exited", "%v", first.err)
		default:
		}
		n, inflight := org.ObjectCounts()["Case"], emu.Faults().Status().InFlight
		if n < 200 || inflight == 0 {
			return fmt.Errorf("%d Cases, %d calls in flight", n, inflight)
		}
		return nil
	})
	first.signal(t, syscall.SIGKILL, 10*time.Second)
	killedAt := org.ObjectCounts()["Case"]
	time.Sleep(500 * time.Millisecond) // the application keeps emitting into its spool

	emu.Faults().Clear()
	second := startDaemon(t, bin, cfgPath, env)
	<-emitted
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, client.Flush(ctx), "every emitted event acknowledged by sfbridge")
	waitEventsInSync(t, org, ledger, 3*time.Minute, func() any { return second.out.String() })
	require.Equal(t, appTotal+5000, ledger.Len())
	t.Logf("killed with %d Cases written; %d events in sync after the restart", killedAt, ledger.Len())

	left, err := filepath.Glob(filepath.Join(drops, "*.ndjson"))
	require.NoError(t, err)
	require.Empty(t, left, "every file processed")
	done, err := filepath.Glob(filepath.Join(drops, "processed", "*.ndjson"))
	require.NoError(t, err)
	require.Len(t, done, 10)

	second.signal(t, syscall.SIGTERM, time.Minute)
	require.NoError(t, second.err, "a drained stop exits 0")
	require.NotContains(t, second.out.String(), "level=ERROR")
}

// A sync added later takes the events published from then on, without
// touching the source or the application: a first run has only the
// Contact sync; the second, on the same data_dir, adds the Case sync.
func TestSyncAddedLaterTakesNewEvents(t *testing.T) {
	t.Parallel()
	emu := sfemu.New(sfemu.Options{Seed: 1})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	listen := freePort(t)
	full := demo.EventsConfigYAML(filepath.Join(dir, "data"), srv.URL, "127.0.0.1:0", httpSourceYAML("app", listen), "app")
	rescues := demo.EventsSyncsYAML("app")
	rescues = rescues[:strings.Index(rescues, "  - name: app_activity")]
	require.Contains(t, full, rescues)
	first := strings.Replace(full, rescues, "", 1)

	env := eventsEnv()
	run := func(yaml string, events []map[string]any, done func() error) {
		path := filepath.Join(dir, "sfbridge.yaml")
		require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
		cfg, err := config.LoadWith(path, config.Options{LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok }})
		require.NoError(t, err)
		eng, err := engine.New(cfg, engine.Options{NoAdmin: true})
		require.NoError(t, err)
		require.NoError(t, eng.Start(t.Context()))
		sink, err := emit.NewHTTPSink("http://"+listen, eventsToken, emit.HTTPOptions{})
		require.NoError(t, err)
		client, err := emit.New(emit.Config{SpoolDir: t.TempDir(), Sink: sink, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		for _, ev := range events {
			_, err := client.Emit(t.Context(), toEmit(ev))
			require.NoError(t, err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		require.NoError(t, client.Flush(ctx))
		require.NoError(t, client.Close(ctx))
		eventually(t, time.Minute, done)
		require.NoError(t, eng.Stop(ctx))
	}

	maker := demo.NewEventMaker(31, 20, "L", time.Now())
	batch := func(n int) (events []map[string]any, rescueIDs []string) {
		for range n {
			ev := maker.Make()
			events = append(events, ev)
			if ev["type"] == demo.EventRescue {
				rescueIDs = append(rescueIDs, ev["id"].(string))
			}
		}
		return events, rescueIDs
	}
	ledger := demo.NewEventLedger()
	contactsFor := func(events []map[string]any) func() error {
		for _, ev := range events {
			ledger.Add(ev)
		}
		return func() error {
			for _, d := range demo.CompareEvents(emu.Org(), ledger, 1000) {
				if strings.HasPrefix(d, "counselor ") { // Contacts only: the Cases are checked below
					return errors.New(d)
				}
			}
			return nil
		}
	}
	caseIDs := func() []string {
		cases, _ := emu.Org().Dump("Case", false)
		var got []string
		for _, c := range cases {
			got = append(got, c["Platform_Event_Id__c"].(string))
		}
		return got
	}
	before, rescuesBefore := batch(200)
	run(first, before, contactsFor(before))
	require.Zero(t, emu.Org().ObjectCounts()["Case"], "no Case sync yet")
	require.NotEmpty(t, rescuesBefore)

	after, rescuesAfter := batch(200)
	require.NotEmpty(t, rescuesAfter)
	contactsDone := contactsFor(after)
	run(full, after, func() error {
		if err := contactsDone(); err != nil {
			return err
		}
		if n := len(caseIDs()); n < len(rescuesAfter) {
			return fmt.Errorf("%d Cases, want %d", n, len(rescuesAfter))
		}
		return nil
	})
	require.ElementsMatch(t, rescuesAfter, caseIDs(), "the added sync takes the events published since it exists, not those before")
}
