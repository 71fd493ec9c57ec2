package sfemu_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// faultEnv is an emulator with a fixed seed and clock and a session.
type faultEnv struct {
	t   *testing.T
	e   *sfemu.Emulator
	clk *fakeClock
	tok string
}

func newFaultEnv(t *testing.T, opts sfemu.Options) *faultEnv {
	t.Helper()
	e, clk := newAuthEmu(t, opts)
	return &faultEnv{t: t, e: e, clk: clk, tok: e.Org().NewSession("", -1).Token}
}

func (f *faultEnv) do(method, path, body string) authResp {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	h := authBearer(f.tok)
	h.Set("Content-Type", "application/json")
	return authServe(f.e, method, path, rd, h)
}

// faults sets the fault config from YAML.
func (f *faultEnv) faults(doc string) {
	f.t.Helper()
	cfg, err := sfemu.ParseFaults([]byte(doc))
	require.NoError(f.t, err)
	require.NoError(f.t, f.e.Faults().Set(cfg))
}

// upsertContacts upserts contacts by Counselor_Id__c and returns the
// results.
func (f *faultEnv) upsertContacts(keys ...string) []map[string]any {
	f.t.Helper()
	recs := make([]map[string]any, len(keys))
	for i, k := range keys {
		recs[i] = map[string]any{"attributes": map[string]any{"type": "Contact"}, "Counselor_Id__c": k, "LastName": "L" + k}
	}
	b, err := json.Marshal(map[string]any{"allOrNone": false, "records": recs})
	require.NoError(f.t, err)
	r := f.do(http.MethodPatch, authV+"/composite/sobjects/Contact/Counselor_Id__c", string(b))
	require.Equal(f.t, http.StatusOK, r.Status, r.Body)
	var out []map[string]any
	require.NoError(f.t, json.Unmarshal([]byte(r.Body), &out))
	return out
}

func keys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

func TestRecordFaultOnKeys(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`
records:
  - object: contact
    keys: [C-2]
    times: 1
`)
	res := f.upsertContacts("C-1", "C-2", "C-3")
	require.Equal(t, true, res[0]["success"])
	require.Equal(t, true, res[2]["success"])
	b, _ := json.Marshal(res[1])
	require.JSONEq(t, `{"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}]}`, string(b))

	// times: 1 — the retry succeeds.
	res = f.upsertContacts("C-2")
	require.Equal(t, true, res[0]["success"], res)
	require.Equal(t, []int64{1}, f.e.Faults().Status().RecordsFired)

	// On an existing record the message names its Id; an Id works as a key.
	id := res[0]["id"].(string)
	f.faults(fmt.Sprintf(`{"records":[{"keys":[%q],"ops":["update"]}]}`, id[:15]))
	res = f.upsertContacts("C-2")
	b, _ = json.Marshal(res[0])
	require.JSONEq(t, fmt.Sprintf(`{"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record or 1 records: %s","fields":[]}]}`, id), string(b))
	res = f.upsertContacts("C-9") // an insert: not an update
	require.Equal(t, true, res[0]["success"])
}

func TestRecordFaultValidationRule(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`
records:
  - object: Contact
    field: Counselor_Id__c
    keys: [bad-1]
    error: FIELD_CUSTOM_VALIDATION_EXCEPTION
    message: "Counselor ID must be numeric"
    fields: [Counselor_Id__c]
`)
	// The single-record upsert answers 400 with the error array.
	r := f.do(http.MethodPatch, authV+"/sobjects/Contact/Counselor_Id__c/bad-1", `{"LastName":"X"}`)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
	require.JSONEq(t, `[{"message":"Counselor ID must be numeric","errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","fields":["Counselor_Id__c"]}]`, r.Body)
	// Other objects and keys are untouched.
	r = f.do(http.MethodPatch, authV+"/sobjects/Contact/Counselor_Id__c/good-1", `{"LastName":"X"}`)
	require.Equal(t, http.StatusCreated, r.Status, r.Body)
	r = f.do(http.MethodPost, authV+"/sobjects/Account", `{"Name":"bad-1"}`)
	require.Equal(t, http.StatusCreated, r.Status, r.Body)
}

