package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/engine"
	"github.com/sfbridge/sfbridge/internal/perf"
	"github.com/sfbridge/sfbridge/internal/pgtest"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// benchOrgs is the organisations (Accounts) of every pipeline run; the
// counselors (Contacts) are the rows the sub-benchmark names.
const benchOrgs = 100

// pipelineMode is one way of configuring the pipeline.
type pipelineMode struct {
	name string
	// configure adjusts the demo config.
	configure func(*config.Config)
	// prefix, when set for a table size, stops the run once that many
	// Contacts are in the emulator: the rest is extrapolated, and the
	// sub-benchmark's name says so.
	prefix map[int]int
}

var pipelineModes = []pipelineMode{
	{
		// The demo config as shipped: batches of 200 (Collections; Bulk 2.0
		// only for batches of bulk_threshold rows, 2,000 by default),
		// delivery concurrency 2 per sync.
		name:      "sfbridge",
		configure: func(*config.Config) {},
	},
	{
		// The original design: one message and one REST upsert per record,
		// a single worker per queue.
		name: "original",
		configure: func(cfg *config.Config) {
			cfg.Delivery.BatchSize, cfg.Delivery.Concurrency = 1, 1
			for i := range cfg.Syncs {
				cfg.Syncs[i].BatchSize, cfg.Syncs[i].Concurrency = 1, 1
			}
		},
		// At about 500 records/s on the project's 2-core machine a whole
		// million would take over half an hour: the first 100,000 are
		// measured and the whole extrapolated (extrapolated-s).
		prefix: map[int]int{1_000_000: 100_000},
	},
}

// BenchmarkPipeline runs the whole pipeline on the demo schema: rows
// counselors (and benchOrgs organisations) already in PostgreSQL, the
// engine started (embedded NATS, postgres_poll, one delivery loop per sync),
// until every row is a record in the Salesforce emulator (zero latency).
// Seeding and verification are outside the timer; every run ends with
// demo.Compare of every row against the emulator's records.
//
// The emulator runs in a child process (the test binary again, see
// TestPipelineEmulatorProcess): it must hold every record written, and in
// this process it would make peak-MiB grow with the table whatever the
// pipeline does. peak-MiB is this process's high-water mark over the run
// (reset at the start of each sub-benchmark), emu-peak-MiB the emulator's.
//
// Run it with -benchtime 1x: one iteration is a fixed amount of work.
func BenchmarkPipeline(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		for _, m := range pipelineModes {
			name := fmt.Sprintf("rows=%d/mode=%s", rows, m.name)
			prefix := m.prefix[rows]
			if prefix > 0 {
				name += fmt.Sprintf("/measured=%d", prefix)
			}
			b.Run(name, func(b *testing.B) { benchPipeline(b, rows, prefix, m) })
		}
	}
}

// runFigures is what one timed run measured.
type runFigures struct {
	elapsed time.Duration
	records int // Accounts and Contacts in the emulator when the timer stopped
	calls   map[string]int64
	engPeak int64
	emuPeak int64
	engCPU  time.Duration // CPU time of this process over the run
	emuCPU  time.Duration // CPU time of the emulator process over the run
	retried int64
	durable int64 // records the version guard checked in the state store
	gaps    int64 // deliveries that reached no one (deliver.Stats.Gaps)
}

