package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/source/pgpoll"
)

// runCommand runs one command under a bare root, as Run would, with stdin.
func runCommand(t *testing.T, mk func(IO) *cobra.Command, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	stdio := IO{Out: &out, Err: &errOut, In: strings.NewReader(stdin)}
	root := &cobra.Command{Use: "sfbridge", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Invalid(err) })
	root.AddCommand(mk(stdio))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintln(&errOut, "sfbridge: "+err.Error())
	}
	return ExitCode(err), out.String(), errOut.String()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// stateConfig writes a config for the state and trigger commands and
// returns its path. nats is "embedded" or a URL.
func stateConfig(t *testing.T, nats, adminListen, adminToken, source string) string {
	t.Helper()
	dir := t.TempDir()
	token := ""
	if adminToken != "" {
		token = "\n  token: " + adminToken
	}
	cfg := `version: 1
data_dir: ./data
nats: ` + nats + `
admin:
  listen: "` + adminListen + `"` + token + `
sources:
  - name: ` + source + `
    type: postgres_poll
    dsn: postgres://sfbridge@db.example.com/app
    tables:
      - {table: public.counselors, key: id, cursor: updated_at}
      - {table: crm.orgs, key: [region, id], cursor: version}
  - {name: drops, type: files, path: ./in}
syncs:
  - {name: counselors, from: ` + source + `.public.counselors, object: Contact, external_id: Counselor_Id__c, fields: {Counselor_Id__c: row.id}}
salesforce:
  login_url: https://example.my.salesforce.com
  auth: {flow: client_credentials, client_id: abc, client_secret: xyz}
`
	path := filepath.Join(dir, "sfbridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

func TestStateEmbedded(t *testing.T) {
	t.Parallel()
	cfg := stateConfig(t, "embedded", closedAddr(t), "", "db")
	state := func(stdin string, args ...string) (int, string, string) {
		return runCommand(t, newStateCmd, stdin, append([]string{"state", "--config", cfg}, args...)...)
	}

	// Nothing has run with this config yet: reading says so.
	code, _, errOut := state("", "list")
	require.Equal(t, ExitInvalid, code, errOut)
	require.Contains(t, errOut, "no embedded store at "+filepath.Join(filepath.Dir(cfg), "data", "jetstream")+": sfbridge has not run with this config")

	// Seed a watermark from flags.
	code, out, errOut := state("", "set", "pgpoll/db/public.counselors", "--cursor", "2024-05-01 10:00:00.5+00", "--key", "42")
	require.Equal(t, ExitOK, code, errOut)
	require.Regexp(t, `^set pgpoll/db/public.counselors \(revision \d+\): updated_at = 2024-05-01 10:00:00.5\+00, id = 42\n$`, out)

	code, out, errOut = state("", "get", "pgpoll/db/public.counselors")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "watermark: updated_at = 2024-05-01 10:00:00.5+00, id = 42\n")
	require.Contains(t, out, `value:     {"kind":"pgpoll","v":1,"pos":{"table":"public.counselors","cursor_column":"updated_at","key_columns":["id"],"cursor":"2024-05-01 10:00:00.5+00","key":["42"]}}`)

	code, out, errOut = state("", "get", "--json", "pgpoll/db/public.counselors")
	require.Equal(t, ExitOK, code, errOut)
	var e stateEntryJSON
	require.NoError(t, json.Unmarshal([]byte(out), &e))
	require.Equal(t, "pgpoll/db/public.counselors", e.Key)
	p, err := pgpoll.ParsePosition(e.Value)
	require.NoError(t, err)
	require.Equal(t, "42", p.Key[0])

	// Set from stdin, the bare body (as an operator would edit it), for the
	// composite-key table.
	code, _, errOut = state(`{"table":"crm.orgs","cursor_column":"version","key_columns":["region","id"],"cursor":"1042","key":["eu","7"]}`,
		"set", "pgpoll/db/crm.orgs", "-")
	require.Equal(t, ExitOK, code, errOut)

	code, out, errOut = state("", "list")
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.Regexp(t, `^KEY\s+REVISION\s+UPDATED\s+VALUE$`, lines[0])
	require.Regexp(t, `^pgpoll/db/crm.orgs\s+\d+\s+\S+Z\s+version = 1042, region = eu, id = 7$`, lines[1])
	require.Regexp(t, `^pgpoll/db/public.counselors\s+`, lines[2])

	code, out, errOut = state("", "list", "--json", "pgpoll/db/crm")
	require.Equal(t, ExitOK, code, errOut)
	var list []stateEntryJSON
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 1)
	require.Equal(t, "pgpoll/db/crm.orgs", list[0].Key)

	// Watermarks the daemon would refuse are refused here.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "pgpoll/nope/public.counselors", "--cursor", "1", "--key", "1"}, `has no postgres_poll source named "nope"`},
		{[]string{"set", "pgpoll/drops/x", "--cursor", "1", "--key", "1"}, `has no postgres_poll source named "drops"`},
		{[]string{"set", "pgpoll/db/public.nope", "--cursor", "1", "--key", "1"}, `source db reads no table "public.nope" (it reads public.counselors, crm.orgs)`},
		{[]string{"set", "pgpoll/db/crm.orgs", "--cursor", "1", "--key", "1"}, "give --key once per key column (region, id), got 1"},
		{[]string{"set", "pgpoll/db/public.counselors", `{"table":"public.counselors","cursor_column":"changed","key_columns":["id"],"cursor":"1","key":["1"]}`}, `the watermark is for table public.counselors, cursor "changed"`},
		{[]string{"set", "pgpoll/db/public.counselors", "not json"}, "not a pgpoll watermark"},
		{[]string{"set", "pgpoll/db/public.counselors", "{}", "--cursor", "1"}, "give VALUE or --cursor/--key, not both"},
		{[]string{"set", "pgpoll/db/public.counselors"}, "give VALUE, - (stdin), or --cursor and --key"},
		{[]string{"get", "pgpoll/db/missing"}, `no checkpoint at key "pgpoll/db/missing"`},
		{[]string{"reset"}, "give one or more KEYs, or --prefix"},
		{[]string{"get"}, "accepts 1 arg(s), received 0"},
	} {
		code, _, errOut := state("", tt.args...)
		require.Equal(t, ExitInvalid, code, "%v: %s", tt.args, errOut)
		require.Contains(t, errOut, tt.want, tt.args)
	}

	// Any other key is stored as given.
	code, _, errOut = state("", "set", "custom/thing", "v1")
	require.Equal(t, ExitOK, code, errOut)

	// Reset: by key, then by prefix (a full resync of the source).
	code, out, errOut = state("", "reset", "pgpoll/db/public.counselors", "pgpoll/db/never")
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, "reset pgpoll/db/public.counselors (was updated_at = 2024-05-01 10:00:00.5+00, id = 42)\npgpoll/db/never had no checkpoint\n", out)
	code, out, errOut = state("", "reset", "--json", "--prefix", "pgpoll/db/")
	require.Equal(t, ExitOK, code, errOut)
	require.JSONEq(t, `[{"key":"pgpoll/db/crm.orgs","reset":true,"was":"version = 1042, region = eu, id = 7"}]`, out)
	code, out, _ = state("", "list")
	require.Equal(t, ExitOK, code)
	require.Regexp(t, `^KEY.*\ncustom/thing\s+\d+\s+\S+\s+v1\n$`, out)
}

