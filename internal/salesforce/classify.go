package salesforce

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/failure"
)

// This file is the one place that decides what each Salesforce error means
// for the delivery path (fact sheet §9). Every code is looked up after
// normalisation (upper case, underscores removed), so the REST spelling
// UNABLE_TO_LOCK_ROW, the Bulk spellings TooManyLockFailure / INVALIDJOBSTATE
// and the OAuth spelling invalid_grant all hit one table.

// Class is what a caller should do about an error.
type Class int

// Classes. The zero Class is ClassRetry, the default for unknown errors.
const (
	// ClassRetry: transient (lock contention, 5xx, timeouts, connection
	// errors); retry with backoff.
	ClassRetry Class = iota
	// ClassThrottle: a Salesforce limit; wait (Verdict.Wait) before trying
	// again, and reduce parallelism.
	ClassThrottle
	// ClassReauth: the session is invalid; the client already fetched a new
	// token and replayed once, so seeing it means the new token failed too.
	ClassReauth
	// ClassPermanent: this record (or request) is wrong and retrying cannot
	// help: validation, unknown field, duplicates. Dead-letter it now.
	ClassPermanent
	// ClassFatal: nothing will work until a person acts: bad credentials,
	// unknown object, API disabled. Stop the sync and alert.
	ClassFatal
)

// String returns the class name.
func (c Class) String() string {
	switch c {
	case ClassRetry:
		return "retry"
	case ClassThrottle:
		return "throttle"
	case ClassReauth:
		return "reauth"
	case ClassPermanent:
		return "permanent"
	case ClassFatal:
		return "fatal"
	}
	return "class(?)"
}

// Limit says which Salesforce limit a throttle is about.
type Limit int

// Limits.
const (
	LimitNone Limit = iota
	// LimitDaily: the org's rolling 24 h API allowance (REQUEST_LIMIT_EXCEEDED
	// "TotalRequests Limit exceeded.", or our own reserve). Recovers in hours.
	LimitDaily
	// LimitConcurrent: too many concurrent (long-running) requests
	// ("ConcurrentPerOrgLongTxn" / "ConcurrentRequests"). Recovers in seconds.
	LimitConcurrent
	// LimitOther: another limit (Bulk quota, OAuth rate limit, HTTP 429).
	LimitOther
)

// String returns the limit name.
func (l Limit) String() string {
	return [...]string{"none", "daily", "concurrent", "other"}[l]
}

// Verdict is the classification of one error.
type Verdict struct {
	Class Class
	Limit Limit
	// Wait is the suggested delay (throttles; from Retry-After when sent).
	Wait time.Duration
}

// Kind maps the verdict onto the delivery path's failure kinds: permanent
// and fatal as named; retry, throttle and re-auth are retryable.
func (v Verdict) Kind() failure.Kind {
	switch v.Class {
	case ClassPermanent:
		return failure.KindPermanent
	case ClassFatal:
		return failure.KindFatal
	}
	return failure.KindRetryable
}

