package deliver

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/salesforce"
)

func TestVersionEncodingRoundTrips(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)
	for _, v := range []record.Version{
		record.LSNVersion(0x16_B374D848, 3),
		record.TimeVersion(at, 0),
		record.TimeVersion(at, 7),
		record.EventVersion(at, 12),
	} {
		b, err := encodeVersion(v, at)
		require.NoError(t, err)
		got, err := decodeVersion(b)
		require.NoError(t, err, "%s", b)
		c, err := got.Compare(v)
		require.NoError(t, err)
		require.Zero(t, c, "%s → %s → %s", v, b, got)
		require.Equal(t, v.Kind(), got.Kind())
	}
	_, err := encodeVersion(record.Version{}, at)
	require.Error(t, err, "an unset version is not stored")
	for _, bad := range []string{`{`, `{"v":2,"kind":"lsn","lsn":"0/1"}`, `{"v":1,"kind":"nope"}`, `{"v":1,"kind":"lsn","lsn":"x"}`} {
		_, err := decodeVersion([]byte(bad))
		require.Error(t, err, bad)
	}
}

// TestVersionEncodingMatchesJSON pins the stored format: encodeVersion
// writes what json.Marshal writes for the versionDoc, format 1.
func TestVersionEncodingMatchesJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.FixedZone("x", 7200))
	for _, v := range []record.Version{
		record.LSNVersion(0x16_B374D848, 3),
		record.LSNVersion(0xFFFFFFFF_FFFFFFFF, 0),
		record.LSNVersion(1, 18446744073709551615),
		record.TimeVersion(at, 0),
		record.TimeVersion(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), 7),
		record.EventVersion(at, 12),
	} {
		d := versionDoc{V: 1, Kind: v.Kind(), Seq: v.Seq(), Written: at.UTC()}
		if v.Kind() == record.VersionLSN {
			d.LSN = record.FormatLSN(v.LSN())
		} else {
			d.Time = v.Time().Format(time.RFC3339Nano)
		}
		want, err := json.Marshal(d)
		require.NoError(t, err)
		got, err := encodeVersion(v, at)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}

func TestGuardKeyHashesLongExternalIDs(t *testing.T) {
	t.Parallel()
	g := newGuard(nil, "counselors")
	require.Equal(t, "version/counselors/c-42", g.key("c-42"))
	long := strings.Repeat("x", 400)
	k := g.key(long)
	require.True(t, strings.HasPrefix(k, "version/counselors/sha256:"), k)
	require.NotEqual(t, k, g.key(long+"y"))
}

func TestClassify(t *testing.T) {
	t.Parallel()
	rec := func(code string) error {
		// What the sink reports for a record: the collections response
		// passes through the package's own classification.
		return salesforceRecordError(t, code)
	}
	tests := []struct {
		name string
		err  error
		want outcome
	}{
		{"success", nil, outcomeOK},
		{"lock", rec("UNABLE_TO_LOCK_ROW"), outcomeRetry},
		{"validation", rec("FIELD_CUSTOM_VALIDATION_EXCEPTION"), outcomePermanent},
		{"required field", rec("REQUIRED_FIELD_MISSING"), outcomePermanent},
		{"storage full is the org's, not the record's", rec("STORAGE_LIMIT_EXCEEDED"), outcomeOutage},
		{"connection refused", fmt.Errorf("salesforce: PATCH …: %w", errors.New("dial tcp: connection refused")), outcomeOutage},
		{"budget", &salesforce.BudgetError{Used: 10, Max: 10, Exhausted: true, Wait: time.Minute}, outcomeOutage},
		{"503", &salesforce.APIError{HTTPStatus: 503, Message: "down"}, outcomeOutage},
		{"daily limit", &salesforce.APIError{HTTPStatus: 403, Code: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."}, outcomeOutage},
		{"bad credentials", failure.Fatal(&salesforce.APIError{HTTPStatus: 400, Code: "invalid_grant", Message: "authentication failure"}), outcomeOutage},
		{"malformed request", failure.Permanent(&salesforce.APIError{HTTPStatus: 400, Code: "JSON_PARSER_ERROR", Message: "bad"}), outcomeRequestPermanent},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, classify(tt.err), tt.name)
	}
}

func TestIsAuthFailure(t *testing.T) {
	t.Parallel()
	require.True(t, isAuthFailure(failure.Fatal(&salesforce.APIError{HTTPStatus: 400, Code: "invalid_grant", Message: "authentication failure"})))
	require.True(t, isAuthFailure(&salesforce.APIError{HTTPStatus: 401, Code: "INVALID_SESSION_ID"}))
	require.False(t, isAuthFailure(&salesforce.APIError{HTTPStatus: 503}))
	require.False(t, isAuthFailure(errors.New("connection refused")))
	require.False(t, isAuthFailure(failure.Fatal(&salesforce.APIError{HTTPStatus: 404, Code: "NOT_FOUND"})))
}

// salesforceRecordError is a per-record verdict as Salesforce sends it; the
// classification reads its code.
func salesforceRecordError(t *testing.T, code string) error {
	t.Helper()
	return &salesforce.RecordError{Code: code, Message: "as Salesforce says"}
}
