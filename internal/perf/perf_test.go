package perf

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var l Latencies
	require.Zero(t, l.Percentile(50))
	for i := 1; i <= 100; i++ {
		l.Add(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Millisecond},
		{99, 99 * time.Millisecond},
		{100, 100 * time.Millisecond},
		{1, 1 * time.Millisecond},
		{0.1, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, l.Percentile(tt.p), "p%v", tt.p)
	}
}

func TestPeakRSS(t *testing.T) {
	t.Parallel()
	// A Go test process holds at least a megabyte resident.
	require.Greater(t, PeakRSS(), int64(1<<20))
}
