package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/engine"
	"github.com/sfbridge/sfbridge/internal/perf"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// loginSyncYAML maps "counselor.login" events of source onto Contacts, one
// per counselor_id: in the benchmarks every event has its own counselor,
// so every event is one Contact written (nothing coalesces).
func loginSyncYAML(source string) string {
	return fmt.Sprintf(`  - name: %[1]s_logins
    from: %[1]s.counselor.login
    object: Contact
    external_id: Counselor_Id__c
    fields:
      Counselor_Id__c: event.counselor_id
      LastName: event.name
      Last_Active_At__c: event.time
`, source)
}

// benchEventsEngine starts an engine with sourcesYAML and the login sync of
// each source, on an in-process emulator whose record hook calls seen for
// every Contact written (under the org's lock: it must not block).
func benchEventsEngine(b *testing.B, sourcesYAML string, seen func(counselor string), sources ...string) (*engine.Engine, *sfemu.Emulator) {
	b.Helper()
	emu := sfemu.New(sfemu.Options{Seed: 1})
	emu.Org().SetRecordHook(func(ri sfemu.RecordInfo) *sfemu.RecordError {
		if ri.Object == "Contact" {
			if c, ok := ri.Fields["Counselor_Id__c"].(string); ok {
				seen(c)
			}
		}
		return nil
	})
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)
	dir := b.TempDir()
	syncs := ""
	for _, s := range sources {
		syncs += loginSyncYAML(s)
	}
	yaml := fmt.Sprintf(`version: 1
data_dir: %q
nats: embedded
salesforce:
  login_url: %s
  auth: {flow: client_credentials, client_id: %s, client_secret: "${env:SFBRIDGE_DEMO_CLIENT_SECRET}"}
sources:
%ssyncs:
%s`, filepath.Join(dir, "data"), srv.URL, sfemu.DemoClientID, sourcesYAML, syncs)
	path := filepath.Join(dir, "sfbridge.yaml")
	require.NoError(b, os.WriteFile(path, []byte(yaml), 0o600))
	env := eventsEnv()
	cfg, err := config.LoadWith(path, config.Options{LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok }})
	require.NoError(b, err)
	eng, err := engine.New(cfg, engine.Options{NoAdmin: true})
	require.NoError(b, err)
	require.NoError(b, eng.Start(b.Context()))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(b, eng.Stop(ctx))
	})
	return eng, emu
}

// loginEvent is event n as JSON: its own counselor, the current time.
func loginEvent(prefix string, n int, at time.Time) []byte {
	ev, _ := json.Marshal(map[string]any{
		"id": prefix + strconv.Itoa(n), "type": "counselor.login", "time": at.UTC().Format(time.RFC3339Nano),
		"counselor_id": prefix + strconv.Itoa(n), "name": "Counselor " + strconv.Itoa(n),
	})
	return ev
}