// codeClass maps each normalised error code to its class. Codes whose class
// depends on the message or on where they appear are in classifyCode.
var codeClass = map[string]Class{
	// Session.
	"INVALIDSESSIONID": ClassReauth,
	// A malformed Authorization header is our bug or broken config; every
	// call fails alike, so stop rather than dead-letter (fact sheet:
	// "config bug").
	"INVALIDAUTHHEADER": ClassFatal,

	// Transient.
	"SERVERUNAVAILABLE":  ClassRetry,
	"UNABLETOLOCKROW":    ClassRetry,
	"QUERYTIMEOUT":       ClassRetry,
	"TOOMANYLOCKFAILURE": ClassRetry, // Bulk
	"TIMEOUT":            ClassRetry, // Bulk
	"UNKNOWN":            ClassRetry, // Bulk "Unknown"
	// Follow-on errors: not the record's fault; retry once the real
	// failures are fixed or gone.
	"ALLORNONEOPERATIONROLLEDBACK": ClassRetry,
	"PROCESSINGHALTED":             ClassRetry,

	// Permanent: the record's data or the mapping.
	"INVALIDFIELD":                             ClassPermanent,
	"INVALIDFIELDFORINSERTUPDATE":              ClassPermanent,
	"REQUIREDFIELDMISSING":                     ClassPermanent,
	"FIELDCUSTOMVALIDATIONEXCEPTION":           ClassPermanent,
	"FIELDINTEGRITYEXCEPTION":                  ClassPermanent,
	"INVALIDORNULLFORRESTRICTEDPICKLIST":       ClassPermanent,
	"DUPLICATEVALUE":                           ClassPermanent,
	"DUPLICATEEXTERNALID":                      ClassPermanent,
	"DUPLICATESDETECTED":                       ClassPermanent,
	"INVALIDCROSSREFERENCEKEY":                 ClassPermanent,
	"NOTFOUND":                                 ClassPermanent,
	"MALFORMEDID":                              ClassPermanent,
	"STRINGTOOLONG":                            ClassPermanent,
	"INVALIDTYPEONFIELDINRECORD":               ClassPermanent,
	"ENTITYISDELETED":                          ClassPermanent,
	"CANNOTINSERTUPDATEACTIVATEENTITY":         ClassPermanent,
	"INSUFFICIENTACCESSORREADONLY":             ClassPermanent,
	"INSUFFICIENTACCESSONCROSSREFERENCEENTITY": ClassPermanent,
	"MULTIPLECHOICES":                          ClassPermanent, // HTTP 300 on single upsert
	"EXCEEDEDIDLIMIT":                          ClassPermanent, // client bug: batch too large
	"MALFORMEDQUERY":                           ClassPermanent,
	"JSONPARSERERROR":                          ClassPermanent,
	"CLIENTINPUTERROR":                         ClassPermanent, // Bulk
	"INVALIDBATCH":                             ClassPermanent, // Bulk: e.g. Field name not found
	"INVALIDJOB":                               ClassPermanent,
	"INVALIDJOBSTATE":                          ClassPermanent,
	"INVALIDOPERATION":                         ClassPermanent,
	"INVALIDURL":                               ClassPermanent,
	"METHODNOTALLOWED":                         ClassPermanent,
	"SFBRIDGEINVALIDROW":                       ClassPermanent, // ours: a row the API cannot carry (row.go)

	// Fatal: configuration or org state a person must fix.
	"INVALIDTYPE":                         ClassFatal, // sObject type 'X' is not supported
	"INVALIDENTITY":                       ClassFatal, // X is not supported by the Bulk API
	"APIDISABLEDFORORG":                   ClassFatal,
	"APICURRENTLYDISABLED":                ClassFatal,
	"INVALIDOPERATIONWITHEXPIREDPASSWORD": ClassFatal,
	"FEATURENOTENABLED":                   ClassFatal, // Bulk
	"INVALIDUSER":                         ClassFatal, // Bulk
	// Storage full: every insert would fail; stop and alert instead of
	// dead-lettering the stream (fact sheet: "permanent until space freed").
	"STORAGELIMITEXCEEDED": ClassFatal,

	// OAuth token endpoint (§1.3): bad credentials or app set-up.
	"INVALIDGRANT":         ClassFatal,
	"INVALIDCLIENTID":      ClassFatal,
	"INVALIDCLIENT":        ClassFatal,
	"UNSUPPORTEDGRANTTYPE": ClassFatal,
	"INVALIDREQUEST":       ClassFatal,
	"INACTIVEUSER":         ClassFatal,
	"INACTIVEORG":          ClassFatal,
	"RATELIMITEXCEEDED":    ClassThrottle,

	// Limits (message decides which; see classifyCode).
	"REQUESTLIMITEXCEEDED": ClassThrottle,
	"EXCEEDEDQUOTA":        ClassThrottle, // Bulk
}

// normCode upper-cases code and drops underscores.
func normCode(code string) string {
	return strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(code)), "_", "")
}

