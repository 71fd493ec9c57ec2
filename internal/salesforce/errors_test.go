package salesforce

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseError(t *testing.T) {
	t.Parallel()
	html503 := `<!DOCTYPE html><html><head><title>Service Unavailable</title><style>body{color:red}</style></head>
<body><h1>Down for Maintenance</h1><p>Salesforce is &amp; will be back ` + strings.Repeat("soon ", 80) + `</p></body></html>`
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        APIError
		wantPrefix  string // for Message, when not exact
	}{
		{
			name: "array envelope", status: 400, contentType: "application/json;charset=UTF-8",
			body: `[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`,
			want: APIError{HTTPStatus: 400, Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}},
		},
		{
			name: "array envelope with several errors", status: 400,
			body: `[{"message":"a","errorCode":"INVALID_FIELD"},{"message":"b","errorCode":"MALFORMED_ID","fields":["Id"]}]`,
			want: APIError{HTTPStatus: 400, Code: "INVALID_FIELD", Message: "a", More: []APIError{{HTTPStatus: 400, Code: "MALFORMED_ID", Message: "b", Fields: []string{"Id"}}}},
		},
		{
			name: "session expired", status: 401,
			body: `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`,
			want: APIError{HTTPStatus: 401, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid"},
		},
		{
			name: "OAuth envelope", status: 400,
			body: `{"error":"invalid_grant","error_description":"authentication failure"}`,
			want: APIError{HTTPStatus: 400, Code: "invalid_grant", Message: "authentication failure"},
		},
		{
			name: "single error object", status: 404,
			body: `{"errorCode":"NOT_FOUND","message":"Provided external ID field does not exist or is not accessible: Ext__c"}`,
			want: APIError{HTTPStatus: 404, Code: "NOT_FOUND", Message: "Provided external ID field does not exist or is not accessible: Ext__c"},
		},
		{
			name: "empty body", status: 502,
			want: APIError{HTTPStatus: 502, Message: "Bad Gateway"},
		},
		{
			name: "plain text", status: 500, contentType: "text/plain", body: "upstream connect error\n",
			want: APIError{HTTPStatus: 500, Message: "non-JSON response (text/plain): upstream connect error"},
		},
		{
			name: "JSON that is not an envelope", status: 500, body: `{"status":"down"}`,
			want: APIError{HTTPStatus: 500, Message: `non-JSON response: {"status":"down"}`},
		},
		{
			name: "HTML 503 page", status: 503, contentType: "text/html; charset=utf-8", body: html503,
			wantPrefix: "non-JSON response (text/html): Service Unavailable — Down for Maintenance Salesforce is & will be back soon soon",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			got := parseError(tt.status, h, []byte(tt.body))
			if tt.wantPrefix != "" {
				require.Equal(t, tt.status, got.HTTPStatus)
				require.Empty(t, got.Code)
				require.True(t, strings.HasPrefix(got.Message, tt.wantPrefix), "message: %q", got.Message)
				require.True(t, strings.HasSuffix(got.Message, "…"), "a long page is truncated: %q", got.Message)
				require.NotContains(t, got.Message, "<")
				require.NotContains(t, got.Message, "color:red")
				require.LessOrEqual(t, len([]rune(got.Message)), maxMessage+40)
				return
			}
			require.Equal(t, tt.want, *got)
		})
	}
}

func TestParseErrorRetryAfter(t *testing.T) {
	t.Parallel()
	h := http.Header{"Retry-After": {"120"}}
	require.Equal(t, 2*time.Minute, parseError(503, h, nil).RetryAfter)
	h.Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	require.InDelta(t, time.Hour.Seconds(), parseError(503, h, nil).RetryAfter.Seconds(), 5)
	h.Set("Retry-After", "soon")
	require.Zero(t, parseError(503, h, nil).RetryAfter)
}

func TestErrorStrings(t *testing.T) {
	t.Parallel()
	e := &APIError{HTTPStatus: 400, Code: "INVALID_FIELD", Message: "No such column", Fields: []string{"A", "B"}, More: []APIError{{}}}
	require.Equal(t, "HTTP 400 INVALID_FIELD: No such column (fields: A, B) (and 1 more errors)", e.Error())
	r := &RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}
	require.Equal(t, "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName)", r.Error())
	b := &BudgetError{Used: 81, Max: 100, Reserve: 0.2, Wait: time.Minute}
	require.Equal(t, "daily API budget: 81 of 100 calls used, remaining allowance is below the 20% reserve; wait 1m0s", b.Error())
	b.Exhausted = true
	require.Equal(t, "daily API limit exceeded (81 of 100 calls used); wait 1m0s", b.Error())
}

func FuzzParseError(f *testing.F) {
	f.Add(400, []byte(`[{"message":"m","errorCode":"X"}]`))
	f.Add(400, []byte(`{"error":"e","error_description":"d"}`))
	f.Add(503, []byte(`<html><title>x</title></html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseError(status, http.Header{"Content-Type": {"text/html"}}, body)
		require.Equal(t, status, e.HTTPStatus)
		_ = e.Error()
	})
}