// BenchmarkPipelineEventsHTTPLatency posts one event per request, as an
// application's pages would, at a steady rate (500 events/s for 20 s by
// default; SFBRIDGE_BENCH_RATE and SFBRIDGE_BENCH_SECONDS change them), to
// an http source, and measures for each event the time from the start of
// its POST to its Contact being written in the emulator (zero latency, in
// this process). Reports p50/p99 of that, the 202's own p50/p99
// (ack-p50-ms, ack-p99-ms), records/s delivered, API calls per 1,000 events
// and peak RSS (sfbridge, embedded NATS and the emulator together). A 503
// (the source's in-flight bound, or the broker slow to confirm) is resent
// after its Retry-After, as the emit package does, and counted
// (503-resends); its event's latency includes the wait.
func BenchmarkPipelineEventsHTTPLatency(b *testing.B) {
	rate, seconds := envInt("SFBRIDGE_BENCH_RATE", 500), envInt("SFBRIDGE_BENCH_SECONDS", 20)
	total := rate * seconds
	var (
		sent    sync.Map // counselor → time.Time the POST started
		visible perf.Latencies
		acked   perf.Latencies
		done    atomic.Int64
		retried atomic.Int64
		all     = make(chan struct{})
	)
	eng, emu := benchEventsEngine(b, httpSourceYAML("app", "127.0.0.1:0"), func(c string) {
		if t0, ok := sent.LoadAndDelete(c); ok {
			visible.Add(time.Since(t0.(time.Time)))
			if done.Add(1) == int64(total) {
				close(all)
			}
		}
	}, "app")
	url := "http://" + eng.SourceAddr("app") + "/v1/events"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	before := emu.Org().Counters().APIUsed
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 256)
		for n := range total {
			// A steady rate: event n goes at start + n/rate.
			if d := time.Until(start.Add(time.Duration(n) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				t0 := time.Now()
				c := "b" + strconv.Itoa(n)
				sent.Store(c, t0)
				body := loginEvent("b", n, t0)
				for {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+eventsToken)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						b.Errorf("POST: %v", err)
						return
					}
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable {
						// What an application (emit) does: wait as told, resend.
						retried.Add(1)
						wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
						time.Sleep(time.Duration(max(wait, 1)) * time.Second)
						continue
					}
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("POST: %s", resp.Status)
						return
					}
					break
				}
				acked.Add(time.Since(t0))
			}()
		}
		wg.Wait()
		select {
		case <-all:
		case <-time.After(2 * time.Minute):
			b.Fatalf("%d of %d events visible after 2 minutes", done.Load(), total)
		}
	}
	b.StopTimer()
	visible.Report(b)
	b.ReportMetric(float64(acked.Percentile(50))/float64(time.Millisecond), "ack-p50-ms")
	b.ReportMetric(float64(acked.Percentile(99))/float64(time.Millisecond), "ack-p99-ms")
	b.ReportMetric(float64(emu.Org().Counters().APIUsed-before)*1000/float64(total*b.N), "api-calls/1k")
	b.ReportMetric(float64(retried.Load()), "503-resends")
	perf.ReportThroughput(b, total*b.N)
}

// BenchmarkPipelineEventsFolder drops 100,000 events in 100 NDJSON files
// into a files source's folder and measures until every event's Contact is
// in the emulator: records/s end to end, API calls per 1,000 events and
// peak RSS (SFBRIDGE_BENCH_EVENTS changes the count).
func BenchmarkPipelineEventsFolder(b *testing.B) {
	total := envInt("SFBRIDGE_BENCH_EVENTS", 100_000)
	const files = 100
	var (
		done atomic.Int64
		all  = make(chan struct{})
		seen sync.Map
	)
	drops := b.TempDir()
	eng, emu := benchEventsEngine(b, filesSourceYAML("drops", drops), func(c string) {
		if _, dup := seen.LoadOrStore(c, true); !dup && done.Add(1) == int64(total) {
			close(all)
		}
	}, "drops")
	_ = eng
	// The files, written beforehand (not timed), then renamed into place.
	staged := b.TempDir()
	at := time.Now()
	for f := range files {
		var buf bytes.Buffer
		for n := f * total / files; n < (f+1)*total/files; n++ {
			buf.Write(loginEvent("f", n, at))
			buf.WriteByte('\n')
		}
		require.NoError(b, os.WriteFile(filepath.Join(staged, fmt.Sprintf("events-%03d.ndjson", f)), buf.Bytes(), 0o600))
	}
	before := emu.Org().Counters().APIUsed
	b.ResetTimer()
	for range b.N {
		for f := range files {
			name := fmt.Sprintf("events-%03d.ndjson", f)
			require.NoError(b, os.Rename(filepath.Join(staged, name), filepath.Join(drops, name)))
		}
		select {
		case <-all:
		case <-time.After(10 * time.Minute):
			b.Fatalf("%d of %d events visible after 10 minutes", done.Load(), total)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(emu.Org().Counters().APIUsed-before)*1000/float64(total*b.N), "api-calls/1k")
	perf.ReportThroughput(b, total*b.N)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
