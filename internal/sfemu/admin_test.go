package sfemu_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func adminDo(e http.Handler, method, path, body string) authResp {
	var h http.Header
	if body != "" {
		h = http.Header{"Content-Type": {"application/json"}}
	}
	return authServe(e, method, "/__emulator"+path, strings.NewReader(body), h)
}

func TestAdminIndexGolden(t *testing.T) {
	t.Parallel()
	e, _ := newAuthEmu(t, sfemu.Options{})
	r := adminDo(e, http.MethodGet, "", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	authGolden(t, "admin_index.json", []byte(r.Body))
}

func TestAdminRecordsAndCounters(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.upsertContacts("R-1", "R-2")
	r := f.do(http.MethodDelete, authV+"/sobjects/Contact/Counselor_Id__c/R-2", "")
	require.Equal(t, http.StatusNoContent, r.Status, r.Body)

	r = adminDo(f.e, http.MethodGet, "/records/contact", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	var dump struct {
		Object    string           `json:"object"`
		TotalSize int              `json:"totalSize"`
		Records   []map[string]any `json:"records"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &dump))
	require.Equal(t, "Contact", dump.Object)
	require.Equal(t, 1, dump.TotalSize)
	require.Equal(t, "R-1", dump.Records[0]["Counselor_Id__c"])
	r = adminDo(f.e, http.MethodGet, "/records/Contact?deleted=true", "")
	require.NoError(t, json.Unmarshal([]byte(r.Body), &dump))
	require.Equal(t, 2, dump.TotalSize)

	r = adminDo(f.e, http.MethodGet, "/records/Nope__c", "")
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, `{"error":"no such object: Nope__c"}`, r.Body)

	r = adminDo(f.e, http.MethodGet, "/counters", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	var cn struct {
		Calls   map[string]int64            `json:"calls"`
		Written map[string]map[string]int64 `json:"written"`
		Records map[string]int              `json:"records"`
		APIUsed int64                       `json:"apiUsed"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &cn))
	require.Equal(t, map[string]int64{"collections.upsert": 1, "sobject.delete_by_external_id": 1}, cn.Calls, "admin calls are left out")
	require.Equal(t, map[string]int64{"insert": 2, "delete": 1}, cn.Written["Contact"])
	require.Equal(t, 1, cn.Records["Contact"])
	require.Equal(t, int64(2), cn.APIUsed)

	// Reset: records and counters go, sessions and faults stay.
	f.faults(`http: [{endpoint: limits, status: 503}]`)
	r = adminDo(f.e, http.MethodPost, "/reset", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, `{"reset":true,"faults":false}`, r.Body)
	recs, _ := f.e.Org().Dump("Contact", true)
	require.Empty(t, recs)
	require.Equal(t, http.StatusServiceUnavailable, f.do(http.MethodGet, authV+"/limits", "").Status)
	r = adminDo(f.e, http.MethodPost, "/reset?faults=true", "")
	require.Equal(t, `{"reset":true,"faults":true}`, r.Body)
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, authV+"/limits", "").Status)
	require.Equal(t, int64(1), f.e.Org().Counters().APIUsed)
	r = adminDo(f.e, http.MethodPost, "/reset?faults=maybe", "")
	require.Equal(t, http.StatusBadRequest, r.Status)
}

func TestAdminLimitsAndSessions(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	r := adminDo(f.e, http.MethodGet, "/limits", "")
	require.Equal(t, `{"apiUsed":0,"apiMax":100000}`, r.Body)
	r = adminDo(f.e, http.MethodPut, "/limits", `{"apiMax":5,"apiUsed":5}`)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, `{"apiUsed":5,"apiMax":5}`, r.Body)
	r = f.do(http.MethodGet, authV+"/sobjects", "")
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Equal(t, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, r.Body)
	require.Equal(t, "api-usage=5/5", r.Header.Get("Sforce-Limit-Info"))
	r = adminDo(f.e, http.MethodPost, "/limits", `{"apiUsed":0}`)
	require.Equal(t, `{"apiUsed":0,"apiMax":5}`, r.Body)
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, authV+"/sobjects", "").Status)
	for _, bad := range []string{`{"apiMax":-1}`, `{"max":3}`, `[`} {
		r = adminDo(f.e, http.MethodPut, "/limits", bad)
		require.Equal(t, http.StatusBadRequest, r.Status, bad)
		require.Contains(t, r.Body, `{"error":`, bad)
	}

	r = adminDo(f.e, http.MethodPost, "/sessions/expire", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, `{"expired":1}`, r.Body)
	r = f.do(http.MethodGet, authV+"/sobjects", "")
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, authSessionInvalid, r.Body)
}

