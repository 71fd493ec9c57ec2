package emit

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

// holdSink never delivers: it blocks until the send is cancelled, so the
// benchmark measures Emit into the spool alone.
type holdSink struct{}

func (holdSink) Send(ctx context.Context, _ []Message) (Result, error) {
	<-ctx.Done()
	return Result{}, ctx.Err()
}

func benchClient(b *testing.B) *Client {
	c, err := New(Config{
		SpoolDir:      filepath.Join(b.TempDir(), "spool"),
		Sink:          holdSink{},
		MaxSpoolBytes: -1,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

var benchEvent = Event{Type: "volunteer.login", Key: "v-42",
	Data: map[string]any{"volunteer_id": "v-42", "org_id": 7, "channel": "web", "duration_ms": 1234}}

// BenchmarkEmit measures one goroutine emitting: every Emit waits for its
// own fsync.
func BenchmarkEmit(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := c.Emit(ctx, benchEvent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkEmitParallel measures many goroutines emitting (64 per
// GOMAXPROCS): concurrent Emits share fsyncs (group commit).
func BenchmarkEmitParallel(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(64)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Emit(ctx, benchEvent); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
