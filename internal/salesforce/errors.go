package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxMessage bounds the message taken from a non-JSON body.
const maxMessage = 200

// APIError is an error response of the REST API, the Bulk API or the OAuth
// token endpoint. Errors returned by this package wrap it with its failure
// kind; use errors.As to read it and Classify for the verdict.
type APIError struct {
	// HTTPStatus is the response status code.
	HTTPStatus int
	// Code is the Salesforce errorCode (REQUEST_LIMIT_EXCEEDED), the OAuth
	// "error" (invalid_grant), or "" when the body was not a known envelope.
	Code string
	// Message is the message, the OAuth error_description, or for a
	// non-JSON body a short, truncated text of it (e.g. an HTML page title).
	Message string
	// Fields names the fields the error is about, when Salesforce says.
	Fields []string
	// More holds the further errors when the envelope listed several.
	More []APIError
	// RetryAfter is the server's Retry-After header, when it sent one.
	RetryAfter time.Duration
}

// Error reads "HTTP 400 INVALID_FIELD: No such column … (fields: A, B)".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Fields) > 0 {
		b.WriteString(" (fields: " + strings.Join(e.Fields, ", ") + ")")
	}
	if len(e.More) > 0 {
		fmt.Fprintf(&b, " (and %d more errors)", len(e.More))
	}
	return b.String()
}

// RecordError is Salesforce's verdict on one record of a batch: an entry of
// a SaveResult's errors, or a Bulk job's sf__Error.
type RecordError struct {
	// Code is the statusCode, e.g. REQUIRED_FIELD_MISSING.
	Code    string
	Message string
	Fields  []string
}

// Error reads "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName)".
func (e *RecordError) Error() string {
	s := e.Code
	if e.Message != "" {
		if s != "" {
			s += ": "
		}
		s += e.Message
	}
	if len(e.Fields) > 0 {
		s += " (fields: " + strings.Join(e.Fields, ", ") + ")"
	}
	return s
}

// BudgetError says the org's remaining daily API allowance is below the
// reserve (or exhausted) and the caller should wait instead of spending it.
type BudgetError struct {
	Used, Max int64
	// Reserve is the fraction kept for others.
	Reserve float64
	// Exhausted is set when Salesforce itself refused a call for the daily
	// limit (REQUEST_LIMIT_EXCEEDED TotalRequests).
	Exhausted bool
	// Wait is the suggested wait before trying again.
	Wait time.Duration
}

// Error says how much is used and how long to wait.
func (e *BudgetError) Error() string {
	if e.Exhausted {
		return fmt.Sprintf("daily API limit exceeded (%d of %d calls used); wait %s", e.Used, e.Max, e.Wait)
	}
	return fmt.Sprintf("daily API budget: %d of %d calls used, remaining allowance is below the %g%% reserve; wait %s",
		e.Used, e.Max, e.Reserve*100, e.Wait)
}

// errorItem is one element of the REST error array. Per-record errors use
// statusCode instead of errorCode; both are read.
type errorItem struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

func (it errorItem) code() string {
	if it.ErrorCode != "" {
		return it.ErrorCode
	}
	return it.StatusCode
}

// parseError builds the APIError of a non-success response from its status,
// headers and body. It never fails: an unknown body becomes a short message.
func parseError(status int, h http.Header, body []byte) *APIError {
	e := &APIError{HTTPStatus: status, RetryAfter: parseRetryAfter(h.Get("Retry-After"))}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		var items []errorItem
		if json.Unmarshal(trimmed, &items) == nil && len(items) > 0 {
			e.Code, e.Message, e.Fields = items[0].code(), items[0].Message, items[0].Fields
			for _, it := range items[1:] {
				e.More = append(e.More, APIError{HTTPStatus: status, Code: it.code(), Message: it.Message, Fields: it.Fields})
			}
			return e
		}
	case len(trimmed) > 0 && trimmed[0] == '{':
		var obj struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			errorItem
		}
		if json.Unmarshal(trimmed, &obj) == nil {
			switch {
			case obj.Error != "":
				e.Code, e.Message = obj.Error, obj.Description
				return e
			case obj.code() != "" || obj.Message != "":
				e.Code, e.Message, e.Fields = obj.code(), obj.Message, obj.Fields
				return e
			}
		}
	}
	e.Message = bodyText(status, h.Get("Content-Type"), trimmed)
	return e
}

var (
	titleRE  = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	scriptRE = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE  = regexp.MustCompile(`\s+`)
)

// bodyText describes a body that is not a JSON envelope: the page title and
// text of an HTML page, else the text itself, whitespace collapsed and
// truncated; the status text when the body is empty.
func bodyText(status int, contentType string, body []byte) string {
	if len(body) == 0 {
		return http.StatusText(status)
	}
	s := string(body)
	isHTML := strings.Contains(strings.ToLower(contentType), "html") || bytes.HasPrefix(bytes.ToLower(body), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(body), []byte("<html"))
	if isHTML {
		text := tagRE.ReplaceAllString(scriptRE.ReplaceAllString(s, " "), " ")
		if m := titleRE.FindStringSubmatch(s); m != nil {
			title := strings.TrimSpace(m[1])
			text = strings.Replace(text, m[1], "", 1)
			text = title + " — " + text
		}
		s = html.UnescapeString(text)
	}
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	s = strings.TrimSuffix(s, " —")
	prefix := "non-JSON response"
	if ct := mediaType(contentType); ct != "" {
		prefix += " (" + ct + ")"
	}
	return prefix + ": " + truncate(s, maxMessage)
}

func mediaType(ct string) string {
	ct, _, _ = strings.Cut(ct, ";")
	return strings.TrimSpace(strings.ToLower(ct))
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
