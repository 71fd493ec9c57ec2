package natsjs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/perf"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
)

// Run: go test -run '^$' -bench . -benchtime 100000x ./internal/queue/natsjs/
// One op is one 1 KiB record; records/s is the figure to read.

const benchRecordSize = 1024

func BenchmarkPublish(b *testing.B) {
	for _, mode := range []string{"embedded", "external"} {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", mode, batch), func(b *testing.B) {
				q, _ := benchQueue(b, mode, natsjs.Config{})
				ctx := context.Background()
				msgs := benchMessages(b.N)
				b.SetBytes(benchRecordSize)
				var lat perf.Latencies // per Publish call: send the batch, await every confirm
				b.ResetTimer()
				for i := 0; i < len(msgs); i += batch {
					start := time.Now()
					if err := q.Publish(ctx, msgs[i:min(i+batch, len(msgs))]...); err != nil {
						b.Fatal(err)
					}
					lat.Add(time.Since(start))
				}
				perf.ReportThroughput(b, b.N)
				lat.Report(b)
			})
		}
	}
}

func BenchmarkFetchAck(b *testing.B) {
	for _, mode := range []string{"embedded", "external"} {
		for _, confirm := range []bool{false, true} {
			name := mode + "/fire_and_forget_acks"
			if confirm {
				name = mode + "/confirmed_acks"
			}
			b.Run(name, func(b *testing.B) {
				const batch = 500
				q, c := benchQueue(b, mode, natsjs.Config{ConfirmAcks: confirm})
				ctx := context.Background()
				msgs := benchMessages(b.N)
				for i := 0; i < len(msgs); i += 1000 {
					require.NoError(b, q.Publish(ctx, msgs[i:min(i+1000, len(msgs))]...))
				}
				b.SetBytes(benchRecordSize)
				b.ResetTimer()
				for got := 0; got < b.N; {
					ds, err := c.Fetch(ctx, min(batch, b.N-got), 5*time.Second)
					if err != nil {
						b.Fatal(err)
					}
					if len(ds) == 0 {
						b.Fatalf("nothing fetched after %d of %d", got, b.N)
					}
					for _, d := range ds {
						if err := d.Ack(ctx); err != nil {
							b.Fatal(err)
						}
					}
					got += len(ds)
				}
				perf.ReportThroughput(b, b.N)
			})
		}
	}
}

// benchQueue opens a queue with one consumer on everything (so that the
// interest stream keeps what is published, as it does in production).
func benchQueue(b *testing.B, mode string, cfg natsjs.Config) (*natsjs.Queue, queue.Consumer) {
	b.Helper()
	var br *broker.Broker
	if mode == "embedded" {
		br = brokertest.Embedded(b, b.TempDir())
	} else {
		br = brokertest.External(b)
		cfg.Namespace = brokertest.Prefix(b)
	}
	q, err := natsjs.Open(context.Background(), br, cfg)
	require.NoError(b, err)
	if mode == "external" {
		deleteStreamsAtCleanup(b, br, q)
	}
	c, err := q.Consumer(context.Background(), queue.ConsumerConfig{Name: "bench", Subject: "in.>", MaxInFlight: 10_000})
	require.NoError(b, err)
	return q, c
}

// benchMessages makes n 1 KiB records over ten subjects with unique IDs.
func benchMessages(n int) []queue.Message {
	data := make([]byte, benchRecordSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	run := time.Now().UnixNano()
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{
			Subject: fmt.Sprintf("in.bench.t%d", i%10),
			ID:      fmt.Sprintf("%d-%d", run, i),
			Data:    data,
		}
	}
	return msgs
}
