package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
)

// run runs the CLI with args and returns exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, IO{Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, "version")
	require.Equal(t, ExitOK, code)
	require.True(t, strings.HasPrefix(out, "sfbridge "), out)

	code, out, _ = run(t, "version", "--json")
	require.Equal(t, ExitOK, code)
	var bi BuildInfo
	require.NoError(t, json.Unmarshal([]byte(out), &bi))
	require.NotEmpty(t, bi.Version)
	require.NotEmpty(t, bi.GoVersion)
}

func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	root := newRoot(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	for _, c := range append(root.Commands(), root) {
		args := []string{"--help"}
		if c != root {
			args = []string{c.Name(), "--help"}
		}
		code, out, _ := run(t, args...)
		require.Equal(t, ExitOK, code, "%v", args)
		require.Contains(t, out, "Usage:", "%v", args)
	}
}

func TestInvalidInvocationsExit2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"no-such-command"},
		{"version", "--no-such-flag"},
		{"version", "extra-arg"},
		{"validate", "--config"},
	} {
		code, _, errOut := run(t, args...)
		require.Equal(t, ExitInvalid, code, "%v: %s", args, errOut)
		require.True(t, strings.HasPrefix(errOut, "sfbridge: "), errOut)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one line: %q", errOut)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{base, ExitFailure},
		{Invalid(base), ExitInvalid},
		{fmt.Errorf("wrapped: %w", Invalid(base)), ExitInvalid},
		{Unreachable(base), ExitUnreachable},
		{fmt.Errorf("open: %w", broker.ErrUnreachable), ExitUnreachable},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ExitCode(tt.err), "%v", tt.err)
	}
	require.NoError(t, Invalid(nil))
	require.NoError(t, Unreachable(nil))
}

func TestValidate(t *testing.T) {
	t.Parallel()
	const dir = "../config/testdata/"

	t.Run("five mistakes, all reported with paths and lines", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := run(t, "validate", "--config", dir+"five-mistakes.yaml")
		require.Equal(t, ExitInvalid, code)
		require.Empty(t, out)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		require.Len(t, lines, 6, errOut)
		require.Equal(t, "sfbridge: "+dir+"five-mistakes.yaml: 5 problems", lines[0])
		for _, want := range []string{
			"salesforce.max_concurency: unknown key",
			"syncs[0].batch_size: expected a whole number",
			"syncs[1].from: no source named \"platform_events\"",
			"syncs[1].nulls: must be one of skip, write",
			"syncs[2].external_id: required",
		} {
			require.Contains(t, errOut, want)
		}
		for _, l := range lines[1:] {
			require.Regexp(t, `\(line \d+\)$`, l)
		}
	})

	t.Run("five mistakes as JSON", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := run(t, "validate", "--json", "--config", dir+"five-mistakes.yaml")
		require.Equal(t, ExitInvalid, code)
		require.Empty(t, errOut)
		var res struct {
			OK       bool
			Problems []struct {
				Path    string
				Line    int
				Message string
			}
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		require.False(t, res.OK)
		require.Len(t, res.Problems, 5)
		require.Equal(t, "salesforce.max_concurency", res.Problems[0].Path)
		require.Equal(t, 11, res.Problems[0].Line)
	})

	t.Run("valid config, one-line summary", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := run(t, "validate", "--config", dir+"valid.yaml")
		require.Equal(t, ExitOK, code, errOut)
		require.Empty(t, errOut)
		require.Equal(t, 1, strings.Count(out, "\n"), out)
		require.True(t, strings.HasPrefix(out, "config ok: "), out)
	})

	for name, file := range map[string]string{
		"empty":    dir + "empty.yaml",
		"not yaml": dir + "not-yaml.txt",
		"missing":  t.TempDir() + "/missing.yaml",
	} {
		t.Run(name+" file, one clear line", func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, "validate", "--config", file)
			require.Equal(t, ExitInvalid, code)
			require.Empty(t, out)
			require.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
			require.Contains(t, errOut, file)
		})
	}
}

func TestValidateNeverPrintsSecrets(t *testing.T) {
	const secret = "s3cr3t-client-value-XYZ"
	t.Setenv("SFBRIDGE_TEST_CLIENT_SECRET", secret)
	dir := t.TempDir()
	path := dir + "/sfbridge.yaml"
	// A valid config and one with a problem next to the secret.
	for _, extra := range []string{"", "  max_concurrency: many\n"} {
		cfg := `version: 1
sources:
  - name: db
    type: postgres_poll
    dsn: postgres://sfbridge:${env:SFBRIDGE_TEST_CLIENT_SECRET}@db.example.com/app
    tables: [{table: public.counselors, key: id, cursor: updated_at}]
syncs:
  - {name: counselors, from: db, object: Contact, external_id: Counselor_Id__c, fields: {Counselor_Id__c: row.id, LastName: row.last_name}}
salesforce:
  login_url: https://example.my.salesforce.com
  auth:
    flow: client_credentials
    client_id: abc
    client_secret: ${env:SFBRIDGE_TEST_CLIENT_SECRET}
` + extra
		require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
		for _, args := range [][]string{{"validate", "--config", path}, {"validate", "--json", "--config", path}} {
			code, out, errOut := run(t, args...)
			require.Equal(t, map[bool]int{true: ExitOK, false: ExitInvalid}[extra == ""], code, out+errOut)
			require.NotContains(t, out+errOut, secret)
		}
	}
}