func TestAdminToken(t *testing.T) {
	t.Parallel()
	e, clk := newAuthEmu(t, sfemu.Options{})
	r := adminDo(e, http.MethodPost, "/token?ttl=10m", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	m := authDecode(t, r)
	tok := m["access_token"].(string)
	require.Regexp(t, `^00D\w{12}![.\w]+$`, tok)
	require.Equal(t, authURL, m["instance_url"])
	authGetJSON(t, e, authV+"/sobjects", tok)
	clk.Add(10 * time.Minute)
	require.Equal(t, http.StatusUnauthorized, authServe(e, http.MethodGet, authV+"/sobjects", nil, authBearer(tok)).Status)

	// Form parameters work too; bad ones are named.
	r = authPost(e, "/__emulator/token", url.Values{"username": {"admin@sfbridge.example"}, "client_id": {sfemu.DemoClientID}})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	for q, want := range map[string]string{
		"?ttl=soon":                  `{"error":"ttl: want a positive duration such as 30m, got \"soon\""}`,
		"?client_id=nope":            `{"error":"client_id: no such connected app: nope"}`,
		"?username=ghost@nowhere.io": `{"error":"username: no such user: ghost@nowhere.io"}`,
	} {
		r = adminDo(e, http.MethodPost, "/token"+q, "")
		require.Equal(t, http.StatusBadRequest, r.Status, q)
		require.Equal(t, want, r.Body, q)
	}
}

func TestAdminFaults(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	r := adminDo(f.e, http.MethodPut, "/faults", `{"http":[{"endpoint":"limits","status":503,"next":1}],"latency":[{"endpoint":"query","fixed":"5ms"}]}`)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	authGolden(t, "admin_faults_put.json", []byte(r.Body))

	// POST merges (YAML is accepted as well).
	r = adminDo(f.e, http.MethodPost, "/faults", "records:\n  - {object: Contact, keys: [K-1]}\nconcurrency: {max: 3}\n")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	var st sfemu.FaultStatus
	require.NoError(t, json.Unmarshal([]byte(r.Body), &st))
	require.Len(t, st.Config.HTTP, 1)
	require.Len(t, st.Config.Records, 1)
	require.Equal(t, 3, st.Config.Concurrency.Max)

	require.Equal(t, http.StatusServiceUnavailable, f.do(http.MethodGet, authV+"/limits", "").Status)
	require.Equal(t, false, f.upsertContacts("K-1")[0]["success"])
	r = adminDo(f.e, http.MethodGet, "/faults", "")
	require.NoError(t, json.Unmarshal([]byte(r.Body), &st))
	require.Equal(t, []int64{1}, st.HTTPFired)
	require.Equal(t, []int64{1}, st.RecordsFired)

	// A bad document is refused whole, naming every problem.
	r = adminDo(f.e, http.MethodPut, "/faults", `{"http":[{"status":99}],"concurrency":{"max":0}}`)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, `{"error":"http[0].status: must be 400-599, got 99; concurrency.max: must be at least 1, got 0"}`, r.Body)
	r = adminDo(f.e, http.MethodGet, "/faults", "")
	require.NoError(t, json.Unmarshal([]byte(r.Body), &st))
	require.Len(t, st.Config.Records, 1, "unchanged")

	r = adminDo(f.e, http.MethodDelete, "/faults", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, `{"config":{},"recordsFired":[],"httpFired":[],"httpRemaining":[],"concurrencyRejected":0,"outageHits":0,"inFlight":0}`, r.Body)
	require.Equal(t, true, f.upsertContacts("K-1")[0]["success"])

	r = adminDo(f.e, http.MethodPatch, "/faults", "")
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
}
