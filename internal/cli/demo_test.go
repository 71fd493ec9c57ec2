package cli

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The demo runs the real daemon on its sample data and the sample
// application's events: in a few seconds Accounts, Contacts and Cases (one
// per rescue event, posted through the emit package) reach the emulator.
func TestDemoRunsTablesAndEvents(t *testing.T) {
	code, out, errOut := run(t, "demo", "--duration", "10s", "--admin", "127.0.0.1:0", "--events", "127.0.0.1:0",
		"--counselors", "100", "--orgs", "5", "--event-every", "200ms", "--data-dir", t.TempDir())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "dashboard: http://127.0.0.1:")
	require.Contains(t, out, "/v1/events with the bearer token in ")
	m := regexp.MustCompile(`in Salesforce: (\d+) Accounts, (\d+) Contacts, (\d+) Cases`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, m, out)
	last := m[len(m)-1]
	n := func(i int) int { v, _ := strconv.Atoi(last[i]); return v }
	require.Equal(t, 5, n(1), "every organisation is an Account")
	require.GreaterOrEqual(t, n(2), 100, "every counselor is a Contact")
	require.Positive(t, n(3), "rescue events became Cases")
	require.NotContains(t, out, "in DLQ, stopped")
}