func benchPipeline(b *testing.B, rows, prefix int, m pipelineMode) {
	db := pgtest.New(b)
	lat := newLatencySample(20_000, 1)
	var total runFigures
	total.calls = map[string]int64{}
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		f := pipelineRun(b, db, rows, prefix, m, lat)
		total.elapsed += f.elapsed
		total.records += f.records
		total.retried += f.retried
		total.durable += f.durable
		total.gaps += f.gaps
		total.engCPU += f.engCPU
		total.emuCPU += f.emuCPU
		total.engPeak = max(total.engPeak, f.engPeak)
		total.emuPeak = max(total.emuPeak, f.emuPeak)
		for k, v := range f.calls {
			total.calls[k] += v
		}
	}
	var api, auth, collections, bulkJobs, single int64
	for k, v := range total.calls {
		switch {
		case strings.HasPrefix(k, "oauth.") || k == "identity" || k == "versions":
			auth += v
		default:
			api += v
		}
		switch {
		case strings.HasPrefix(k, "collections."):
			collections += v
		case k == "bulk.ingest.create":
			bulkJobs += v
		case k == "sobject.upsert":
			single += v
		}
	}
	n := float64(total.records)
	b.ReportMetric(n/total.elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(api)*1000/n, "api-calls/1k")
	b.ReportMetric(float64(collections)*1000/n, "collections-calls/1k")
	b.ReportMetric(float64(bulkJobs), "bulk-jobs")
	b.ReportMetric(float64(single)*1000/n, "single-upserts/1k")
	b.ReportMetric(float64(auth), "auth-calls")
	b.ReportMetric(float64(total.retried)*1000/n, "retried/1k")
	b.ReportMetric(float64(total.durable)*1000/n, "guard-store-checks/1k")
	b.ReportMetric(float64(total.gaps), "delivery-gaps")
	b.ReportMetric(float64(total.engCPU.Microseconds())/n, "engine-cpu-us/record")
	b.ReportMetric(float64(total.emuCPU.Microseconds())/n, "emu-cpu-us/record")
	b.ReportMetric(float64(total.engPeak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(total.emuPeak)/(1<<20), "emu-peak-MiB")
	if prefix > 0 {
		// What the whole table would take at the measured rate.
		whole := float64(rows+benchOrgs) / (n / total.elapsed.Seconds()) * float64(b.N)
		b.ReportMetric(whole, "extrapolated-s")
	}
	lat.report(b)
}

// pipelineRun seeds the schema, starts a fresh emulator process and
// engine, times the engine from Start to every row (or the prefix) in the
// emulator, then stops it and verifies.
func pipelineRun(b *testing.B, db *pgtest.DB, rows, prefix int, m pipelineMode, lat *latencySample) runFigures {
	ctx := context.Background()
	seedStart := time.Now()
	require.NoError(b, demo.Setup(ctx, db.Pool, db.Schema, benchOrgs, rows))
	q := pgx.Identifier{db.Schema}.Sanitize()
	// A table written in one go gets vacuumed and analysed by autovacuum
	// sooner or later; do it now, not in the middle of the timed run.
	for _, table := range []string{"organisations", "counselors"} {
		_, err := db.Pool.Exec(ctx, fmt.Sprintf("VACUUM ANALYZE %s.%s", q, table))
		require.NoError(b, err)
	}
	b.Logf("seeded %d counselors and %d organisations in %s", rows, benchOrgs, time.Since(seedStart).Round(time.Millisecond))

	emu := startEmulatorProcess(b)
	defer emu.stop(b)

	dir := b.TempDir()
	cfg, _, err := demo.WriteConfig(dir, emu.url, "127.0.0.1:0", db.URL, db.Schema)
	require.NoError(b, err)
	// The rows are committed before the engine starts: no lag is needed,
	// and the first run starts at once.
	cfg.Sources[0].PostgresPoll.Every = 200 * time.Millisecond
	cfg.Sources[0].PostgresPoll.Lag = 0
	// A Contact polled before its Account is delivered is retried; keep
	// that short, as engine_test.go does.
	cfg.Delivery.Backoff.Initial, cfg.Delivery.Backoff.Max = 200*time.Millisecond, 2*time.Second
	m.configure(cfg)
	benchQueueSettings(b, cfg)

	want := rows
	if prefix > 0 {
		want = prefix
	}
	eng, err := engine.New(cfg, engine.Options{NoAdmin: true, HTTPClient: &http.Client{
		Timeout:   10 * time.Minute,
		Transport: &timedTransport{next: http.DefaultTransport.(*http.Transport).Clone(), lat: lat},
	}})
	require.NoError(b, err)

	stopped := false
	stop := func() error {
		stopped = true
		stopCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		return eng.Stop(stopCtx)
	}
	defer func() {
		if !stopped {
			_ = stop() // the run failed: leave nothing polling the schema
		}
	}()

	resetPeakRSS()
	emuBefore := emu.usage(b)
	cpuBefore := processCPUTime()
	start := time.Now()
	b.StartTimer()
	require.NoError(b, eng.Start(ctx))
	counts := emu.waitFor(b, eng, benchOrgs, want, benchOrgs+rows)
	b.StopTimer()
	f := runFigures{
		elapsed: time.Since(start),
		records: counts["Account"] + counts["Contact"],
		engPeak: perf.PeakRSS(),
		engCPU:  processCPUTime() - cpuBefore,
	}
	emuAfter := emu.usage(b)
	f.emuPeak, f.emuCPU = emuAfter.PeakBytes, emuAfter.CPU-emuBefore.CPU

	require.NoError(b, stop())
	for _, d := range eng.Deliverers() {
		st := d.Stats()
		require.Zero(b, st.DeadLettered, "sync %s: nothing may reach the DLQ", st.Sync)
		f.retried += st.Retried
		f.durable += st.Durable
		f.gaps += st.Gaps
	}
	c := emu.counters(b)
	f.calls = c.Calls

	// Verify: every row against the emulator's records. A prefix run
	// verifies every Contact that was written, and that the rest are
	// exactly the rows not reached.
	res := emu.compare(b, db.Schema, prefix > 0)
	require.Empty(b, res.Diffs, "the emulator does not hold what the tables say")
	if prefix > 0 {
		live := c.Records["Contact"]
		require.Equal(b, rows-live, res.Missing, "rows without a Contact")
		require.GreaterOrEqual(b, live, prefix)
	}
	b.Logf("%d records in %s (%.0f records/s), peak RSS %d MiB (emulator %d MiB), calls %v",
		f.records, f.elapsed.Round(time.Millisecond), float64(f.records)/f.elapsed.Seconds(), f.engPeak>>20, f.emuPeak>>20, f.calls)
	return f
}

