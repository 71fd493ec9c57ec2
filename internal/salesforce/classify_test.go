package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
)

// TestClassifyCodes covers every code of the fact sheet §9.2 (plus the Bulk
// and OAuth codes of §8.8 and §1.3) where it appears: status is the HTTP
// status of a request-level error, 0 for a per-record error.
func TestClassifyCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		code    string
		message string
		class   Class
		limit   Limit
	}{
		// Session.
		{401, "INVALID_SESSION_ID", "Session expired or invalid", ClassReauth, LimitNone},
		{401, "INVALID_AUTH_HEADER", "INVALID_HEADER_TYPE", ClassFatal, LimitNone},
		// Limits: daily vs concurrent.
		{403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", ClassThrottle, LimitDaily},
		{403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", ClassThrottle, LimitConcurrent},
		{403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.", ClassThrottle, LimitConcurrent},
		{403, "REQUEST_LIMIT_EXCEEDED", "ApiBatchItems Limit exceeded.", ClassThrottle, LimitOther},
		// Transient.
		{503, "SERVER_UNAVAILABLE", "server down", ClassRetry, LimitNone},
		{0, "SERVER_UNAVAILABLE", "server down", ClassRetry, LimitNone},
		{500, "", "", ClassRetry, LimitNone},
		{502, "", "", ClassRetry, LimitNone},
		{503, "", "non-JSON response (text/html): Maintenance", ClassRetry, LimitNone},
		{504, "", "", ClassRetry, LimitNone},
		{420, "", "", ClassRetry, LimitNone},
		{0, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: 001xx", ClassRetry, LimitNone},
		{400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", ClassRetry, LimitNone},
		{400, "QUERY_TIMEOUT", "Your query request was running too long", ClassRetry, LimitNone},
		{400, "TooManyLockFailure", "", ClassRetry, LimitNone},
		{400, "Timeout", "", ClassRetry, LimitNone},
		{0, "ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid", ClassRetry, LimitNone},
		{400, "PROCESSING_HALTED", "The transaction was rolled back", ClassRetry, LimitNone},
		// Permanent.
		{400, "INVALID_FIELD", "No such column 'Foo__c' on sobject of type Account", ClassPermanent, LimitNone},
		{0, "INVALID_FIELD", "The Id field should not be specified in the sobject data.", ClassPermanent, LimitNone},
		{0, "INVALID_FIELD", "Foreign key external ID: A-1 not found for field Org_Id__c in entity Account", ClassRetry, LimitNone},
		{0, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: X", ClassPermanent, LimitNone},
		{0, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ClassPermanent, LimitNone},
		{0, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Email must be set", ClassPermanent, LimitNone},
		{0, "FIELD_INTEGRITY_EXCEPTION", "bad picklist", ClassPermanent, LimitNone},
		{0, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "bad value", ClassPermanent, LimitNone},
		{0, "DUPLICATE_VALUE", "duplicate value found: Ext__c duplicates value on record with id: 001", ClassPermanent, LimitNone},
		{0, "DUPLICATE_VALUE", "Duplicate external id specified: X", ClassPermanent, LimitNone},
		{0, "DUPLICATE_EXTERNAL_ID", "", ClassPermanent, LimitNone},
		{0, "DUPLICATES_DETECTED", "Use one of these records?", ClassPermanent, LimitNone},
		{400, "DUPLICATES_DETECTED", "Use one of these records?", ClassPermanent, LimitNone},
		{0, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ClassPermanent, LimitNone},
		{0, "NOT_FOUND", "", ClassPermanent, LimitNone},
		{404, "NOT_FOUND", "The requested resource does not exist", ClassFatal, LimitNone},
		{404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: Ext__c", ClassFatal, LimitNone},
		{400, "MALFORMED_ID", "malformed id 001RM000003oLrB000", ClassPermanent, LimitNone},
		{0, "MALFORMED_ID", "Account ID: id value of incorrect type: X", ClassPermanent, LimitNone},
		{0, "STRING_TOO_LONG", "Name: data value too large", ClassPermanent, LimitNone},
		{0, "INVALID_TYPE_ON_FIELD_IN_RECORD", "Amount: value not of required type", ClassPermanent, LimitNone},
		{404, "ENTITY_IS_DELETED", "entity is deleted", ClassPermanent, LimitNone},
		{0, "ENTITY_IS_DELETED", "entity is deleted", ClassPermanent, LimitNone},
		{0, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "MyTrigger: execution of AfterInsert caused by: System.NullPointerException", ClassPermanent, LimitNone},
		{0, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "MyTrigger: execution of AfterInsert caused by: System.DmlException: UNABLE_TO_LOCK_ROW", ClassRetry, LimitNone},
		{0, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", ClassPermanent, LimitNone},
		{400, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", "insufficient access rights on cross-reference id", ClassPermanent, LimitNone},
		{400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call", ClassPermanent, LimitNone},
		{400, "MALFORMED_QUERY", "unexpected token", ClassPermanent, LimitNone},
		{400, "JSON_PARSER_ERROR", "unexpected character", ClassPermanent, LimitNone},
		{300, "MULTIPLE_CHOICES", "the external ID matches several records", ClassPermanent, LimitNone},
		{0, CodeInvalidRow, "unsupported value type", ClassPermanent, LimitNone},
		{0, "SOME_FUTURE_RECORD_CODE", "", ClassPermanent, LimitNone},
		// Fatal.
		{400, "INVALID_TYPE", "sObject type 'Foo__c' is not supported", ClassFatal, LimitNone},
		{403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner", ClassFatal, LimitNone},
		{403, "API_CURRENTLY_DISABLED", "", ClassFatal, LimitNone},
		{403, "INVALID_OPERATION_WITH_EXPIRED_PASSWORD", "The users password has expired", ClassFatal, LimitNone},
		{0, "STORAGE_LIMIT_EXCEEDED", "storage limit exceeded", ClassFatal, LimitNone},
		// Bulk API 2.0 codes, in their documented and wire spellings.
		{400, "ClientInputError", "", ClassPermanent, LimitNone},
		{400, "ExceededQuota", "", ClassThrottle, LimitOther},
		{400, "FeatureNotEnabled", "", ClassFatal, LimitNone},
		{400, "FEATURENOTENABLED", "", ClassFatal, LimitNone},
		{400, "InvalidBatch", "Field name not found : Industryy", ClassPermanent, LimitNone},
		{400, "InvalidJob", "", ClassPermanent, LimitNone},
		{400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed", ClassPermanent, LimitNone},
		{400, "InvalidOperation", "", ClassPermanent, LimitNone},
		{401, "InvalidSessionId", "", ClassReauth, LimitNone},
		{400, "InvalidUrl", "", ClassPermanent, LimitNone},
		{400, "InvalidUser", "", ClassFatal, LimitNone},
		{405, "MethodNotAllowed", "", ClassPermanent, LimitNone},
		{404, "NotFound", "", ClassFatal, LimitNone},
		{500, "Unknown", "", ClassRetry, LimitNone},
		{400, "INVALIDENTITY", "Foo is not supported by the Bulk API", ClassFatal, LimitNone},
		// OAuth token endpoint.
		{400, "invalid_grant", "authentication failure", ClassFatal, LimitNone},
		{400, "invalid_grant", "expired access/refresh token", ClassFatal, LimitNone},
		{400, "invalid_grant", "request not supported on this domain", ClassFatal, LimitNone},
		{400, "invalid_client_id", "client identifier invalid", ClassFatal, LimitNone},
		{401, "invalid_client", "invalid client credentials", ClassFatal, LimitNone},
		{400, "unsupported_grant_type", "grant type not supported", ClassFatal, LimitNone},
		{400, "invalid_request", "grant type is missing", ClassFatal, LimitNone},
		{400, "inactive_user", "", ClassFatal, LimitNone},
		{400, "inactive_org", "", ClassFatal, LimitNone},
		{400, "rate_limit_exceeded", "", ClassThrottle, LimitOther},
		// No code: by status.
		{401, "", "", ClassReauth, LimitNone},
		{429, "", "", ClassThrottle, LimitOther},
		{403, "", "", ClassFatal, LimitNone},
		{404, "", "", ClassFatal, LimitNone},
		{410, "", "", ClassFatal, LimitNone},
		{400, "", "", ClassPermanent, LimitNone},
		{415, "", "", ClassPermanent, LimitNone},
		{400, "SOME_FUTURE_REQUEST_CODE", "", ClassPermanent, LimitNone},
		{503, "SOME_FUTURE_REQUEST_CODE", "", ClassRetry, LimitNone},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s %s", tt.status, tt.code, tt.message), func(t *testing.T) {
			t.Parallel()
			got := classifyCode(tt.status, tt.code, tt.message)
			require.Equal(t, tt.class, got.Class, "class")
			require.Equal(t, tt.limit, got.Limit, "limit")

			// The same verdict comes back through Classify and internal/failure.
			var err error
			if tt.status == 0 {
				err = classified(&RecordError{Code: tt.code, Message: tt.message}, got)
			} else {
				err = classified(&APIError{HTTPStatus: tt.status, Code: tt.code, Message: tt.message}, got)
			}
			wrapped := fmt.Errorf("upsert: %w", err)
			require.Equal(t, tt.class, Classify(wrapped).Class)
			require.Equal(t, got.Kind(), failure.KindOf(wrapped))
		})
	}
}

func TestClassifyOtherErrors(t *testing.T) {
	t.Parallel()
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		err  error
		want Verdict
	}{
		{"nil", nil, Verdict{}},
		{"connection refused", fmt.Errorf("salesforce: GET /limits: %w", netErr), Verdict{Class: ClassRetry}},
		{"timeout", context.DeadlineExceeded, Verdict{Class: ClassRetry}},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), Verdict{Class: ClassRetry}},
		{"budget", classified(&BudgetError{Wait: time.Minute}, Verdict{Class: ClassThrottle, Limit: LimitDaily, Wait: time.Minute}), Verdict{Class: ClassThrottle, Limit: LimitDaily, Wait: time.Minute}},
		{"failure permanent", failure.Permanent(errors.New("bad")), Verdict{Class: ClassPermanent}},
		{"failure fatal", failure.Fatal(errors.New("bad")), Verdict{Class: ClassFatal}},
		{"plain", errors.New("plain"), Verdict{Class: ClassRetry}},
		{"job error", newJobError(&BulkJob{ID: "750x", State: JobFailed, ErrorMessage: "InvalidBatch : Field name not found : Industryy"}), Verdict{Class: ClassPermanent}},
		{"aborted job", newJobError(&BulkJob{ID: "750x", State: JobAborted}), Verdict{Class: ClassRetry}},
		{"retry-after", classified(&APIError{HTTPStatus: 403, Code: "REQUEST_LIMIT_EXCEEDED", Message: "ConcurrentRequests Limit exceeded.", RetryAfter: 3 * time.Second}, Verdict{Class: ClassThrottle, Limit: LimitConcurrent, Wait: 5 * time.Second}),
			Verdict{Class: ClassThrottle, Limit: LimitConcurrent, Wait: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Classify(tt.err))
		})
	}
}

func TestVerdictKind(t *testing.T) {
	t.Parallel()
	require.Equal(t, failure.KindRetryable, Verdict{Class: ClassRetry}.Kind())
	require.Equal(t, failure.KindRetryable, Verdict{Class: ClassThrottle}.Kind())
	require.Equal(t, failure.KindRetryable, Verdict{Class: ClassReauth}.Kind())
	require.Equal(t, failure.KindPermanent, Verdict{Class: ClassPermanent}.Kind())
	require.Equal(t, failure.KindFatal, Verdict{Class: ClassFatal}.Kind())
	d, ok := failure.RetryAfterOf(classified(errors.New("x"), Verdict{Class: ClassThrottle, Wait: time.Second}))
	require.True(t, ok)
	require.Equal(t, time.Second, d)
	require.Equal(t, "throttle", ClassThrottle.String())
	require.Equal(t, "concurrent", LimitConcurrent.String())
}
