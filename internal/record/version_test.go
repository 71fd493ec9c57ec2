package record_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/record"
)

func TestVersionCompare(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a, b record.Version
		want int
		err  bool
	}{
		{"lsn older", record.LSNVersion(10, 5), record.LSNVersion(11, 0), -1, false},
		{"lsn equal", record.LSNVersion(10, 5), record.LSNVersion(10, 5), 0, false},
		{"lsn seq breaks ties", record.LSNVersion(10, 6), record.LSNVersion(10, 5), 1, false},
		{"lsn above 2^63", record.LSNVersion(1<<63+1, 0), record.LSNVersion(1<<63, 0), 1, false},
		{"time older", record.TimeVersion(t0, 9), record.TimeVersion(t0.Add(time.Microsecond), 0), -1, false},
		{"time tie-breaker", record.TimeVersion(t0, 2), record.TimeVersion(t0, 1), 1, false},
		{"time truncates below a microsecond", record.TimeVersion(t0.Add(999), 0), record.TimeVersion(t0, 0), 0, false},
		{"time before 1970", record.TimeVersion(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 0), record.TimeVersion(t0, 0), -1, false},
		{"event newer", record.EventVersion(t0.Add(time.Second), 0), record.EventVersion(t0, 100), 1, false},
		{"lsn vs time", record.LSNVersion(10, 0), record.TimeVersion(t0, 0), 0, true},
		{"time vs event", record.TimeVersion(t0, 0), record.EventVersion(t0, 0), 0, true},
		{"unset vs unset", record.Version{}, record.Version{}, 0, true},
		{"unset vs lsn", record.Version{}, record.LSNVersion(1, 0), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.a.Compare(tt.b)
			if tt.err {
				require.ErrorIs(t, err, record.ErrIncomparable)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			back, err := tt.b.Compare(tt.a)
			require.NoError(t, err)
			require.Equal(t, -tt.want, back, "antisymmetric")
		})
	}
}

func TestVersionAccessors(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.FixedZone("cest", 7200))
	v := record.TimeVersion(at, 3)
	require.Equal(t, record.VersionTime, v.Kind())
	require.Equal(t, time.Date(2024, 5, 1, 8, 0, 0, 123456000, time.UTC), v.Time())
	require.Equal(t, uint64(3), v.Seq())
	require.Zero(t, v.LSN())
	require.Equal(t, "time:2024-05-01T08:00:00.123456Z+3", v.String())

	l := record.LSNVersion(0x16_B374D848, 0)
	require.Equal(t, "lsn:16/B374D848", l.String())
	require.True(t, l.Time().IsZero())
	require.Equal(t, "event:2024-05-01T08:00:00.123456Z", record.EventVersion(at, 0).String())
	require.Equal(t, "unset", record.Version{}.String())
	require.True(t, record.Version{}.IsZero())
	require.False(t, l.IsZero())
}

func TestLSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want uint64
		err  bool
	}{
		{"16/B374D848", 0x16_B374D848, false},
		{"0/1", 1, false},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, false},
		{"0016/b374d848", 0x16_B374D848, false},
		{"16B374D848", 0, true},
		{"/1", 0, true},
		{"1/", 0, true},
		{"123456789/0", 0, true},
		{"-1/0", 0, true},
		{"+1/0", 0, true},
		{"G/0", 0, true},
		{"0x1/0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := record.ParseLSN(tt.in)
			if tt.err {
				require.ErrorContains(t, err, tt.in)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			again, err := record.ParseLSN(record.FormatLSN(got))
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}