// resetPeakRSS returns what the Go runtime holds to the OS and resets the
// process's peak RSS (VmHWM) to its current RSS, so that the next reading
// is the peak of what follows (Linux ≥ 4.0; elsewhere a no-op).
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// processCPUTime is the CPU time (user and system) this process has used.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timedTransport samples the latency of every Salesforce API call (not
// the OAuth token calls): from sending the request to the response body
// read and closed.
type timedTransport struct {
	next http.RoundTripper
	lat  *latencySample
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	if !strings.HasPrefix(r.URL.Path, "/services/data/") {
		return resp, err
	}
	if err != nil {
		t.lat.add(time.Since(start))
		return resp, err
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, done: func() { t.lat.add(time.Since(start)) }}
	return resp, nil
}

// timedBody calls done once, when the body is closed.
type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

// latencySample keeps a uniform sample of at most size observations
// (reservoir sampling), so that a million calls cost no more memory than
// a thousand.
type latencySample struct {
	mu   sync.Mutex
	rnd  *rand.Rand
	seen int
	d    []time.Duration
}

func newLatencySample(size int, seed uint64) *latencySample {
	return &latencySample{rnd: rand.New(rand.NewPCG(seed, seed)), d: make([]time.Duration, 0, size)}
}

func (s *latencySample) add(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	if len(s.d) < cap(s.d) {
		s.d = append(s.d, d)
	} else if i := s.rnd.IntN(s.seen); i < len(s.d) {
		s.d[i] = d
	}
}

func (s *latencySample) report(b *testing.B) {
	var l perf.Latencies
	s.mu.Lock()
	for _, d := range s.d {
		l.Add(d)
	}
	s.mu.Unlock()
	l.Report(b)
}

// emulatorProcess is the emulator running in a child process.
type emulatorProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	http  *http.Client
}

// emulatorProcEnv tells the test binary it is BenchmarkPipeline's emulator.
const emulatorProcEnv = "SFBRIDGE_BENCH_EMULATOR_PROCESS"

var emulatorURLLine = regexp.MustCompile(`^sfbridge-bench-emulator (http://\S+)$`)

func startEmulatorProcess(b *testing.B) *emulatorProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineEmulatorProcess$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), emulatorProcEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	p := &emulatorProcess{cmd: cmd, stdin: stdin, http: &http.Client{Timeout: 10 * time.Minute}}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := emulatorURLLine.FindStringSubmatch(sc.Text()); m != nil {
			p.url = m[1]
			break
		}
	}
	if p.url == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.Fatalf("the emulator process did not say where it listens (%v)", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p
}