func TestStateRefusesWhileTheStoreIsInUse(t *testing.T) {
	t.Parallel()
	// Something (the daemon) answers on admin.listen.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	cfg := stateConfig(t, "embedded", ln.Addr().String(), "", "db")
	code, _, errOut := runCommand(t, newStateCmd, "", "state", "set", "--config", cfg, "x", "1")
	require.Equal(t, ExitFailure, code)
	require.Contains(t, errOut, "sfbridge seems to be running: something answers on admin.listen ("+ln.Addr().String()+")")
	require.Contains(t, errOut, "can be opened by one process at a time")

	// Another process holds the store's lock.
	cfg = stateConfig(t, "embedded", closedAddr(t), "", "db")
	holder, err := broker.Open(context.Background(), broker.Options{URL: broker.Embedded, DataDir: filepath.Join(filepath.Dir(cfg), "data")})
	require.NoError(t, err)
	code, _, errOut = runCommand(t, newStateCmd, "", "state", "set", "--config", cfg, "x", "1")
	require.Equal(t, ExitFailure, code)
	require.Contains(t, errOut, "is in use by another sfbridge process")
	require.NoError(t, holder.Close())
	code, _, errOut = runCommand(t, newStateCmd, "", "state", "set", "--config", cfg, "x", "1")
	require.Equal(t, ExitOK, code, errOut)
}

func TestStateExternal(t *testing.T) {
	t.Parallel()
	brokertest.External(t)              // fails saying how to start it when it is down
	src := "cli" + brokertest.Prefix(t) // keys of this test only, on the shared server
	cfg := stateConfig(t, brokertest.ExternalURL(), closedAddr(t), "", src)
	key := "pgpoll/" + src + "/public.counselors"
	code, _, errOut := runCommand(t, newStateCmd, "", "state", "--config", cfg, "set", key, "--cursor", "7", "--key", "1")
	require.Equal(t, ExitOK, code, errOut)
	code, out, errOut := runCommand(t, newStateCmd, "", "state", "--config", cfg, "list", "pgpoll/"+src+"/")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, key)
	code, _, errOut = runCommand(t, newStateCmd, "", "state", "--config", cfg, "reset", key)
	require.Equal(t, ExitOK, code, errOut)

	down := stateConfig(t, "nats://"+closedAddr(t), closedAddr(t), "", "db")
	code, _, errOut = runCommand(t, newStateCmd, "", "state", "--config", down, "list")
	require.Equal(t, ExitUnreachable, code, errOut)
}

func TestStateBadConfigExits2(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte("version: 1\nsources: 3\n"), 0o600))
	code, _, errOut := runCommand(t, newStateCmd, "", "state", "list", "--config", path)
	require.Equal(t, ExitInvalid, code)
	require.Contains(t, errOut, path+": ")
}
