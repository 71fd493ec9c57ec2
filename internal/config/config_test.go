package config

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestLoadOneLineFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"missing file", filepath.Join(dir, "nope.yaml"), "config file " + filepath.Join(dir, "nope.yaml") + ": not found"},
		{"a directory", dir, "config file " + dir + ": is a directory"},
		{"empty file", write("empty.yaml", ""), "config file " + filepath.Join(dir, "empty.yaml") + `: empty; expected a YAML mapping starting with "version: 1"`},
		{"blank file", write("blank.yaml", "\n  \n\t\n"), "config file " + filepath.Join(dir, "blank.yaml") + `: empty; expected a YAML mapping starting with "version: 1"`},
		{"only comments", write("comments.yaml", "# nothing yet\n"), "config file " + filepath.Join(dir, "comments.yaml") + `: holds no YAML document (only comments?); expected a YAML mapping starting with "version: 1"`},
		{"not YAML: prose", write("prose.yaml", "Dear admin,\nplease sync the counselors.\n"), "config file " + filepath.Join(dir, "prose.yaml") + `: not a YAML mapping (the document is a string on line 1); expected keys like "version: 1"`},
		{"not YAML: syntax", write("syntax.yaml", "version: 1\nsources:\n  - name: a\n    type: b: c\n"), "config file " + filepath.Join(dir, "syntax.yaml") + ": not YAML: line 4: mapping values are not allowed in this context"},
		{"not YAML: structure", write("structure.yaml", "version: 1\nsources:\n  - name: a\n   - type: b\n"), "config file " + filepath.Join(dir, "structure.yaml") + ": not YAML: near line 3: did not find expected '-' indicator"},
		{"not YAML: binary", write("binary.yaml", "\x1f\x8b\x08\x00gzip"), "config file " + filepath.Join(dir, "binary.yaml") + ": not YAML: binary or non-UTF-8 content at line 1, column 1"},
		{"not YAML: invalid UTF-8 later", write("latin1.yaml", "version: 1\ndata_dir: caf\xe9\n"), "config file " + filepath.Join(dir, "latin1.yaml") + ": not YAML: binary or non-UTF-8 content at line 2, column 14"},
		{"not YAML: unquoted ref in flow", write("flow.yaml", "version: 1\nsalesforce:\n  auth: {flow: client_credentials, client_id: ${env:X}}\n"), "config file " + filepath.Join(dir, "flow.yaml") + `: not YAML: near line 3: did not find expected ',' or '}' (inside {…} or […], quote values holding references: "${env:NAME}")`},
		{"a list", write("list.yaml", "- version: 1\n"), "config file " + filepath.Join(dir, "list.yaml") + `: not a YAML mapping (the document is a list on line 1); expected keys like "version: 1"`},
		{"two documents", write("two.yaml", "version: 1\n---\nversion: 1\n"), "config file " + filepath.Join(dir, "two.yaml") + ": holds more than one YAML document (a second starts on line 2); put everything in one"},
		{"version 2", write("v2.yaml", "data_dir: x\nversion: 2\nwhatever: {}\n"), "config file " + filepath.Join(dir, "v2.yaml") + `: version "2" is not supported; this sfbridge reads version 1 (line 2)`},
		{"version text", write("vtext.yaml", "version: one\n"), "config file " + filepath.Join(dir, "vtext.yaml") + `: version "one" is not supported; this sfbridge reads version 1 (line 1)`},
		{"version mapping", write("vmap.yaml", "version: {major: 1}\n"), "config file " + filepath.Join(dir, "vmap.yaml") + `: version a mapping is not supported; this sfbridge reads version 1 (line 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.path)
			require.Nil(t, c)
			require.EqualError(t, err, tt.want)
			require.NotContains(t, err.Error(), "\n", "one line")
			var probs *Problems
			require.False(t, errors.As(err, &probs), "a file-level failure is not a list of problems")
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	t.Parallel()
	_, err := LoadWith("/etc/sfbridge.yaml", Options{ReadFile: func(p string) ([]byte, error) {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}})
	require.EqualError(t, err, "config file /etc/sfbridge.yaml: permission denied")
}

func TestFiveMistakes(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/five-mistakes.yaml")
	var probs *Problems
	require.True(t, errors.As(err, &probs), "%v", err)
	require.Equal(t, "testdata/five-mistakes.yaml", probs.File)
	require.Equal(t, []Problem{
		{Path: "salesforce.max_concurency", Line: 11, Message: "unknown key (did you mean max_concurrency?)"},
		{Path: "syncs[0].batch_size", Line: 26, Message: `expected a whole number, got "lots"`},
		{Path: "syncs[1].from", Line: 28, Message: `no source named "platform_events" (sources: platform_db)`},
		{Path: "syncs[1].nulls", Line: 33, Message: `must be one of skip, write, got "maybe"`},
		{Path: "syncs[2].external_id", Line: 34, Message: "required (the external ID field upserts match on, e.g. Counselor_Id__c)"},
	}, probs.List)
	golden(t, "testdata/five-mistakes.golden", err.Error()+"\n")
}

// TestTestdataForTheCLI pins the files the CLI's validate test uses.
func TestTestdataForTheCLI(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/valid.yaml")
	require.NoError(t, err)
	require.Equal(t, "config ok: 2 sources (postgres_poll, files), 3 syncs, nats embedded, salesforce client_credentials", c.Summary())
	_, err = Load("testdata/empty.yaml")
	require.EqualError(t, err, `config file testdata/empty.yaml: empty; expected a YAML mapping starting with "version: 1"`)
	_, err = Load("testdata/not-yaml.txt")
	require.EqualError(t, err, "config file testdata/not-yaml.txt: not YAML: line 2: mapping values are not allowed in this context")
	_, err = Load("testdata/missing.yaml")
	require.EqualError(t, err, "config file testdata/missing.yaml: not found")
	_, err = Parse(nil, Options{})
	require.EqualError(t, err, `config: empty; expected a YAML mapping starting with "version: 1"`)
	_, err = Parse([]byte("version: 3"), Options{})
	require.EqualError(t, err, `config: version "3" is not supported; this sfbridge reads version 1 (line 1)`)
}

// golden compares got with a golden file (go test -update rewrites it).
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func TestProblemsSortedByLine(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`version: 1
syncs:
  - {name: a, from: nowhere, object: Contact, external_id: X__c, fields: {X__c: row.id}}
sources:
  - {name: in, type: http, token: t, listen: nonsense}
salesforce:
  auth: {flow: magic}
delivery: {batch_size: zero}
`), Options{})
	require.EqualError(t, err, strings.Join([]string{
		`syncs[0].from: no source named "nowhere" (sources: in) (line 3)`,
		`sources[0].listen: expected host:port (e.g. 127.0.0.1:8080 or :8080), got "nonsense" (line 5)`,
		`salesforce.auth.flow: must be one of client_credentials, jwt_bearer, refresh_token, password, access_token, got "magic" (line 7)`,
		`delivery.batch_size: expected a whole number, got "zero" (line 8)`,
	}, "\n"))
}

func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"../../examples/sfbridge.yaml", "../../examples/minimal.yaml"} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			c, err := LoadWith(f, testOptions(nil))
			require.NoError(t, err)
			require.NotEmpty(t, c.Summary())
			dir, err := filepath.Abs("../../examples")
			require.NoError(t, err)
			require.Equal(t, filepath.Join(dir, "sfbridge-data"), mustAbs(t, c.DataDir))
		})
	}
	c, err := LoadWith("../../examples/sfbridge.yaml", testOptions(nil))
	require.NoError(t, err)
	require.Equal(t, "config ok: 4 sources (postgres_poll, files, http, s3), 4 syncs, nats embedded, salesforce client_credentials", c.Summary())
	require.Equal(t, testEnv["SF_CLIENT_SECRET"], c.Salesforce.Auth.ClientSecret.Reveal())
	require.Equal(t, testEnv["DATABASE_URL"], c.Sources[0].PostgresPoll.DSN.Reveal())

	// Without the environment, every missing variable is named.
	_, err = LoadWith("../../examples/sfbridge.yaml", Options{LookupEnv: lookup(nil)})
	require.Error(t, err)
	for _, name := range []string{"SF_CLIENT_ID", "SF_CLIENT_SECRET", "DATABASE_URL", "SFBRIDGE_INGEST_TOKEN", "ALERT_WEBHOOK_URL", "SFBRIDGE_ADMIN_TOKEN"} {
		require.Contains(t, err.Error(), "environment variable "+name+" is not set")
	}
	require.NotContains(t, err.Error(), "required", "a missing variable is reported once, not again as an empty value")
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

func TestRelativePaths(t *testing.T) {
	t.Parallel()
	files := map[string]string{"/etc/sfbridge/secrets/token": "tok\n"}
	opts := testOptions(files)
	opts.ReadFile = func(p string) ([]byte, error) {
		if p == "/etc/sfbridge/sfbridge.yaml" {
			return doc(`data_dir: data
sources:
  - {name: ingest, type: http, token: "${file:secrets/token}"}
  - {name: drops, type: files, path: spool, quarantine_dir: /var/quarantine}
  - {name: abs, type: files, path: /srv/in}
`), nil
		}
		return testOptions(files).ReadFile(p)
	}
	c, err := LoadWith("/etc/sfbridge/sfbridge.yaml", opts)
	require.NoError(t, err)
	require.Equal(t, "/etc/sfbridge/data", c.DataDir)
	require.Equal(t, "tok", c.Sources[0].HTTP.Token.Reveal())
	f := c.Sources[1].Files
	require.Equal(t, "/etc/sfbridge/spool", f.Path)
	require.Equal(t, "/etc/sfbridge/spool/processed", f.ProcessedDir)
	require.Equal(t, "/var/quarantine", f.QuarantineDir)
	require.Equal(t, "/srv/in/processed", c.Sources[2].Files.ProcessedDir)
	require.Equal(t, "/etc/sfbridge/sfbridge.yaml", c.File())
}

func TestSummary(t *testing.T) {
	t.Parallel()
	c, err := Parse(doc(`nats: "nats://user:pw@a:4222, nats://b:4222, nats://c:4222"
sources:
  - {name: a, type: http, token: t}
  - {name: b, type: http, token: t, listen: "127.0.0.1:8082"}
  - {name: c, type: files, path: /in}
syncs:
  - {name: logins, from: a, object: Contact, external_id: X__c, fields: {X__c: event.id}}
  - {name: more, from: c, object: Contact, external_id: X__c, fields: {X__c: event.id}}
`), Options{})
	require.NoError(t, err)
	require.Equal(t, "config ok: 3 sources (http, files), 2 syncs, nats external (3 servers), salesforce client_credentials", c.Summary())
	require.Equal(t, "nats://user:pw@a:4222", c.NATS.Servers()[0].Reveal())
	src, ok := c.Source("c")
	require.True(t, ok)
	require.Equal(t, SourceFiles, src.Type)
	_, ok = c.Source("z")
	require.False(t, ok)
	require.Equal(t, "c", c.Syncs[1].SourceName())
	require.Equal(t, "", c.Syncs[1].Collections())
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse(doc(`sources:
  - name: db
    type: postgres_poll
    dsn: host=db
    tables:
      - {table: counselors, key: id, cursor: updated_at}
      - {table: public.orgs, key: id, cursor: updated_at, lag: 0s, batch_size: 10}
  - {name: Platform-CDC, type: postgres_cdc, dsn: host=db, tables: [{table: t}]}
  - {name: drops, type: files, path: /in, id_field: event_id}
  - {name: bucket, type: s3, bucket: acme-events}
  - {name: ingest, type: http, token: t}
syncs:
  - {name: s, from: ingest, object: Contact, external_id: X__c, fields: {X__c: event.id}}
  - {name: t, from: ingest, object: Contact, external_id: X__c, fields: {X__c: event.id}, batch_size: 50, concurrency: 1}
alerts:
  - {type: webhook, url: "https://h.example/x"}
`), Options{})
	require.NoError(t, err)

	require.Equal(t, "sfbridge-data", c.DataDir)
	require.True(t, c.NATS.Embedded())
	require.Equal(t, Log{Level: LogInfo, Format: LogText}, c.Log)

	sf := c.Salesforce
	require.Equal(t, "62.0", sf.APIVersion)
	require.Equal(t, 10, sf.MaxConcurrency)
	require.Equal(t, Percent(20), sf.APIReserve)
	require.Equal(t, 2000, sf.BulkThreshold)

	pg := c.Sources[0].PostgresPoll
	require.Equal(t, 30*time.Second, pg.Every)
	require.Equal(t, 1000, pg.BatchSize)
	require.Equal(t, 5*time.Second, pg.Lag)
	require.Equal(t, 30*time.Second, pg.StatementTimeout)
	require.Equal(t, 2, pg.PoolSize)
	require.Equal(t, "public.counselors", pg.Tables[0].Table)
	require.Equal(t, 5*time.Second, pg.Tables[0].Lag, "inherited")
	require.Equal(t, 1000, pg.Tables[0].BatchSize, "inherited")
	require.Equal(t, time.Duration(0), pg.Tables[1].Lag, "an explicit 0s stays")
	require.Equal(t, 10, pg.Tables[1].BatchSize)

	cdc := c.Sources[1].PostgresCDC
	require.Equal(t, "sfbridge_platform_cdc", cdc.Slot)
	require.Equal(t, "sfbridge_platform_cdc", cdc.Publication)
	require.Equal(t, SnapshotInitial, cdc.Snapshot)
	require.Equal(t, time.Minute, cdc.Heartbeat)

	f := c.Sources[2].Files
	require.Equal(t, "*", f.Pattern)
	require.Equal(t, 2*time.Second, f.Settle)
	require.Equal(t, 30*time.Second, f.Rescan)
	require.Equal(t, AfterMove, f.After)
	require.Equal(t, "/in/processed", f.ProcessedDir)
	require.Equal(t, "/in/quarantine", f.QuarantineDir)
	require.Equal(t, FileFormat{Format: FormatAuto, Compression: CompressionAuto}, f.FileFormat)
	require.Equal(t, EventFields{IDField: "event_id", TypeField: "type", TimeField: "time", KeyField: "event_id", MaxEventBytes: 1 << 20}, f.EventFields)

	s3 := c.Sources[3].S3
	require.Equal(t, 30*time.Second, s3.Every)
	require.Equal(t, MarkState, s3.Mark)
	require.Equal(t, "sfbridge/processed/", s3.ProcessedPrefix)
	require.Equal(t, "sfbridge/quarantine/", s3.QuarantinePrefix)

	h := c.Sources[4].HTTP
	require.Equal(t, "127.0.0.1:8081", h.Listen)
	require.Equal(t, ByteSize(10<<20), h.MaxBodyBytes)
	require.Equal(t, "id", h.KeyField)

	require.Equal(t, Delivery{
		BatchSize: 200, Linger: 100 * time.Millisecond, Concurrency: 2, MaxAttempts: 10,
		Backoff:   Backoff{Initial: 30 * time.Second, Max: 15 * time.Minute},
		DLQWindow: DLQWindow{Size: 100, Threshold: 90}, MaxBacklog: 20_000, VersionGuard: GuardAuto,
	}, c.Delivery)
	require.Equal(t, Queue{DedupWindow: 2 * time.Minute}, c.Queue)
	require.Equal(t, NullsSkip, c.Syncs[0].Nulls)
	require.Equal(t, DeletesIgnore, c.Syncs[0].Deletes)
	require.Equal(t, 200, c.Syncs[0].BatchSize)
	require.Equal(t, 2, c.Syncs[0].Concurrency)
	require.Equal(t, 50, c.Syncs[1].BatchSize)
	require.Equal(t, 1, c.Syncs[1].Concurrency)

	a := c.Alerts[0]
	require.Equal(t, "webhook_1", a.Name)
	require.Equal(t, AlertEvents, a.Events)
	require.Equal(t, time.Minute, a.GroupWindow)
	require.Equal(t, 5*time.Minute, a.CircuitOpenFor)
	require.Equal(t, 10*time.Second, a.Timeout)
	require.Equal(t, "127.0.0.1:8080", c.Admin.Listen)

	// SetDefaults is idempotent.
	before := *c
	c.SetDefaults()
	require.Equal(t, before, *c)
}

func TestLoginDefaultsPerFlow(t *testing.T) {
	t.Parallel()
	rsaKey, _ := testKeys(t)
	files := map[string]string{"/secrets/k.pem": rsaKey}
	tests := []struct {
		auth, loginURL        string
		wantLogin, wantAud    string
		wantInstance, wantErr string
	}{
		{auth: "{flow: jwt_bearer, client_id: i, username: u, private_key: '${file:/secrets/k.pem}'}", wantLogin: "https://login.salesforce.com", wantAud: "https://login.salesforce.com"},
		{auth: "{flow: jwt_bearer, client_id: i, username: u, private_key: '${file:/secrets/k.pem}'}", loginURL: "https://test.salesforce.com", wantLogin: "https://test.salesforce.com", wantAud: "https://test.salesforce.com"},
		{auth: "{flow: jwt_bearer, client_id: i, username: u, private_key: '${file:/secrets/k.pem}'}", loginURL: "https://acme--uat.sandbox.my.salesforce.com", wantLogin: "https://acme--uat.sandbox.my.salesforce.com", wantAud: "https://test.salesforce.com"},
		{auth: "{flow: jwt_bearer, client_id: i, username: u, private_key: '${file:/secrets/k.pem}', audience: 'https://acme.my.site.com'}", wantLogin: "https://login.salesforce.com", wantAud: "https://acme.my.site.com"},
		{auth: "{flow: refresh_token, client_id: i, refresh_token: r}", wantLogin: "https://login.salesforce.com"},
		{auth: "{flow: password, client_id: i, client_secret: s, username: u, password: p}", wantLogin: "https://login.salesforce.com"},
		{auth: "{flow: access_token, access_token: a}", wantErr: "salesforce.instance_url: required for flow access_token"},
		{auth: "{flow: client_credentials, client_id: i, client_secret: s}", wantErr: "salesforce.login_url: required for flow client_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.auth+" "+tt.loginURL, func(t *testing.T) {
			t.Parallel()
			y := "version: 1\nsalesforce:\n  auth: " + tt.auth + "\n"
			if tt.loginURL != "" {
				y += "  login_url: " + tt.loginURL + "\n"
			}
			y += "sources: [{name: in, type: http, token: t}]\nsyncs: [{name: s, from: in, object: Contact, external_id: X__c, fields: {X__c: event.id}}]\n"
			c, err := Parse([]byte(y), testOptions(files))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantLogin, c.Salesforce.LoginURL)
			require.Equal(t, tt.wantAud, c.Salesforce.Auth.Audience)
		})
	}
}