// classifyCode classifies a code with its message. status is the HTTP status
// of a request-level error, or 0 for a per-record error.
func classifyCode(status int, code, message string) Verdict {
	n := normCode(code)
	msg := strings.ToLower(message)
	switch n {
	case "REQUESTLIMITEXCEEDED":
		switch {
		case strings.Contains(msg, "totalrequests"):
			return Verdict{Class: ClassThrottle, Limit: LimitDaily}
		case strings.Contains(msg, "concurrent"):
			return Verdict{Class: ClassThrottle, Limit: LimitConcurrent}
		}
		return Verdict{Class: ClassThrottle, Limit: LimitOther}
	case "EXCEEDEDQUOTA", "RATELIMITEXCEEDED":
		return Verdict{Class: ClassThrottle, Limit: LimitOther}
	case "INVALIDFIELD":
		// A lookup to a parent that is not there yet: the parent's own sync
		// may deliver it later (children often arrive first).
		if strings.Contains(msg, "foreign key external id") {
			return Verdict{Class: ClassRetry}
		}
	case "CANNOTINSERTUPDATEACTIVATEENTITY":
		// A trigger failed; it often wraps lock contention.
		if strings.Contains(msg, "unable_to_lock_row") || strings.Contains(msg, "unable to obtain exclusive access") {
			return Verdict{Class: ClassRetry}
		}
	case "NOTFOUND":
		// Request level: the object, the external ID field or the endpoint
		// does not exist — configuration. Per record: that record.
		if status != 0 {
			return Verdict{Class: ClassFatal}
		}
	}
	if c, ok := codeClass[n]; ok {
		return Verdict{Class: c}
	}
	if status == 0 {
		// Salesforce has hundreds of record status codes; the unknown ones
		// are data errors far more often than not.
		return Verdict{Class: ClassPermanent}
	}
	return classifyStatus(status)
}

// classifyStatus classifies a response with no known code by its status.
func classifyStatus(status int) Verdict {
	switch {
	case status == http.StatusUnauthorized:
		return Verdict{Class: ClassReauth}
	case status == 429:
		return Verdict{Class: ClassThrottle, Limit: LimitOther}
	case status == 408 || status == 420 || status >= 500:
		return Verdict{Class: ClassRetry}
	case status == 403 || status == 404 || status == 410:
		// Refused, no such resource, retired API version: configuration.
		return Verdict{Class: ClassFatal}
	case status >= 300:
		return Verdict{Class: ClassPermanent}
	}
	return Verdict{Class: ClassRetry}
}

// Classify returns the verdict on any error this package returned (or on
// any other error: context and network errors are ClassRetry, and an error
// marked with internal/failure keeps its kind). A nil error is ClassRetry.
func Classify(err error) Verdict {
	var v Verdict
	var (
		budget *BudgetError
		api    *APIError
		rec    *RecordError
		job    *JobError
	)
	switch {
	case err == nil:
		return Verdict{}
	case errors.As(err, &budget):
		return Verdict{Class: ClassThrottle, Limit: LimitDaily, Wait: budget.Wait}
	case errors.As(err, &job):
		v = job.verdict()
	case errors.As(err, &rec):
		v = classifyCode(0, rec.Code, rec.Message)
	case errors.As(err, &api):
		v = classifyCode(api.HTTPStatus, api.Code, api.Message)
		v.Wait = api.RetryAfter
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Verdict{Class: ClassRetry}
	default:
		var ne net.Error
		if errors.As(err, &ne) {
			return Verdict{Class: ClassRetry}
		}
	}
	// A permanent or fatal marker outside the typed error decides (the
	// layer nearest the decision knows most: e.g. an expired session that
	// the access_token flow cannot refresh is fatal).
	switch k := failure.KindOf(err); {
	case k == failure.KindPermanent && v.Class != ClassPermanent:
		v = Verdict{Class: ClassPermanent}
	case k == failure.KindFatal && v.Class != ClassFatal:
		v = Verdict{Class: ClassFatal}
	}
	if d, ok := failure.RetryAfterOf(err); ok && d > v.Wait {
		v.Wait = d
	}
	return v
}

// classified wraps err with the failure kind of v and its wait, so that the
// delivery path (which reads internal/failure) acts on the verdict.
func classified(err error, v Verdict) error {
	if err == nil {
		return nil
	}
	if v.Wait > 0 {
		err = failure.WithRetryAfter(err, v.Wait)
	}
	switch v.Kind() {
	case failure.KindPermanent:
		return failure.Permanent(err)
	case failure.KindFatal:
		return failure.Fatal(err)
	}
	return err
}
