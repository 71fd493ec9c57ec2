package deliver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/perf"
	"github.com/sfbridge/sfbridge/internal/queue"
)

// BenchmarkDeliver measures the loop alone: records already in the queue
// (embedded NATS), the emulator at zero latency, until every record is
// delivered and acked. It reports records/s, Salesforce API calls per 1,000
// records and peak RSS. The version guard is the state store's unless the
// case says stream order.
func BenchmarkDeliver(b *testing.B) {
	for _, bc := range []struct {
		name               string
		records, batch, cc int
		streamOrder        bool
	}{
		{"batch200_conc2", 20000, 200, 2, false},
		{"batch200_conc4", 20000, 200, 4, false},
		{"batch200_conc2_stream_order", 20000, 200, 2, true}, // ADR 0004
		{"batch1_conc1", 1000, 1, 1, false},                  // the original design: one message, one call
	} {
		b.Run(bc.name, func(b *testing.B) {
			var delivered int
			var calls int64
			for range b.N {
				b.StopTimer()
				e := setup(b, options{})
				msgs := make([]queue.Message, bc.records)
				for i := range msgs {
					msgs[i] = e.message(rec(e.t, row{ID: fmt.Sprintf("c-%d", i), LastName: fmt.Sprintf("N%d", i), Email: fmt.Sprintf("c%d@example.org", i), Version: 1}))
				}
				d, start := e.prepare(b, bc.batch, bc.cc, bc.streamOrder)
				for i := 0; i < len(msgs); i += 5000 {
					require.NoError(b, e.queue.Publish(context.Background(), msgs[i:min(i+5000, len(msgs))]...))
				}
				before := e.client.Requests()
				b.StartTimer()
				start()
				for d.Stats().Delivered < int64(bc.records) {
					time.Sleep(time.Millisecond) // a benchmark's wait, not a test's
				}
				b.StopTimer()
				calls += e.client.Requests() - before
				delivered += bc.records
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				require.NoError(b, d.Stop(ctx))
				cancel()
			}
			b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(calls)*1000/float64(delivered), "api-calls/1k")
			perf.ReportPeakRSS(b)
		})
	}
}

// prepare builds a Deliverer and creates its consumer; start runs it.
func (e *env) prepare(b *testing.B, batch, conc int, streamOrder bool) (*deliver.Deliverer, func()) {
	s := newSync(b, syncConfig("counselors"))
	d, err := deliver.New(deliver.Config{
		Sync: s, Queue: e.queue, State: e.state, Sink: e.sink,
		BatchSize: batch, Concurrency: conc, Linger: 20 * time.Millisecond, StreamOrder: streamOrder,
	})
	require.NoError(b, err)
	_, err = e.queue.Consumer(context.Background(), d.ConsumerConfig())
	require.NoError(b, err)
	return d, func() { require.NoError(b, d.Start(context.Background())) }
}
