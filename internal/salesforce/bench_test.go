package salesforce_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sfbridge/sfbridge/internal/perf"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

// benchRecords is the batch every variant writes.
const benchRecords = 50_000

func benchRows() []map[string]any {
	rows := make([]map[string]any, benchRecords)
	for i := range rows {
		rows[i] = map[string]any{
			"Counselor_Id__c":    fmt.Sprintf("C-%06d", i),
			"FirstName":          "Ada",
			"LastName":           fmt.Sprintf("Lovelace %d", i),
			"Email":              fmt.Sprintf("ada.%d@example.org", i),
			"Title":              "Counselor",
			"Hours_Available__c": float64(i%40) + 0.5,
			"Description":        "Speaks English, Spanish; \"certified\"",
		}
	}
	return rows
}

// BenchmarkUpsert50k writes the same 50,000 Contacts into a fresh emulator
// org over loopback HTTP three ways: (a) one REST upsert per record, the
// original design's way, (b) sObject Collections of 200, (c) Bulk API 2.0.
// Each iteration starts from an empty org, so every variant inserts. It
// reports records/s, API calls per 1,000 records (what the org's daily
// allowance pays), and p50/p99 of one API call (a), one Collections call
// (b) or one whole Bulk write (c).
func BenchmarkUpsert50k(b *testing.B) {
	rows := benchRows()
	variants := []struct {
		name  string
		write func(ctx context.Context, c *salesforce.Client, lat *perf.Latencies) error
	}{
		{"one_per_record", func(ctx context.Context, c *salesforce.Client, lat *perf.Latencies) error {
			work := make(chan map[string]any)
			errs := make(chan error, 1)
			var wg sync.WaitGroup
			for range salesforce.DefaultMaxConcurrency {
				wg.Go(func() {
					for row := range work {
						start := time.Now()
						if _, err := c.UpsertOne(ctx, "Contact", "Counselor_Id__c", row); err != nil {
							select {
							case errs <- err:
							default:
							}
						}
						lat.Add(time.Since(start))
					}
				})
			}
			for _, row := range rows {
				work <- row
			}
			close(work)
			wg.Wait()
			select {
			case err := <-errs:
				return err
			default:
				return nil
			}
		}},
		{"collections_200", func(ctx context.Context, c *salesforce.Client, lat *perf.Latencies) error {
			work := make(chan []map[string]any)
			errs := make(chan error, 1)
			var wg sync.WaitGroup
			for range salesforce.DefaultMaxConcurrency {
				wg.Go(func() {
					for chunk := range work {
						start := time.Now()
						res, err := c.UpsertCollection(ctx, "Contact", "Counselor_Id__c", chunk)
						lat.Add(time.Since(start))
						if err == nil {
							err = firstErr(res)
						}
						if err != nil {
							select {
							case errs <- err:
							default:
							}
						}
					}
				})
			}
			for start := 0; start < len(rows); start += salesforce.CollectionLimit {
				work <- rows[start:min(start+salesforce.CollectionLimit, len(rows))]
			}
			close(work)
			wg.Wait()
			select {
			case err := <-errs:
				return err
			default:
				return nil
			}
		}},
		{"bulk_2_0", func(ctx context.Context, c *salesforce.Client, lat *perf.Latencies) error {
			t0 := time.Now()
			res, err := c.BulkUpsert(ctx, "Contact", "Counselor_Id__c", rows)
			lat.Add(time.Since(t0))
			if err != nil {
				return err
			}
			return firstErr(res)
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			srv := sfemutest.Start(b, sfemu.Options{DailyAPILimit: 10_000_000})
			c, err := salesforce.New(salesforce.Config{
				LoginURL: srv.URL,
				Auth:     salesforce.Auth{Flow: salesforce.FlowClientCredentials, ClientID: sfemu.DemoClientID, ClientSecret: sfemu.DemoClientSecret},
				Logger:   slog.New(slog.DiscardHandler),
				BulkPoll: retry.Policy{Initial: 20 * time.Millisecond, Max: 500 * time.Millisecond, Multiplier: 1.5},
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := c.Login(ctx); err != nil {
				b.Fatal(err)
			}
			var lat perf.Latencies
			var calls int64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				srv.Org().Reset()
				before := c.Requests()
				b.StartTimer()
				if err := v.write(ctx, c, &lat); err != nil {
					b.Fatal(err)
				}
				calls += c.Requests() - before
			}
			b.StopTimer()
			if n := srv.Org().ObjectCounts()["Contact"]; n != benchRecords {
				b.Fatalf("the org holds %d Contacts, want %d", n, benchRecords)
			}
			perf.ReportThroughput(b, b.N*benchRecords)
			b.ReportMetric(float64(calls)/float64(b.N*benchRecords)*1000, "api-calls/1k-records")
			lat.Report(b)
		})
	}
}

func firstErr(res []salesforce.Result) error {
	for i, r := range res {
		if r.Err != nil {
			return fmt.Errorf("row %d: %w", i, r.Err)
		}
	}
	return nil
}