func TestRecordFaultProbabilityIsSeeded(t *testing.T) {
	t.Parallel()
	pattern := func(seed int64) []bool {
		f := newFaultEnv(t, sfemu.Options{Seed: seed})
		f.faults("records: [{object: Contact, probability: 0.3}]")
		var out []bool
		for _, r := range f.upsertContacts(keys("P-", 200)...) {
			out = append(out, r["success"].(bool))
		}
		return out
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	require.Equal(t, a, b, "same seed, same failures")
	require.NotEqual(t, a, c, "another seed, other failures")
	failed := 0
	for _, ok := range a {
		if !ok {
			failed++
		}
	}
	require.Greater(t, failed, 30)
	require.Less(t, failed, 90)

	// The file's seed overrides Options.Seed.
	f := newFaultEnv(t, sfemu.Options{Seed: 8})
	f.faults("seed: 7\nrecords: [{object: Contact, probability: 0.3}]")
	var got []bool
	for _, r := range f.upsertContacts(keys("P-", 200)...) {
		got = append(got, r["success"].(bool))
	}
	require.Equal(t, a, got)
}

func TestHTTPFaultNextHTML(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`
http:
  - endpoint: "collections.*"
    status: 503
    next: 2
`)
	for i := 0; i < 2; i++ {
		r := f.do(http.MethodPatch, authV+"/composite/sobjects/Contact/Counselor_Id__c", `{"records":[]}`)
		require.Equal(t, http.StatusServiceUnavailable, r.Status)
		require.Equal(t, "text/html", r.Header.Get("Content-Type"), "jsforce's exact html check")
		require.True(t, strings.HasPrefix(r.Body, "<!DOCTYPE html>"), r.Body)
		require.Contains(t, r.Body, "503 Service Unavailable")
	}
	res := f.upsertContacts("H-1")
	require.Equal(t, true, res[0]["success"])
	// Other endpoints were never affected, and 503s did not count against the API.
	r := f.do(http.MethodGet, authV+"/limits", "")
	require.Equal(t, http.StatusOK, r.Status)
	st := f.e.Faults().Status()
	require.Equal(t, []int64{2}, st.HTTPFired)
	require.Equal(t, []int{0}, st.HTTPRemaining)
	used, _ := f.e.Org().APIUsage()
	require.Equal(t, int64(2), used)
}

func TestHTTPFaultJSONAfter(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`
http:
  - method: PATCH
    path: /services/data/*/sobjects/Contact/*
    status: 500
    body: json
    after: true
    next: 1
`)
	// The write happens, the client sees 500.
	r := f.do(http.MethodPatch, authV+"/sobjects/Contact/Counselor_Id__c/A-1", `{"LastName":"X"}`)
	require.Equal(t, http.StatusInternalServerError, r.Status)
	require.Equal(t, `[{"message":"An unexpected error occurred. Please include this ErrorId if you contact support: 0-emulator-fault","errorCode":"UNKNOWN_EXCEPTION"}]`, r.Body)
	recs, _ := f.e.Org().Dump("Contact", false)
	require.Len(t, recs, 1)
	// The replay is an update.
	r = f.do(http.MethodPatch, authV+"/sobjects/Contact/Counselor_Id__c/A-1", `{"LastName":"X"}`)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Contains(t, r.Body, `"created":false`)
}

