package cli

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/source"
)

// daemonSources stands in for the daemon's running sources behind the
// real trigger handler.
type daemonSources struct {
	mu      sync.Mutex
	tables  []string
	asked   []string
	stopped bool
}

func (d *daemonSources) Trigger(collection string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return nil, source.ErrNotRunning
	}
	d.asked = append(d.asked, collection)
	if collection == "" {
		return d.tables, nil
	}
	for _, t := range d.tables {
		if t == collection {
			return []string{t}, nil
		}
	}
	return nil, fmt.Errorf("%w %q", source.ErrUnknownCollection, collection)
}

func TestTrigger(t *testing.T) {
	t.Parallel()
	db := &daemonSources{tables: []string{"public.counselors"}} // the daemon runs an older config
	srv := httptest.NewServer(source.NewTriggerHandler("t0ken", func(name string) (source.Triggerer, bool) {
		if name == "db" {
			return db, true
		}
		return nil, false
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	cfg := stateConfig(t, "embedded", addr, "t0ken", "db")
	trigger := func(path string, args ...string) (int, string, string) {
		return runCommand(t, newTriggerCmd, "", append([]string{"trigger", "--config", path}, args...)...)
	}

	code, out, errOut := trigger(cfg, "db")
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, "triggered db: public.counselors\n", out)

	code, out, errOut = trigger(cfg, "db.counselors", "--json")
	require.Equal(t, ExitOK, code, errOut)
	require.JSONEq(t, `{"source":"db","collections":["public.counselors"]}`, out)
	require.Equal(t, []string{"", "public.counselors"}, db.asked, "a bare table name means public.")

	for _, tt := range []struct {
		name string
		cfg  string
		args []string
		code int
		want string
	}{
		{"unknown source", cfg, []string{"nope"}, ExitInvalid, `has no source "nope" (sources: db, drops)`},
		{"not a poll source", cfg, []string{"drops"}, ExitInvalid, "source drops is a files source; only postgres_poll sources run on demand"},
		{"unknown table", cfg, []string{"db.public.nope"}, ExitInvalid, `source db reads no table "public.nope" (it reads public.counselors, crm.orgs)`},
		{"the daemon does not know the table", cfg, []string{"db.crm.orgs"}, ExitInvalid, `answered 404 Not Found: source db: unknown collection "crm.orgs" (the daemon may run another config)`},
		{"wrong token", stateConfig(t, "embedded", addr, "other", "db"), []string{"db"}, ExitInvalid, "answered 401 Unauthorized: missing or wrong bearer token (admin.token) (the token differs from the daemon's)"},
		{"no token", stateConfig(t, "embedded", addr, "", "db"), []string{"db"}, ExitInvalid, "(the config sets no admin.token, so the daemon generated one"},
		{"daemon down", stateConfig(t, "embedded", closedAddr(t), "t0ken", "db"), []string{"db"}, ExitUnreachable, "cannot reach the sfbridge admin server at 127.0.0.1:"},
		{"no argument", cfg, nil, ExitInvalid, "accepts 1 arg(s), received 0"},
	} {
		code, out, errOut := trigger(tt.cfg, tt.args...)
		require.Equal(t, tt.code, code, "%s: %s", tt.name, errOut)
		require.Empty(t, out, tt.name)
		require.Contains(t, errOut, tt.want, tt.name)
		require.NotContains(t, errOut, "t0ken", tt.name)
	}

	// --addr overrides admin.listen.
	code, _, errOut = trigger(stateConfig(t, "embedded", closedAddr(t), "t0ken", "db"), "db", "--addr", addr)
	require.Equal(t, ExitOK, code, errOut)

	db.mu.Lock()
	db.stopped = true
	db.mu.Unlock()
	code, _, errOut = trigger(cfg, "db")
	require.Equal(t, ExitFailure, code)
	require.Contains(t, errOut, "answered 503 Service Unavailable")
}

func TestDialAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:8080": "127.0.0.1:8080",
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:8080":   "127.0.0.1:8080",
		"[::]:8080":      "[::1]:8080",
		"host:1":         "host:1",
	} {
		require.Equal(t, want, dialAddr(in), in)
	}
}

// Not parallel: it sets the environment.
func TestTriggerTokenFromEnvironment(t *testing.T) {
	db := &daemonSources{tables: []string{"public.counselors"}}
	srv := httptest.NewServer(source.NewTriggerHandler("generated-at-start", func(string) (source.Triggerer, bool) { return db, true }))
	t.Cleanup(srv.Close)
	cfg := stateConfig(t, "embedded", strings.TrimPrefix(srv.URL, "http://"), "", "db")
	t.Setenv(adminTokenEnv, "generated-at-start")
	code, out, errOut := runCommand(t, newTriggerCmd, "", "trigger", "--config", cfg, "db")
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, "triggered db: public.counselors\n", out)
}
