package sfemu_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// TestJsforceFidelity drives the real jsforce client from the npm registry
// (test/jsforce, pinned in its package-lock.json) against the emulator: OAuth
// logins, identity, limits, describe, sObject CRUD, upsert with a parent
// lookup, errors, Collections, Bulk API 2.0 ingest and query, query paging.
// Then it compares what jsforce saw with the emulator's own records.
func TestJsforceFidelity(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs("../../test/jsforce")
	require.NoError(t, err)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: install Node.js 18+ (the machine's Debian/npm one), then run scripts/services.sh")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jsforce")); err != nil {
		t.Fatalf("jsforce is not installed in %s: run scripts/services.sh (it runs npm ci there)", dir)
	}

	emu := sfemu.New(sfemu.Options{Seed: 7})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	_, username := emu.Org().DefaultUser()

	cmd := exec.CommandContext(t.Context(), node, "fidelity.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SFEMU_URL="+srv.URL,
		"SFEMU_CLIENT_ID="+sfemu.DemoClientID,
		"SFEMU_CLIENT_SECRET="+sfemu.DemoClientSecret,
		"SFEMU_USERNAME="+username,
		"SFEMU_PASSWORD="+sfemu.DemoPassword,
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "jsforce checks failed:\n%s", out)

	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var summary struct {
		Contacts int `json:"contacts"`
		Failures int `json:"failures"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &summary), "last line of:\n%s", out)
	require.Zero(t, summary.Failures)

	// What jsforce counted through paging is what the org holds.
	contacts, ok := emu.Org().Dump("Contact", false)
	require.True(t, ok)
	require.Len(t, contacts, summary.Contacts)
	byExt := map[string]map[string]any{}
	for _, c := range contacts {
		if ext, _ := c["Counselor_Id__c"].(string); ext != "" {
			byExt[ext] = c
		}
	}
	require.Equal(t, "Janet", byExt["c-1"]["FirstName"])
	require.Equal(t, `Bulk, "quoted" 7`, byExt["bulk-7"]["LastName"])
	require.NotContains(t, byExt, "bulk-bad")
}
