package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := NewSecret("hunter2")
	require.Equal(t, "hunter2", s.Reveal())
	holder := struct {
		Name   string
		Token  Secret
		Ptr    *Secret
		Tokens []Secret
	}{"n", s, &s, []Secret{s}}

	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-8v"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &holder))
	}
	outs = append(outs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(holder))
	j, err := json.Marshal(holder)
	require.NoError(t, err)
	y, err := yaml.Marshal(holder)
	require.NoError(t, err)
	txt, err := s.MarshalText()
	require.NoError(t, err)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "secret", s, "holder", holder)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "secret", s, "holder", holder, "ptr", &holder)
	outs = append(outs, string(j), string(y), string(txt), logs.String())

	for _, o := range outs {
		require.NotContains(t, o, "hunter2")
		require.NotContains(t, o, fmt.Sprintf("%x", "hunter2"))
	}
	require.Equal(t, "[REDACTED]", fmt.Sprint(s))
	require.Equal(t, `config.Secret("[REDACTED]")`, fmt.Sprintf("%#v", s))
	require.JSONEq(t, `{"Name":"n","Token":"[REDACTED]","Ptr":"[REDACTED]","Tokens":["[REDACTED]"]}`, string(j))
	require.Contains(t, logs.String(), `"secret":"[REDACTED]"`)
	require.Contains(t, logs.String(), `secret=[REDACTED]`)

	var empty Secret
	require.True(t, empty.IsZero())
	require.Equal(t, "", fmt.Sprint(empty))
}