// stop closes the child's stdin (its signal to exit) and waits for it.
func (p *emulatorProcess) stop(b *testing.B) {
	_ = p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b.Errorf("emulator process: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		b.Errorf("emulator process did not exit; killed")
	}
}

func (p *emulatorProcess) get(b *testing.B, path string, v any) {
	b.Helper()
	resp, err := p.http.Get(p.url + path)
	require.NoError(b, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	require.Equal(b, http.StatusOK, resp.StatusCode, "GET %s: %s", path, body)
	require.NoError(b, json.Unmarshal(body, v), "GET %s", path)
}

// emuCounters is the part of GET /__emulator/counters the benchmark reads.
type emuCounters struct {
	Calls   map[string]int64 `json:"calls"`
	Records map[string]int   `json:"records"`
}

func (p *emulatorProcess) counters(b *testing.B) emuCounters {
	var c emuCounters
	p.get(b, "/__emulator/counters", &c)
	return c
}

// processUsage is the answer of /bench/usage.
type processUsage struct {
	PeakBytes int64
	CPU       time.Duration
}

func (p *emulatorProcess) usage(b *testing.B) processUsage {
	var u processUsage
	p.get(b, "/bench/usage", &u)
	return u
}

// compareResult is the answer of /bench/compare.
type compareResult struct {
	Diffs []string
	// Missing counts the rows without a Contact (partial comparisons).
	Missing int
}

func (p *emulatorProcess) compare(b *testing.B, schema string, partial bool) compareResult {
	var res compareResult
	p.get(b, "/bench/compare?"+url.Values{"schema": {schema}, "partial": {strconv.FormatBool(partial)}}.Encode(), &res)
	return res
}

// waitFor polls the emulator until it holds accounts Accounts and at least
// contacts Contacts, and returns the live record counts. rows is what the
// source publishes in all (Accounts and Contacts); waitFor logs when it
// has. It fails when a sync stops by itself or nothing moves for two
// minutes.
func (p *emulatorProcess) waitFor(b *testing.B, eng *engine.Engine, accounts, contacts, rows int) map[string]int {
	b.Helper()
	start := time.Now()
	last, lastMove := -1, time.Now()
	var published uint64
	var lastStatus time.Time
	for {
		c := p.counters(b)
		if c.Records["Account"] >= accounts && c.Records["Contact"] >= contacts {
			return c.Records
		}
		if published < uint64(rows) && time.Since(lastStatus) > 250*time.Millisecond {
			lastStatus = time.Now()
			published = 0
			for _, s := range eng.Status(context.Background()).Sources {
				published += s.Published
			}
			if published >= uint64(rows) {
				b.Logf("the source had published %d records after %s; %v in the emulator", published, time.Since(start).Round(10*time.Millisecond), c.Records)
				writeHeapProfile(b)
			}
		}
		if n := c.Records["Account"] + c.Records["Contact"]; n != last {
			last, lastMove = n, time.Now()
		}
		if err := eng.Ready(); err != nil || time.Since(lastMove) > 2*time.Minute {
			b.Fatalf("pipeline stalled at %v (ready: %v); syncs: %+v", c.Records, err, eng.Status(context.Background()).Syncs)
		}
		time.Sleep(20 * time.Millisecond) // a benchmark polling the emulator's counts
	}
}

// The flow-control bound and the deduplication window are the config's
// defaults (delivery.max_backlog, queue.dedup_window) unless these set
// them, e.g. SFBRIDGE_BENCH_MAX_BACKLOG=0 (off) or
// SFBRIDGE_BENCH_DEDUP_WINDOW=30s, to measure their effect on peak-MiB.
const (
	maxBacklogEnv  = "SFBRIDGE_BENCH_MAX_BACKLOG"
	dedupWindowEnv = "SFBRIDGE_BENCH_DEDUP_WINDOW"
)

func benchQueueSettings(b *testing.B, cfg *config.Config) {
	if v := os.Getenv(maxBacklogEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "%s", maxBacklogEnv)
		require.GreaterOrEqual(b, n, 0, "%s", maxBacklogEnv)
		cfg.Delivery.MaxBacklog = n
	}
	if v := os.Getenv(dedupWindowEnv); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(b, err, "%s", dedupWindowEnv)
		require.Positive(b, d, "%s", dedupWindowEnv)
		cfg.Queue.DedupWindow = d
	}
	b.Logf("delivery.max_backlog %d, queue.dedup_window %s", cfg.Delivery.MaxBacklog, cfg.Queue.DedupWindow)
}

