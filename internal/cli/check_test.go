package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/pgtest"
	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

// checkEnv is what a check test runs against: the emulator, a Postgres
// schema with a counselors table, and a data dir for embedded NATS.
type checkEnv struct {
	emu   *sfemutest.Server
	db    *pgtest.DB
	dir   string
	table string
}

func setupCheck(t *testing.T) *checkEnv {
	t.Helper()
	db := pgtest.New(t)
	db.Exec(t, "CREATE TABLE "+db.Ident("counselors")+` (
		id bigint PRIMARY KEY, last_name text NOT NULL, email text, org_id text,
		active boolean, hours numeric(6,2), updated_at timestamptz NOT NULL DEFAULT now())`)
	return &checkEnv{
		emu:   sfemutest.Start(t, sfemu.Options{}),
		db:    db,
		dir:   t.TempDir(),
		table: db.Table("counselors"),
	}
}

// config writes a config whose only sync maps fields (YAML lines indented
// for `fields:`) with the given external ID; edit rewrites the rest.
func (e *checkEnv) config(t *testing.T, externalID, fields string, edit ...func(string) string) string {
	t.Helper()
	y := fmt.Sprintf(`version: 1
data_dir: %s
nats: embedded
salesforce:
  login_url: %s
  auth:
    flow: client_credentials
    client_id: %s
    client_secret: %s
sources:
  - name: platform_db
    type: postgres_poll
    dsn: %s
    every: 30s
    tables:
      - {table: %s, cursor: updated_at, key: id}
syncs:
  - name: counselors
    from: platform_db.%s
    object: Contact
    external_id: %s
    fields:
%s`, filepath.Join(e.dir, "data"), e.emu.URL, sfemu.DemoClientID, sfemu.DemoClientSecret,
		pgtest.URL(), e.table, e.table, externalID, fields)
	for _, f := range edit {
		y = f(y)
	}
	path := filepath.Join(e.dir, "sfbridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
	return path
}

const goodFields = `      Counselor_Id__c: row.id
      LastName: row.last_name
      Email: lower(row.email)
      HasOptedOutOfEmail: not row.active
      Hours_Available__c: row.hours
      Description: concat("Counselor ", row.id)
      Account: {Org_Id__c: row.org_id}
`

// runCheckCLI runs the check command as Run does and returns the exit
// code, stdout and stderr.
func runCheckCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, append([]string{"check"}, args...)...)
}

func TestCheckGoodConfigPasses(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	path := e.config(t, "Counselor_Id__c", goodFields)

	code, out, errOut := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	require.Regexp(t, `^ok +nats: embedded \(.*jetstream\), JetStream with 0 streams$`, lines[0])
	require.Regexp(t, `^ok +postgres platform_db: postgres@127\.0\.0\.1:5432/test, PostgreSQL \d+`, lines[1])
	require.Regexp(t, `^ok +salesforce: logged in to http://127\.0\.0\.1:\d+ \(client_credentials, API 62\.0\)$`, lines[2])
	require.Equal(t, "ok           sync counselors → Contact: 7 fields, external ID Counselor_Id__c, reads in.platform_db."+e.table, lines[3])
	require.Equal(t, "check ok: 4 checks passed", lines[4])
	require.NotContains(t, out+errOut, sfemu.DemoClientSecret)
}

func TestCheckReportsEveryMappingProblem(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	// A field that does not exist, a read-only one, and an external ID
	// that is not one.
	path := e.config(t, "Title", `      Title: row.id
      LastName: row.last_name
      Nope__c: row.email
      Name: row.last_name
`)
	code, out, errOut := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitInvalid, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "problem      sync counselors → Contact: 3 problems\n")
	require.Contains(t, out, "problem      syncs[0].external_id: Contact.Title is not an External ID field, so upserts cannot match on it (mark it External ID in Setup, or use one of Email, Counselor_Id__c) (line 21)\n")
	require.Contains(t, out, "problem      syncs[0].fields.Nope__c: Contact has no field Nope__c (line 25)\n")
	require.Contains(t, out, "problem      syncs[0].fields.Name: Contact.Name is read-only (neither createable nor updateable) (line 26)\n")
	require.Contains(t, out, "check failed: 3 problems (of 4 checks)\n")

	// The same as JSON.
	code, out, _ = runCheckCLI(t, "--config", path, "--json")
	require.Equal(t, ExitInvalid, code)
	var res checkResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.False(t, res.OK)
	paths := map[string]int{}
	for _, p := range res.Problems {
		paths[p.Path] = p.Line
	}
	require.Equal(t, map[string]int{"syncs[0].external_id": 21, "syncs[0].fields.Nope__c": 25, "syncs[0].fields.Name": 26}, paths)
	require.Len(t, res.Checks, 4)
	require.Equal(t, statusProblem, res.Checks[3].Status)
}

