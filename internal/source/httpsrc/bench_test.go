package httpsrc

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfbridge/sfbridge/internal/perf"
)

// BenchmarkIngest posts NDJSON batches of 1 and 100 events over loopback
// from 16 concurrent clients into the embedded broker, each answered after
// the broker confirmed its events. It reports events stored per second
// (records/s) and the request latency (p50, p99).
//
//	go test -run '^$' -bench BenchmarkIngest ./internal/source/httpsrc/
func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			bu := setup(b, func(o *Options) { o.Logger = nil })
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			var seq atomic.Int64
			var lat perf.Latencies
			var failed atomic.Int64
			b.SetParallelism(4) // 4 × GOMAXPROCS clients
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var body bytes.Buffer
				for pb.Next() {
					body.Reset()
					for range size {
						n := seq.Add(1)
						fmt.Fprintf(&body, `{"id":"ev-%d","type":"signup","time":"2024-05-01T12:00:00Z","email":"user%d@example.org","plan":"pro","seats":%d}`+"\n", n, n, n%50)
					}
					req, _ := http.NewRequest(http.MethodPost, bu.url, bytes.NewReader(body.Bytes()))
					req.Header.Set("Authorization", "Bearer "+testToken)
					req.Header.Set("Content-Type", "application/x-ndjson")
					start := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					lat.Add(time.Since(start))
					if resp.StatusCode != http.StatusAccepted {
						failed.Add(1)
					}
				}
			})
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d requests failed", n)
			}
			if got, want := bu.src.Stats().Accepted, int64(b.N*size); got != want {
				b.Fatalf("%d events accepted, want %d", got, want)
			}
			perf.ReportThroughput(b, b.N*size)
			lat.Report(b)
		})
	}
}
