package sfemu

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Error codes used on the wire (fact sheet §9.2).
const (
	CodeAllOrNoneRolledBack     = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
	CodeDuplicateExternalID     = "DUPLICATE_EXTERNAL_ID"
	CodeDuplicateValue          = "DUPLICATE_VALUE"
	CodeEntityIsDeleted         = "ENTITY_IS_DELETED"
	CodeExceededIDLimit         = "EXCEEDED_ID_LIMIT"
	CodeFieldIntegrity          = "FIELD_INTEGRITY_EXCEPTION"
	CodeInvalidAuthHeader       = "INVALID_AUTH_HEADER"
	CodeInvalidCrossReference   = "INVALID_CROSS_REFERENCE_KEY"
	CodeInvalidEmail            = "INVALID_EMAIL_ADDRESS"
	CodeInvalidField            = "INVALID_FIELD"
	CodeInvalidFieldForInsert   = "INVALID_FIELD_FOR_INSERT_UPDATE"
	CodeInvalidQueryFilter      = "INVALID_QUERY_FILTER_OPERATOR"
	CodeInvalidQueryLocator     = "INVALID_QUERY_LOCATOR"
	CodeInvalidSessionID        = "INVALID_SESSION_ID"
	CodeInvalidType             = "INVALID_TYPE"
	CodeInvalidTypeOnField      = "INVALID_TYPE_ON_FIELD_IN_RECORD"
	CodeJSONParser              = "JSON_PARSER_ERROR"
	CodeMalformedID             = "MALFORMED_ID"
	CodeMalformedQuery          = "MALFORMED_QUERY"
	CodeMethodNotAllowed        = "METHOD_NOT_ALLOWED"
	CodeMissingArgument         = "MISSING_ARGUMENT"
	CodeNotFound                = "NOT_FOUND"
	CodeNumberOutsideRange      = "NUMBER_OUTSIDE_VALID_RANGE"
	CodeProcessingHalted        = "PROCESSING_HALTED"
	CodeRequestLimitExceeded    = "REQUEST_LIMIT_EXCEEDED"
	CodeRequiredFieldMissing    = "REQUIRED_FIELD_MISSING"
	CodeRestrictedPicklist      = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
	CodeStringTooLong           = "STRING_TOO_LONG"
	CodeUnknownException        = "UNKNOWN_EXCEPTION"
	CodeUnsupportedAPIVersion   = "UNSUPPORTED_API_VERSION"
	CodeExceededMaxTypes        = "EXCEEDED_MAX_TYPES_LIMIT"
	CodeInvalidInput            = "INVALID_INPUT"
	CodeInsufficientAccess      = "INSUFFICIENT_ACCESS_OR_READONLY"
	CodeUnableToLockRow         = "UNABLE_TO_LOCK_ROW"
	CodeFieldCustomValidation   = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
	msgResourceNotFound         = "The requested resource does not exist"
	msgSessionInvalid           = "Session expired or invalid"
	msgIDSpecified              = "The Id field should not be specified in the sobject data."
	msgEntityDeleted            = "entity is deleted"
	msgInvalidCrossReference    = "invalid cross reference id"
	msgRolledBack               = "Record rolled back because not all records were valid and the request was using AllOrNone header"
	msgTransactionRolledBack    = "The transaction was rolled back since another operation in the same transaction failed."
	msgCollectionLimit          = "record limit reached. cannot submit more than 200 records into this call"
	msgTotalRequestsExceeded    = "TotalRequests Limit exceeded."
	msgInvalidHeaderType        = "INVALID_HEADER_TYPE"
	msgExternalIDFieldNotFound  = "Provided external ID field does not exist or is not accessible: "
	msgNoIDInUpdate             = "Id not specified in an update call"
	msgMultipleRecordsForExtID  = "more than one record found for external id field: "
	msgDuplicateExternalIDInReq = "Duplicate external id specified: "
)

// APIError is one element of the REST error envelope, a JSON array:
// [{"message":"…","errorCode":"NOT_FOUND","fields":["…"]}] (fact sheet §0.3).
type APIError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

// RecordError is a per-record error inside a DML result:
// {"statusCode":"…","message":"…","fields":[…]}; fields is always present.
type RecordError struct {
	StatusCode string
	Message    string
	Fields     []string
}