func TestCheckLookupAndTypeProblems(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	path := e.config(t, "Counselor_Id__c", `      Counselor_Id__c: row.id
      LastName: row.last_name
      Birthdate: parseTime(row.born)
      DoNotCall: len(row.last_name)
      Email: {Org_Id__c: row.org_id}
      ReportsTo: {Title: row.manager}
`)
	code, out, errOut := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitInvalid, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "syncs[0].fields.Birthdate: `parseTime(row.born)` gives a time, but Contact.Birthdate is a date field (use formatDate to send a date) (line 25)")
	require.Contains(t, out, "syncs[0].fields.DoNotCall: `len(row.last_name)` gives a number, but Contact.DoNotCall is a boolean field (a value of this type cannot be stored there) (line 26)")
	require.Contains(t, out, "syncs[0].fields.Email: Contact.Email is an email field, not a relationship; a lookup {Org_Id__c: …} needs a relationship name (relationships of Contact: Account, ReportsTo, Owner, CreatedBy, LastModifiedBy) (line 27)")
	require.Contains(t, out, "syncs[0].fields.ReportsTo.Title: Contact.Title is not an External ID field, so the lookup cannot find the parent by it (external ID fields of Contact: Email, Counselor_Id__c) (line 28)")
}

func TestCheckExpressionProblemsStopBeforeConnecting(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	path := e.config(t, "Counselor_Id__c", `      Counselor_Id__c: row.id
      LastName: lower(row.last_name
      Email: rows.email
`, func(y string) string {
		// Nothing may be contacted: point NATS at a closed port.
		return strings.Replace(y, "nats: embedded", "nats: nats://127.0.0.1:1", 1)
	})
	code, out, _ := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitInvalid, code, out)
	require.Contains(t, out, "problem      syncs[0].fields.LastName: `lower(row.last_name`: unexpected token EOF")
	require.Contains(t, out, "(column 19) (line 24)")
	require.Contains(t, out, "problem      syncs[0].fields.Email: `rows.email`: unknown name rows (column 1) (line 25)")
	require.NotContains(t, out, "nats")
}

func TestCheckConfigProblemsExit2(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	path := e.config(t, "Counselor_Id__c", goodFields, func(y string) string {
		return strings.Replace(y, "object: Contact", "object: 'Contact!'", 1)
	})
	code, out, _ := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitInvalid, code, out)
	require.Contains(t, out, "syncs[0].object:")
}

func TestCheckBadCredentialsExit3WithoutTheSecret(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	const secret = "not-the-right-secret-42"
	path := e.config(t, "Counselor_Id__c", goodFields, func(y string) string {
		return strings.Replace(y, sfemu.DemoClientSecret, secret, 1)
	})
	code, out, errOut := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitUnreachable, code, out)
	require.Regexp(t, `(?m)^unreachable +salesforce: login failed \(client_credentials\): .*invalid_client`, out)
	require.Contains(t, out, "skipped      sync counselors → Contact: not checked: no Salesforce session")
	require.NotContains(t, out+errOut, secret)
}

func TestCheckUnreachableDependenciesExit3(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	path := e.config(t, "Counselor_Id__c", goodFields, func(y string) string {
		y = strings.Replace(y, "nats: embedded", "nats: nats://127.0.0.1:1", 1)
		return strings.Replace(y, "dsn: "+pgtest.URL(), "dsn: postgres://postgres:hunter2secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", 1)
	})
	code, out, errOut := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitUnreachable, code, out)
	require.Regexp(t, `(?m)^unreachable +nats: `, out)
	require.Regexp(t, `(?m)^unreachable +postgres platform_db: `, out)
	require.Regexp(t, `(?m)^ok +salesforce: `, out)
	require.Contains(t, out, "check failed: 2 unreachable (of 4 checks)")
	require.NotContains(t, out+errOut, "hunter2secret")
}

func TestCheckNATS(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)

	// An embedded store held by a running sfbridge is up; check must not
	// open it a second time.
	path := e.config(t, "Counselor_Id__c", goodFields)
	b := brokertest.Embedded(t, filepath.Join(e.dir, "data"))
	code, out, _ := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitOK, code, out)
	require.Contains(t, out, "ok           nats: embedded store in "+filepath.Join(e.dir, "data")+" is in use by a running sfbridge (not opened)\n")
	require.NoError(t, b.Close())

	// An external server.
	path = e.config(t, "Counselor_Id__c", goodFields, func(y string) string {
		return strings.Replace(y, "nats: embedded", "nats: "+brokertest.ExternalURL(), 1)
	})
	code, out, _ = runCheckCLI(t, "--config", path)
	require.Equal(t, ExitOK, code, out)
	require.Regexp(t, `(?m)^ok +nats: .*127\.0\.0\.1:4222.*, JetStream with \d+ streams?$`, out)
}

func TestCheckMissingTable(t *testing.T) {
	t.Parallel()
	e := setupCheck(t)
	path := e.config(t, "Counselor_Id__c", goodFields, func(y string) string {
		y = strings.Replace(y, "{table: "+e.table+",", "{table: "+e.db.Table("gone")+",", 1)
		return strings.Replace(y, "from: platform_db."+e.table, "from: platform_db."+e.db.Table("gone"), 1)
	})
	code, out, _ := runCheckCLI(t, "--config", path)
	require.Equal(t, ExitInvalid, code, out)
	require.Contains(t, out, "problem      sources[0].tables[0].table: no table "+e.db.Table("gone")+" in database test (or no permission to see it) (line 16)")
}
