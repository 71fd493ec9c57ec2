package pgpoll

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name      string
		every     time.Duration
		spec      string
		err       string
		immediate bool
		prev, now string // RFC 3339
		next      string
	}{
		{name: "every: from the previous start", every: 30 * time.Second, immediate: true,
			prev: "2024-05-01T10:00:00Z", now: "2024-05-01T10:00:05Z", next: "2024-05-01T10:00:30Z"},
		{name: "every: a long run is followed at once", every: 30 * time.Second, immediate: true,
			prev: "2024-05-01T10:00:00Z", now: "2024-05-01T10:01:00Z", next: "2024-05-01T10:00:30Z"},
		{name: "cron: the next activation after the run", spec: "*/5 * * * *",
			prev: "2024-05-01T10:00:00Z", now: "2024-05-01T10:07:10Z", next: "2024-05-01T10:10:00Z"},
		{name: "cron descriptor", spec: "@hourly",
			prev: "2024-05-01T10:00:00Z", now: "2024-05-01T10:00:01Z", next: "2024-05-01T11:00:00Z"},
		{name: "cron with a time zone", spec: "CRON_TZ=Europe/Paris 30 2 * * *",
			prev: "2024-05-01T00:00:00Z", now: "2024-05-01T00:00:00Z", next: time.Date(2024, 5, 1, 2, 30, 0, 0, paris).UTC().Format(time.RFC3339)},
		{name: "both", every: time.Minute, spec: "@hourly", err: "every and schedule are exclusive"},
		{name: "neither", err: "every must be positive, got 0s"},
		{name: "negative every", every: -time.Second, err: "every must be positive, got -1s"},
		{name: "@every", spec: "@every 5m", err: "use every instead of @every"},
		{name: "bad cron", spec: "*/5 * * * mon-funday", err: `schedule "*/5 * * * mon-funday": `},
		{name: "six fields", spec: "0 */5 * * * *", err: "expected exactly 5 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ParseSchedule(tt.every, tt.spec)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.immediate, s.Immediate())
			require.Equal(t, at(tt.next), s.Next(at(tt.prev), at(tt.now)).UTC())
			require.NotEmpty(t, s.String())
		})
	}
}
