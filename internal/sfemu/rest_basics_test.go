package sfemu_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

func TestVersions(t *testing.T) {
	t.Parallel()
	s := sfemutest.Start(t, sfemu.Options{MinVersion: 60, MaxVersion: 63})
	for _, path := range []string{"/services/data", "/services/data/"} {
		r := s.DoWith(t, "GET", path, nil, nil)
		golden(t, s, "versions", r)
		require.Empty(t, r.Header.Get("Sforce-Limit-Info"), "the versions list is not counted")
	}
	used, _ := s.Org().APIUsage()
	require.Zero(t, used)
}

func TestVersionRoot(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "GET", v+"/", nil)
	golden(t, s, "version_root", r)
	require.Equal(t, "api-usage=1/100000", r.Header.Get("Sforce-Limit-Info"))

	requireError(t, s.Do(t, "GET", "/services/data/v99.0/", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "GET", "/services/data/62.0/limits", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "GET", "/services/data/v29.0/limits", nil), 410, sfemu.CodeUnsupportedAPIVersion,
		"Version v29.0 of the API is retired and no longer supported.")
	requireError(t, s.Do(t, "GET", v+"/nothing/here", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "GET", "/elsewhere", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
}

func TestLimitsAndUsageHeader(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.Org().SetAPILimit(15000)
	s.Org().SetAPIUsage(122)
	r := s.Do(t, "GET", v+"/limits/", nil)
	golden(t, s, "limits", r)
	require.Equal(t, "api-usage=123/15000", r.Header.Get("Sforce-Limit-Info"))
	r = s.Do(t, "GET", v+"/sobjects/Account/001000000000000", nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "api-usage=124/15000", r.Header.Get("Sforce-Limit-Info"), "errors carry the header too")
	require.Equal(t, map[string]int64{"limits": 1, "sobject.read": 1}, s.Org().Counters().Calls)
}

func TestDailyLimitExceeded(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.Org().SetAPILimit(2)
	require.Equal(t, 200, s.Do(t, "GET", v+"/limits", nil).Status)
	require.Equal(t, 200, s.Do(t, "GET", v+"/limits", nil).Status)
	r := s.Do(t, "GET", v+"/limits", nil)
	requireError(t, r, 403, sfemu.CodeRequestLimitExceeded, "TotalRequests Limit exceeded.")
	require.Equal(t, "api-usage=2/2", r.Header.Get("Sforce-Limit-Info"))
	s.Org().SetAPILimit(3)
	require.Equal(t, 200, s.Do(t, "GET", v+"/limits", nil).Status)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	now := fixedNow
	s := sfemutest.Start(t, sfemu.Options{Now: func() time.Time { return now }})
	for _, h := range []http.Header{
		nil,
		{"Authorization": {"Basic abc"}},
		{"Authorization": {"Bearer"}},
	} {
		r := s.DoWith(t, "GET", v+"/limits", nil, h)
		requireError(t, r, 401, sfemu.CodeInvalidAuthHeader, "INVALID_HEADER_TYPE")
	}
	r := s.DoWith(t, "GET", v+"/sobjects", nil, http.Header{"Authorization": {"Bearer 00D000000000001!nope"}})
	golden(t, s, "invalid_session", r)
	require.NotEmpty(t, r.Header.Get("Sforce-Limit-Info"))

	sess := s.Org().NewSession("", time.Minute)
	auth := http.Header{"Authorization": {"OAuth " + sess.Token}}
	require.Equal(t, 200, s.DoWith(t, "GET", v+"/limits", nil, auth).Status, "the OAuth scheme is accepted too")
	now = now.Add(time.Minute)
	requireError(t, s.DoWith(t, "GET", v+"/limits", nil, auth), 401, sfemu.CodeInvalidSessionID, "Session expired or invalid")
	s.Org().ExpireSessions()
	requireError(t, s.Do(t, "GET", v+"/limits", nil), 401, sfemu.CodeInvalidSessionID, "Session expired or invalid")
	used, _ := s.Org().APIUsage()
	require.Equal(t, int64(1), used, "rejected calls are not counted")
}

func TestRequestNormalisation(t *testing.T) {
	t.Parallel()
	s := setup(t)
	id := create(t, s, "Account", obj{"Name": "Acme"})

	// POST with ?_HttpMethod=PATCH is a PATCH (fact sheet §0.3).
	r := s.Do(t, "POST", v+"/sobjects/Account/"+id+"?_HttpMethod=PATCH", obj{"Name": "Acme 2"})
	require.Equal(t, 204, r.Status, "%s", r.Body)

	// gzip request bodies are decoded; gzip responses are sent when asked.
	gz := gzipped(t, `{"Name":"Zipped"}`)
	r = s.DoWith(t, "POST", v+"/sobjects/Account/", gz, http.Header{
		"Authorization": {"Bearer " + s.Token}, "Content-Encoding": {"gzip"}, "Content-Type": {"application/json"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	r = rawGet(t, s, v+"/sobjects/Account/describe", http.Header{"Accept-Encoding": {"gzip"}})
	require.Equal(t, "gzip", r.Header.Get("Content-Encoding"))

	// X-PrettyPrint: 1 indents.
	r = s.DoWith(t, "GET", v+"/sobjects/Account/"+id+"?fields=Name", nil, http.Header{
		"Authorization": {"Bearer " + s.Token}, "X-PrettyPrint": {"1"}})
	require.Contains(t, string(r.Body), "\n  \"Name\": \"Acme 2\"")

	// A method a resource does not have answers 405 in the JSON shape.
	r = s.Do(t, "PUT", v+"/sobjects/Account/"+id, obj{})
	requireError(t, r, 405, sfemu.CodeMethodNotAllowed, "HTTP Method 'PUT' not allowed. Allowed are DELETE,GET,HEAD,PATCH,POST")
	require.Equal(t, "DELETE,GET,HEAD,PATCH,POST", r.Header.Get("Allow"))

	// Malformed JSON.
	requireError(t, s.Do(t, "POST", v+"/sobjects/Account", `{"Name": }`), 400, sfemu.CodeJSONParser,
		"Unexpected character ('}' (code 125)) at [line:1, column:10]")
	requireError(t, s.Do(t, "POST", v+"/sobjects/Account", ``), 400, sfemu.CodeJSONParser,
		"The HTTP entity body is required, but this request has no entity body.")
	requireError(t, s.Do(t, "POST", v+"/sobjects/Account", `["x"]`), 400, sfemu.CodeJSONParser,
		"Cannot deserialize value of type map[string]interface {} from array at [line:1, column:2]")
}