// heapProfileEnv names a file to write a heap profile to at the moment the
// source has published the whole table (the backlog, the duplicate window
// and the version guard's keys are then all at their largest), e.g.
// SFBRIDGE_BENCH_HEAPPROFILE=/tmp/heap.pb.gz; read it with
// `go tool pprof -sample_index=inuse_space -top`. It separates the
// embedded nats-server's memory from sfbridge's, which peak-MiB cannot.
const heapProfileEnv = "SFBRIDGE_BENCH_HEAPPROFILE"

func writeHeapProfile(b *testing.B) {
	path := os.Getenv(heapProfileEnv)
	if path == "" {
		return
	}
	f, err := os.Create(path)
	require.NoError(b, err)
	defer func() { require.NoError(b, f.Close()) }()
	require.NoError(b, pprof.Lookup("heap").WriteTo(f, 0))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("heap profile written to %s (heap in use %d MiB, obtained from the OS %d MiB)", path, ms.HeapInuse>>20, ms.Sys>>20)
}

// TestPipelineEmulatorProcess is not a test: BenchmarkPipeline runs the
// test binary again with this test selected and emulatorProcEnv set, and
// it serves the Salesforce emulator (zero latency, a daily API limit no
// run reaches) until its stdin closes. Beside the emulator it answers
// GET /bench/usage (its own peak RSS and CPU time) and GET /bench/compare?schema=S
// (demo.Compare of the schema against its org; with partial=true, rows
// without a Contact are counted instead of reported).
func TestPipelineEmulatorProcess(t *testing.T) {
	t.Parallel()
	if os.Getenv(emulatorProcEnv) == "" {
		t.Skip("the emulator process of BenchmarkPipeline")
	}
	emu := sfemu.New(sfemu.Options{Seed: 1, DailyAPILimit: 1_000_000_000})
	mux := http.NewServeMux()
	mux.Handle("/", emu)
	mux.HandleFunc("GET /bench/usage", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(processUsage{PeakBytes: perf.PeakRSS(), CPU: processCPUTime()})
	})
	mux.HandleFunc("GET /bench/compare", func(w http.ResponseWriter, r *http.Request) {
		res, err := benchCompare(r.Context(), emu.Org(), r.URL.Query().Get("schema"), r.URL.Query().Get("partial") == "true")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("sfbridge-bench-emulator http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	require.NoError(t, srv.Close())
}

// The two lines of demo.Compare a partial comparison expects.
var (
	benchMissingContact = regexp.MustCompile(`^counselor \d+: no Contact with Counselor_Id__c \d+$`)
	benchContactCount   = regexp.MustCompile(`^\d+ Contacts with Counselor_Id__c, want \d+$`)
)

// benchCompare runs demo.Compare in the emulator process. Partial: the
// missing Contacts are counted, every other difference is reported.
func benchCompare(ctx context.Context, org *sfemu.Org, schema string, partial bool) (compareResult, error) {
	if schema == "" {
		return compareResult{}, errors.New("schema: required")
	}
	pool, err := pgxpool.New(ctx, pgtest.URL())
	if err != nil {
		return compareResult{}, err
	}
	defer pool.Close()
	limit := 20
	if partial {
		limit = 1 << 30
	}
	diffs, err := demo.Compare(ctx, pool, schema, org, limit)
	if err != nil {
		return compareResult{}, err
	}
	res := compareResult{Diffs: []string{}}
	for _, d := range diffs {
		switch {
		case partial && benchMissingContact.MatchString(d):
			res.Missing++
		case partial && benchContactCount.MatchString(d):
		default:
			res.Diffs = append(res.Diffs, d)
		}
	}
	return res, nil
}