func TestInterpolation(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"/run/secrets/token":   "tok-from-file\n",
		"/etc/sfbridge/sub/pw": "pw-relative\r\n",
	}
	tests := []struct {
		name, value string
		want        string // the resolved value, when ok
		problem     string // the problem message, when not
	}{
		{"plain", "abc", "abc", ""},
		{"whole env", "${env:SF_CLIENT_ID}", "3MVG9-client-id", ""},
		{"embedded env", "https://x/${env:SF_CLIENT_ID}/y", "https://x/3MVG9-client-id/y", ""},
		{"two refs", "${env:SF_CLIENT_ID}:${file:/run/secrets/token}", "3MVG9-client-id:tok-from-file", ""},
		{"file trims trailing newline", "${file:/run/secrets/token}", "tok-from-file", ""},
		{"relative file from config dir", "${file:sub/pw}", "pw-relative", ""},
		{"escape", "$${env:SF_CLIENT_ID}", "${env:SF_CLIENT_ID}", ""},
		{"escape then ref", "$${x}-${env:SF_CLIENT_ID}", "${x}-3MVG9-client-id", ""},
		{"lone dollar", "a$b$$c", "a$b$$c", ""},
		{"set but empty env", "${env:EMPTY}", "", ""},
		{"missing env", "${env:NOPE}", "", "environment variable NOPE is not set (referenced as ${env:NOPE})"},
		{"missing file", "${file:/secrets/none}", "", "cannot read file /secrets/none (referenced as ${file:/secrets/none}): not found"},
		{"bad env name", "${env:A-B}", "", `${env:A-B}: "A-B" is not an environment variable name`},
		{"file without path", "${file:}", "", "${file:} names no file"},
		{"unknown kind", "${vault:kv/x}", "", "unknown reference ${vault:kv/x}: use ${env:NAME} or ${file:/path} (write $${ for a literal ${)"},
		{"bare name", "${HOME}", "", "unknown reference ${HOME}: use ${env:NAME}"},
		{"unterminated", "abc ${env:X", "", `"${" without a closing "}" (write $${ for a literal ${)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions(files)
			opts.Dir = "/etc/sfbridge"
			d := newDecoder(opts.withDefaults())
			got, ok := d.interpolate(tt.value, "p", 7)
			if tt.problem == "" {
				require.True(t, ok, "%v", d.problems)
				require.Empty(t, d.problems)
				require.Equal(t, tt.want, got)
				return
			}
			require.False(t, ok)
			require.Len(t, d.problems, 1)
			require.Equal(t, Problem{Path: "p", Line: 7, Message: d.problems[0].Message}, d.problems[0])
			require.Contains(t, d.problems[0].Message, tt.problem)
		})
	}
}

func TestFileReasons(t *testing.T) {
	t.Parallel()
	opts := Options{ReadFile: func(p string) ([]byte, error) {
		switch p {
		case "/perm":
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		case "/big":
			return bytes.Repeat([]byte("x"), maxSecretFile+1), nil
		}
		return nil, errors.New("disk on fire")
	}}
	d := newDecoder(opts.withDefaults())
	for _, ref := range []string{"${file:/perm}", "${file:/big}", "${file:/other}"} {
		_, ok := d.interpolate(ref, "p", 1)
		require.False(t, ok)
	}
	require.Equal(t, []string{
		"cannot read file /perm (referenced as ${file:/perm}): permission denied",
		"file /big (referenced as ${file:/big}) is larger than 1 MiB",
		"cannot read file /other (referenced as ${file:/other}): disk on fire",
	}, messages(d.problems))
}

func messages(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Message
	}
	return out
}

// TestSecretsNeverLeak loads configs whose secret values are wrong in every
// way validation looks at, and checks that no output contains them.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"SF_CLIENT_ID":     "3MVG9-client-id",
		"SF_CLIENT_SECRET": "sf-secret-value-1234",
		"BAD_DSN":          "dsn-secret-no-equals",
		"BAD_URL":          "webhook-secret-not-a-url",
		"BAD_NATS":         "ftp://user:nats-secret-pw@host",
		"BAD_KEY":          "-----not a key: key-secret-material",
		"FLOW":             "flow-secret-value",
		"PORT":             "port-secret-value",
		"TOKEN":            "admin-secret-token",
		"DATABASE_URL":     "postgres://u:db-secret-pw@h/db",
	}
	bad := `version: 1
nats: ${env:BAD_NATS}
salesforce:
  login_url: https://acme.my.salesforce.com
  auth:
    flow: jwt_bearer
    client_id: ${env:SF_CLIENT_ID}
    client_secret: ${env:SF_CLIENT_SECRET}
    username: u@acme.com
    private_key: ${env:BAD_KEY}
sources:
  - {name: db, type: postgres_poll, dsn: "${env:BAD_DSN}", tables: [{table: t, key: id, cursor: u}]}
  - {name: db2, type: postgres_cdc, dsn: "${env:DATABASE_URL}", snapshot: "${env:FLOW}", tables: [{table: t}]}
  - {name: in, type: http, token: "${env:TOKEN}", listen: "127.0.0.1:${env:PORT}"}
syncs:
  - {name: s, from: db, object: Contact, external_id: X__c, nulls: "${env:FLOW}", fields: {X__c: "row.id"}}
alerts:
  - {type: webhook, url: "${env:BAD_URL}"}
admin: {listen: "0.0.0.0:${env:PORT}", token: "${env:TOKEN}"}
`
	opts := Options{LookupEnv: lookup(secrets)}
	_, err := Parse([]byte(bad), opts)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"nats: server 1: scheme must be",
		"salesforce.auth.client_secret: not used by flow jwt_bearer",
		"salesforce.auth.private_key: not a PEM private key",
		"sources[0].dsn: not a postgres:// URL",
		`sources[1].snapshot: must be one of initial, never, got the value of ${env:FLOW}`,
		`sources[2].listen: port must be a number from 0 to 65535, got the value of ${env:PORT}`,
		`syncs[0].nulls: must be one of skip, write, got the value of ${env:FLOW}`,
		"alerts[0].url: expected an https:// URL",
		`admin.listen: port must be a number from 0 to 65535, got the value of ${env:PORT}`,
	} {
		require.Contains(t, msg, want)
	}
	for name, v := range secrets {
		require.NotContains(t, msg, v, "%s leaked into a problem", name)
	}

	good := strings.NewReplacer(
		"${env:BAD_NATS}", "embedded",
		"jwt_bearer", "client_credentials",
		"    username: u@acme.com\n    private_key: ${env:BAD_KEY}\n", "",
		"${env:BAD_DSN}", "${env:DATABASE_URL}",
		`snapshot: "${env:FLOW}", `, "",
		`nulls: "${env:FLOW}", `, "",
		"${env:BAD_URL}", "https://hooks.example.com/${env:TOKEN}",
		"${env:PORT}", "8089",
	).Replace(bad)
	c, err := Parse([]byte(good), opts)
	require.NoError(t, err)
	require.Equal(t, "https://hooks.example.com/admin-secret-token", c.Alerts[0].URL.Reveal())

	var out []string
	out = append(out, msg, c.Summary(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c))
	for _, s := range c.Sources {
		out = append(out, fmt.Sprintf("%+v %+v %+v %#v", s.PostgresPoll, s.PostgresCDC, s.HTTP, s.HTTP))
	}
	j, err := json.Marshal(c)
	require.NoError(t, err)
	y, err := yaml.Marshal(c)
	require.NoError(t, err)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", c, "sources", c.Sources)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "config", c, "auth", c.Salesforce.Auth)
	out = append(out, string(j), string(y), logs.String())
	for _, o := range out {
		for name, v := range secrets {
			if name == "SF_CLIENT_ID" || name == "PORT" || name == "FLOW" {
				continue // not secret keys; their values may appear in a valid config's output
			}
			require.NotContains(t, o, v, "secret %s leaked", name)
			require.NotContains(t, o, "secret-pw")
		}
	}
	require.Contains(t, string(j), Redacted)
}