// MarshalJSON writes fields as [] when empty, as Salesforce does.
func (e RecordError) MarshalJSON() ([]byte, error) {
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	return json.Marshal(struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	}{e.StatusCode, e.Message, f})
}

// UnmarshalJSON reads the wire form (tests and clients of this package).
func (e *RecordError) UnmarshalJSON(b []byte) error {
	var w struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = RecordError{StatusCode: w.StatusCode, Message: w.Message, Fields: w.Fields}
	return nil
}

// Error makes a RecordError usable as an error (Bulk's sf__Error text).
func (e *RecordError) Error() string {
	return e.StatusCode + ":" + e.Message + ":" + strings.Join(e.Fields, ",") + " --"
}

// API converts a record error to the REST envelope element used when a
// single-record call fails.
func (e *RecordError) API() APIError {
	return APIError{Message: e.Message, ErrorCode: e.StatusCode, Fields: e.Fields}
}

func recErr(code, msg string, fields ...string) *RecordError {
	return &RecordError{StatusCode: code, Message: msg, Fields: fields}
}

func errNoSuchColumn(field, object string) *RecordError {
	return recErr(CodeInvalidField, fmt.Sprintf("No such column '%s' on sobject of type %s", field, object))
}

func errFieldSpecified(field string) *RecordError {
	if strings.EqualFold(field, "Id") {
		return recErr(CodeInvalidField, msgIDSpecified)
	}
	return recErr(CodeInvalidField, fmt.Sprintf("The %s field should not be specified in the sobject data.", field))
}

func errRequiredMissing(fields []string) *RecordError {
	return recErr(CodeRequiredFieldMissing, "Required fields are missing: ["+strings.Join(fields, ", ")+"]", fields...)
}

func errNotWritable(fields []string) *RecordError {
	return recErr(CodeInvalidFieldForInsert, "Unable to create/update fields: "+strings.Join(fields, ", ")+
		". Please check the security settings of this field and verify that it is read/write for your profile or permission set.", fields...)
}

func errWrongType(f *Field, v any) *RecordError {
	return recErr(CodeInvalidTypeOnField, fmt.Sprintf("%s: value not of required type: %v", f.Label, display(v)), f.Name)
}

func errTooLong(f *Field, v string) *RecordError {
	return recErr(CodeStringTooLong, fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, v, f.Length), f.Name)
}

func errOutOfRange(f *Field, v any) *RecordError {
	return recErr(CodeNumberOutsideRange, fmt.Sprintf("%s: value outside of valid range on numeric field: %v", f.Label, display(v)), f.Name)
}

func errBadEmail(f *Field, v string) *RecordError {
	return recErr(CodeInvalidEmail, fmt.Sprintf("%s: invalid email address: %s", f.Label, v), f.Name)
}

func errBadPicklist(f *Field, v string) *RecordError {
	return recErr(CodeRestrictedPicklist, fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label, v), f.Name)
}

// errIDOfWrongType is MALFORMED_ID for a value that is not an Id at all and
// FIELD_INTEGRITY_EXCEPTION for an Id of another object (fact sheet §9.2).
func errIDOfWrongType(code string, f *Field, v string) *RecordError {
	return recErr(code, fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, v), f.Name)
}

func errMalformedID(id string) *RecordError {
	return recErr(CodeMalformedID, "malformed id "+id)
}

func errDuplicateValue(field, id string) *RecordError {
	return recErr(CodeDuplicateValue, fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", field, id))
}

func errDuplicateInRequest(v string) *RecordError {
	return recErr(CodeDuplicateValue, msgDuplicateExternalIDInReq+v)
}

func errMultipleMatches(ids []string) *RecordError {
	return recErr(CodeDuplicateExternalID, msgMultipleRecordsForExtID+"["+strings.Join(ids, ", ")+"]")
}

func errForeignKeyNotFound(v, field, object string) *RecordError {
	return recErr(CodeInvalidField, fmt.Sprintf("Foreign key external ID: %s not found for field %s in entity %s", v, field, object))
}

func errRolledBack() *RecordError { return recErr(CodeAllOrNoneRolledBack, msgRolledBack) }

// display renders an input value the way it appears in messages.
func display(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return x.String()
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}