func TestHTTPFaultVariants(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`
http:
  - {endpoint: limits, status: 503, body: json}
  - {endpoint: describe.global, status: 502, body: empty}
  - {endpoint: oauth.token, status: 503, body: html, message: "Down for maintenance <soon>", contentType: "text/html;charset=UTF-8"}
  - {endpoint: query, status: 403, body: json, errorCode: REQUEST_LIMIT_EXCEEDED, message: "ConcurrentPerOrgLongTxn Limit exceeded."}
`)
	r := f.do(http.MethodGet, authV+"/limits", "")
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, `[{"message":"The server is temporarily unable to service your request. Please try again later.","errorCode":"SERVER_UNAVAILABLE"}]`, r.Body)
	r = f.do(http.MethodGet, authV+"/sobjects", "")
	require.Equal(t, http.StatusBadGateway, r.Status)
	require.Empty(t, r.Body)
	r = authServe(f.e, http.MethodPost, "/services/oauth2/token", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "text/html;charset=UTF-8", r.Header.Get("Content-Type"))
	require.Contains(t, r.Body, "Down for maintenance &lt;soon&gt;")
	r = f.do(http.MethodGet, authV+"/query?q=SELECT+Id+FROM+Contact", "")
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Equal(t, `[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, r.Body)
	// Admin endpoints are never affected.
	f.faults(`http: [{status: 500}]`)
	r = authServe(f.e, http.MethodGet, "/__emulator/counters", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	r = f.do(http.MethodGet, authV+"/limits", "")
	require.Equal(t, http.StatusInternalServerError, r.Status)
}

func TestHTTPFaultProbabilityIsSeeded(t *testing.T) {
	t.Parallel()
	run := func() []int {
		f := newFaultEnv(t, sfemu.Options{Seed: 3})
		f.faults(`http: [{endpoint: limits, probability: 0.5}]`)
		var out []int
		for i := 0; i < 40; i++ {
			out = append(out, f.do(http.MethodGet, authV+"/limits", "").Status)
		}
		return out
	}
	a := run()
	require.Equal(t, a, run())
	require.Contains(t, a, http.StatusOK)
	require.Contains(t, a, http.StatusServiceUnavailable)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`
latency:
  - endpoint: collections.upsert
    fixed: 30ms
    perRecord: 2ms
`)
	start := time.Now()
	f.upsertContacts(keys("L-", 10)...)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "30ms + 10 × 2ms")

	// A client that goes away stops the wait.
	f.faults(`latency: [{endpoint: limits, fixed: 1h}]`)
	srv := httptest.NewServer(f.e)
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+authV+"/limits", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+f.tok)
	client := &http.Client{Timeout: 100 * time.Millisecond}
	_, err = client.Do(req)
	require.Error(t, err)
	require.Eventually(t, func() bool { return f.e.Faults().Status().InFlight == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`
concurrency: {max: 1}
latency: [{endpoint: limits, fixed: 1h}]
`)
	srv := httptest.NewServer(f.e)
	t.Cleanup(srv.Close)
	slow, err := http.NewRequest(http.MethodGet, srv.URL+authV+"/limits", nil)
	require.NoError(t, err)
	slow.Header.Set("Authorization", "Bearer "+f.tok)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		_, err := http.DefaultClient.Do(slow.WithContext(ctx))
		done <- err
	}()
	require.Eventually(t, func() bool { return f.e.Faults().Status().InFlight == 1 }, 10*time.Second, 5*time.Millisecond)

	r := f.do(http.MethodGet, authV+"/sobjects", "")
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Equal(t, `[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, r.Body)
	require.Equal(t, int64(1), f.e.Faults().Status().ConcurrencyRejected)
	// Non-API endpoints (OAuth, admin) are not limited.
	authLogin(t, f.e)

	cancel()
	require.Error(t, <-done)
	require.Eventually(t, func() bool { return f.e.Faults().Status().InFlight == 0 }, 10*time.Second, 5*time.Millisecond)
	r = f.do(http.MethodGet, authV+"/sobjects", "")
	require.Equal(t, http.StatusOK, r.Status)
}

func TestAPILimitAndExpireSessionsFaults(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	f.faults(`apiLimit: {max: 1000, used: 999}`)
	r := f.do(http.MethodGet, authV+"/limits", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "api-usage=1000/1000", r.Header.Get("Sforce-Limit-Info"))
	r = f.do(http.MethodGet, authV+"/limits", "")
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Equal(t, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, r.Body)
	require.Empty(t, f.e.Faults().Status().Config.APILimit, "a one-shot action is not kept")

	f.faults(`{"apiLimit": {"used": 0}, "expireSessions": true}`)
	r = f.do(http.MethodGet, authV+"/limits", "")
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, authSessionInvalid, r.Body)
}

