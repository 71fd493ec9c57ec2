package files

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
	"github.com/sfbridge/sfbridge/internal/state"
)

// srcName is the test sources' name.
const srcName = "spool"

// testNow is the clock of the test sources (DLQ entries, .error files).
var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// bundle is what a test works with.
type bundle struct {
	// dir is the watched folder; processed and quarantine are inside it.
	dir, processed, quarantine string
	brokerDir                  string
	broker                     *broker.Broker
	queue                      *natsjs.Queue
	state                      state.Store
	dlq                        *dlq.Store
	// in reads back what the sources published.
	in queue.Consumer
	// gate sits between the sources and the queue.
	gate *gate
	log  *sourcetest.LogBuffer
}

// setup gives a test a folder and an embedded broker with the queue, the
// DLQ, the state store and a consumer of everything published.
func setup(t testing.TB) *bundle {
	t.Helper()
	return setupIn(t, t.TempDir(), t.TempDir(), natsjs.Config{})
}

// setupIn is setup with the folder and the broker's storage in the given
// directories (to run a second process, or a restart, on them) and the
// queue configured by qc.
func setupIn(t testing.TB, dir, brokerDir string, qc natsjs.Config) *bundle {
	t.Helper()
	b := &bundle{dir: dir, brokerDir: brokerDir, log: &sourcetest.LogBuffer{}}
	b.processed = filepath.Join(b.dir, "processed")
	b.quarantine = filepath.Join(b.dir, "quarantine")
	b.open(t, qc)
	return b
}

// open opens the broker (again, after close) with the queue, DLQ, state and
// consumer.
func (b *bundle) open(t testing.TB, qc natsjs.Config) {
	t.Helper()
	bus := sourcetest.Open(t, b.brokerDir, qc)
	b.broker, b.queue, b.state, b.dlq, b.in = bus.Broker, bus.Queue, bus.State, bus.DLQ, bus.In
	b.gate = &gate{next: b.queue, entered: make(chan int, 1000)}
}

// config is a source config on the bundle's folder with test-friendly
// settings (settle 100ms, no periodic listing), changed by edit.
func (b *bundle) config(edit ...func(*config.Files)) config.Files {
	c := config.Files{
		Path:          b.dir,
		Pattern:       "*",
		Settle:        100 * time.Millisecond,
		Rescan:        time.Hour,
		After:         config.AfterMove,
		ProcessedDir:  b.processed,
		QuarantineDir: b.quarantine,
		FileFormat:    config.FileFormat{Format: config.FormatAuto, Compression: config.CompressionAuto},
		EventFields:   config.EventFields{IDField: "id", TypeField: "type", TimeField: "time", KeyField: "id", MaxEventBytes: 1 << 20},
	}
	for _, e := range edit {
		e(&c)
	}
	return c
}

// options are a source's Options over the bundle, changed by edit.
func (b *bundle) options(cfg config.Files, edit ...func(*Options)) Options {
	o := Options{
		Name:    srcName,
		Config:  cfg,
		Queue:   b.gate,
		DLQ:     b.dlq,
		State:   b.state,
		Logger:  sourcetest.Logger(b.log),
		Now:     func() time.Time { return testNow },
		Backoff: testBackoff(),
	}
	for _, e := range edit {
		e(&o)
	}
	return o
}

// testBackoff retries fast.
func testBackoff() retry.Policy {
	return retry.Policy{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2}
}

// start builds and starts a source; Stop runs at cleanup.
func (b *bundle) start(t testing.TB, cfg config.Files, edit ...func(*Options)) *Source {
	t.Helper()
	s := b.newSource(t, cfg, edit...)
	require.NoError(t, s.Start(context.Background()))
	return s
}

func (b *bundle) newSource(t testing.TB, cfg config.Files, edit ...func(*Options)) *Source {
	t.Helper()
	s, err := New(b.options(cfg, edit...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// drain reads n records from the queue (sourcetest.Drain).
func (b *bundle) drain(t testing.TB, n int) []record.Record {
	t.Helper()
	return sourcetest.Drain(t, b.in, n)
}

// deadLetters returns the DLQ entries of the test source.
func (b *bundle) deadLetters(t testing.TB) []dlq.Entry {
	t.Helper()
	return sourcetest.DeadLetters(t, b.dlq, srcName)
}

// checkpoint returns a file's checkpoint, nil when there is none.
func (b *bundle) checkpoint(t testing.TB, name string) *Checkpoint {
	t.Helper()
	e, err := b.state.Get(context.Background(), StateKey(srcName, name))
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	require.NoError(t, err)
	cp, err := ParseCheckpoint(e.Value)
	require.NoError(t, err)
	return &cp
}

// put writes a file under a hidden name and renames it into dir: the way
// files should be delivered.
func put(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, ".incoming-"+name)
	require.NoError(t, os.WriteFile(tmp, data, 0o644))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, name)))
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// waitDone waits until the named files are in processed_dir and gone from
// the folder.
func (b *bundle) waitDone(t testing.TB, names ...string) {
	t.Helper()
	sourcetest.Eventually(t, 20*time.Second, fmt.Sprintf("%v moved to processed_dir", names), func() bool {
		for _, n := range names {
			if exists(filepath.Join(b.dir, n)) || !exists(filepath.Join(b.processed, n)) {
				return false
			}
		}
		return true
	})
}

