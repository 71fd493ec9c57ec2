// Package perf helps benchmarks report what docs/benchmarks.md promises:
// records per second, latency percentiles and peak memory. It is imported by
// _test.go files only.
//
// Peak memory is the process's resident high-water mark (VmHWM). scripts/bench.sh
// runs every benchmark in its own process so the figure belongs to that
// benchmark alone; when several run in one process it is their maximum.
package perf

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// PeakRSS returns the process's peak resident set size in bytes, or 0 where
// /proc is not available.
func PeakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// ReportThroughput reports records/s over the benchmark's elapsed time and
// the peak RSS in MiB. Call it after the timed loop, before b.StopTimer side work.
func ReportThroughput(b *testing.B, records int) {
	b.Helper()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(records)/s, "records/s")
	}
	ReportPeakRSS(b)
}

// ReportPeakRSS reports the peak resident set size in MiB.
func ReportPeakRSS(b *testing.B) {
	b.Helper()
	if rss := PeakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-MiB")
	}
}

// Latencies collects durations from many goroutines and reports percentiles.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one observation.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Percentile returns the p-th percentile (0 < p ≤ 100) by nearest rank, or 0
// with no observations.
func (l *Latencies) Percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return s[rank]
}

// Report adds p50 and p99 in milliseconds to the benchmark's metrics.
func (l *Latencies) Report(b *testing.B) {
	b.Helper()
	b.ReportMetric(float64(l.Percentile(50))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(l.Percentile(99))/float64(time.Millisecond), "p99-ms")
}