func TestOutage(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, sfemu.Options{})
	srv := httptest.NewServer(f.e)
	t.Cleanup(srv.Close)
	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+f.tok)
		resp, err := srv.Client().Do(req)
		if err == nil {
			_, _ = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		return resp, err
	}
	f.faults(`outage: {mode: refuse, duration: 30s, delay: 10s}`)
	resp, err := get(authV + "/limits")
	require.NoError(t, err, "not yet")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	f.clk.Add(10 * time.Second)
	_, err = get(authV + "/limits")
	require.Error(t, err, "connection closed without an answer")
	_, err = get("/services/data")
	require.Error(t, err)
	resp, err = get("/__emulator/faults")
	require.NoError(t, err, "admin stays reachable")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	st := f.e.Faults().Status()
	require.True(t, st.Outage.Active)
	require.GreaterOrEqual(t, st.OutageHits, int64(2), "the client may retry a GET once on a reused connection")

	f.clk.Add(30 * time.Second)
	resp, err = get(authV + "/limits")
	require.NoError(t, err, "over")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	f.faults(`outage: {mode: "503", duration: 1m}`)
	r := f.do(http.MethodGet, authV+"/limits", "")
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "text/html", r.Header.Get("Content-Type"))
	require.Contains(t, r.Body, "503 Service Unavailable")
	f.e.Faults().Clear()
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, authV+"/limits", "").Status)
}

func TestParseFaultsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc  string
		want []string
	}{
		{`nope: 1`, []string{"decode: yaml: unmarshal errors:\n  line 1: field nope not found in type sfemu.FaultConfig"}},
		{`{"http":[{"stauts":500}]}`, []string{"field stauts not found"}},
		{`records: [{object: Contact}]`, []string{"records[0]: needs keys or a probability"}},
		{`records: [{probability: 2, ops: [upsert], error: lock, times: 2}]`, []string{
			"records[0].ops[0]: must be insert, update or delete, got \"upsert\"",
			"records[0].probability: must be between 0 and 1, got 2",
			"records[0].times: needs keys",
			"records[0].error: must be an upper-case status code such as UNABLE_TO_LOCK_ROW, got \"lock\""}},
		{`http: [{status: 200, body: xml, probability: 0.5, next: 2, method: get, path: services}]`, []string{
			"http[0].method: must be upper case, got \"get\"",
			"http[0].path: must start with / or *, got \"services\"",
			"http[0].status: must be 400-599, got 200",
			"http[0].body: must be html, json or empty, got \"xml\"",
			"http[0]: set probability or next, not both"}},
		{`latency: [{fixed: soon}]`, []string{"want a duration such as \"250ms\", got \"soon\""}},
		{`latency: [{endpoint: x}]`, []string{"latency[0]: needs fixed or perRecord"}},
		{`{concurrency: {max: 0}, apiLimit: {}, outage: {mode: down}}`, []string{
			"concurrency.max: must be at least 1, got 0",
			"apiLimit: needs max or used",
			"outage.mode: must be \"refuse\" or \"503\", got \"down\"",
			"outage.duration: must be positive"}},
	}
	for _, tt := range tests {
		_, err := sfemu.ParseFaults([]byte(tt.doc))
		require.Error(t, err, tt.doc)
		if len(tt.want) == 1 {
			require.Contains(t, err.Error(), tt.want[0], tt.doc)
			continue
		}
		require.Equal(t, strings.Join(tt.want, "\n"), err.Error(), tt.doc)
	}
}

// The documented example file parses and applies.
func TestFaultsExampleFile(t *testing.T) {
	t.Parallel()
	cfg, err := sfemu.LoadFaults("testdata/faults_example.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, cfg.Records)
	require.NotEmpty(t, cfg.HTTP)
	require.NotEmpty(t, cfg.Latency)
	require.NotNil(t, cfg.Concurrency)
	require.NotNil(t, cfg.APILimit)
	require.NotNil(t, cfg.Outage)
	f := newFaultEnv(t, sfemu.Options{})
	require.NoError(t, f.e.Faults().Set(cfg))
	_, err = sfemu.LoadFaults("testdata/no-such-faults.yaml")
	require.ErrorContains(t, err, "faults: open testdata/no-such-faults.yaml")
}