// waitQuarantined waits until the named files are in quarantine_dir with
// their .error files, and gone from the folder.
func (b *bundle) waitQuarantined(t testing.TB, names ...string) {
	t.Helper()
	sourcetest.Eventually(t, 20*time.Second, fmt.Sprintf("%v quarantined", names), func() bool {
		for _, n := range names {
			if exists(filepath.Join(b.dir, n)) || !exists(filepath.Join(b.quarantine, n)) || !exists(filepath.Join(b.quarantine, n+".error")) {
				return false
			}
		}
		return true
	})
}

// Event helpers shared with the other sources' tests.
var (
	ev       = sourcetest.Event
	ndjson   = sourcetest.NDJSON
	gzipped  = sourcetest.Gzip
	eventIDs = sourcetest.EventIDs
)

// numbered is n NDJSON events with ids prefix-0…, and the ids.
func numbered(prefix string, n int) ([]byte, []string) {
	lines := make([]string, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		lines[i] = ev(ids[i], "signup", fmt.Sprintf(`"n":%d`, i))
	}
	return ndjson(lines...), ids
}

// byFile groups records by their "file" metadata.
func byFile(rs []record.Record) map[string][]record.Record {
	out := map[string][]record.Record{}
	for _, r := range rs {
		out[r.Metadata["file"]] = append(out[r.Metadata["file"]], r)
	}
	return out
}

// failMode is how a gated Publish fails.
type failMode int

const (
	pass failMode = iota
	// failBefore: nothing reaches the broker.
	failBefore
	// failAfter: everything is stored, then the call fails (as when the
	// process dies between the confirmation and the checkpoint).
	failAfter
)

var errInjected = errors.New("injected: nats: no responders available for request")

// gate is an event.Publisher in front of the real queue that records
// what the broker confirmed and can fail or hold calls.
type gate struct {
	next event.Publisher

	mu sync.Mutex
	// fail decides the fate of call n (0-based); nil passes all.
	fail func(n int) failMode
	// hold, when set, makes Publish wait until it is closed or ctx ends.
	hold chan struct{}
	// before runs as each call starts; after once the broker confirmed
	// its messages.
	before func(n int, msgs []queue.Message)
	after  func(n int)
	// entered receives each call's index as it starts.
	entered   chan int
	calls     int
	confirmed []string // IDs the broker confirmed through the gate
	firstAt   time.Time
}

func (g *gate) Publish(ctx context.Context, msgs ...queue.Message) error {
	g.mu.Lock()
	n := g.calls
	g.calls++
	if g.firstAt.IsZero() {
		g.firstAt = time.Now()
	}
	mode := pass
	if g.fail != nil {
		mode = g.fail(n)
	}
	hold, before, after := g.hold, g.before, g.after
	g.mu.Unlock()
	select {
	case g.entered <- n:
	default:
	}
	if before != nil {
		before(n, msgs)
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return fmt.Errorf("held publish: %w", ctx.Err())
		}
	}
	if mode == failBefore {
		return errInjected
	}
	if err := g.next.Publish(ctx, msgs...); err != nil {
		return err
	}
	g.mu.Lock()
	for _, m := range msgs {
		g.confirmed = append(g.confirmed, m.ID)
	}
	g.mu.Unlock()
	if after != nil {
		after(n)
	}
	if mode == failAfter {
		return errInjected
	}
	return nil
}

// MaxMessageSize passes the queue's limit through.
func (g *gate) MaxMessageSize() int { return g.next.(source.SizeLimiter).MaxMessageSize() }

func (g *gate) set(edit func(g *gate)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	edit(g)
}

func (g *gate) callCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// confirmedIDs returns the IDs the broker confirmed through the gate, in
// order.
func (g *gate) confirmedIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.confirmed)
}

func (g *gate) first() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.firstAt
}
