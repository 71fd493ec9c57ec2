package sfemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxBody caps request bodies (Bulk uploads are ≤150 MB, fact sheet §8.2).
const maxBody = 150 << 20

// Call is one request being served. Handlers read the request fields and
// write a buffered response through the methods; hooks may inspect and
// replace that response before it is written.
type Call struct {
	Req      *http.Request
	Version  string   // "62.0" on versioned routes
	Endpoint string   // counter name of the route
	Session  *Session // the caller's session, on authenticated routes
	// Records is how many records the handler processed (DML rows, query
	// rows returned); hooks use it for per-record latency.
	Records int

	e     *Emulator
	api   bool
	inner bool // a Composite subrequest
	tx    *Tx  // set inside a Composite allOrNone transaction
	// forceAllOrNone: an outer Composite allOrNone overrides the
	// Collections flag (fact sheet §4.6).
	forceAllOrNone bool
	status         int
	header         http.Header
	body           []byte
	raw            []byte // request body once read
	rawSet         bool
}

func newCall(e *Emulator, r *http.Request, endpoint string, api bool) *Call {
	return &Call{Req: r, Endpoint: endpoint, e: e, api: api, header: http.Header{}}
}

// Org returns the emulator's org.
func (c *Call) Org() *Org { return c.e.org }

// Header returns the response headers to be written.
func (c *Call) Header() http.Header { return c.header }

// Status returns the response status so far (0 if none was set).
func (c *Call) Status() int { return c.status }

// ResponseBody returns the buffered response body.
func (c *Call) ResponseBody() []byte { return c.body }

// Reset discards the response written so far, headers included.
func (c *Call) Reset() {
	c.status, c.body, c.header = 0, nil, http.Header{}
}

// Body sets the response to status with a body of the given content type.
func (c *Call) Body(status int, contentType string, body []byte) {
	c.status, c.body = status, body
	if contentType != "" {
		c.header.Set("Content-Type", contentType)
	}
}

// JSON sets a JSON response (application/json;charset=UTF-8, §0.3),
// indented when the request carries X-PrettyPrint: 1.
func (c *Call) JSON(status int, v any) {
	b, err := marshalJSON(v, c.Req.Header.Get("X-PrettyPrint") == "1")
	if err != nil {
		panic(fmt.Sprintf("sfemu: encode response: %v", err))
	}
	c.Body(status, "application/json;charset=UTF-8", b)
}

// Errors sets a REST error response: a JSON array of APIError.
func (c *Call) Errors(status int, errs ...APIError) { c.JSON(status, errs) }

// Error sets a REST error response with one element.
func (c *Call) Error(status int, code, msg string) {
	c.Errors(status, APIError{Message: msg, ErrorCode: code})
}

// NoContent sets an empty 204 response.
func (c *Call) NoContent() {
	c.status, c.body = http.StatusNoContent, nil
	c.header.Del("Content-Type")
}

// BaseURL is the scheme and host the client used, e.g.
// "https://127.0.0.1:8443": the instance URL as the client sees it.
func (c *Call) BaseURL() string {
	scheme := "http"
	if c.Req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Req.Host
}

// DataPath returns "/services/data/v<version>" followed by rest.
func (c *Call) DataPath(rest string) string {
	v := c.Version
	if v == "" {
		v = strconv.Itoa(c.e.opts.MaxVersion) + ".0"
	}
	return "/services/data/v" + v + rest
}

// RequestBody reads the whole request body (once; later calls return the
// same bytes).
func (c *Call) RequestBody() ([]byte, error) {
	if c.rawSet {
		return c.raw, nil
	}
	c.rawSet = true
	if c.Req.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(c.Req.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errors.New("request body too large")
	}
	c.raw = b
	return b, nil
}

// DecodeJSON decodes the request body into v, numbers as json.Number. On
// failure it sets 400 JSON_PARSER_ERROR and returns false.
func (c *Call) DecodeJSON(v any) bool {
	b, err := c.RequestBody()
	if err != nil {
		c.Error(http.StatusBadRequest, CodeJSONParser, err.Error())
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		c.Error(http.StatusBadRequest, CodeJSONParser, "The HTTP entity body is required, but this request has no entity body.")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = &json.SyntaxError{Offset: dec.InputOffset() + 1}
	}
	if err != nil {
		c.Error(http.StatusBadRequest, CodeJSONParser, jsonErrorMessage(b, err))
		return false
	}
	return true
}

// jsonErrorMessage describes a decode error the way Salesforce's parser
// does: what went wrong and "at [line:L, column:C]".
func jsonErrorMessage(b []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off := int(syn.Offset)
		if off > len(b) {
			off = len(b)
		}
		what, at := "end-of-input", off
		if off > 0 && off <= len(b) {
			ch := b[off-1]
			what, at = fmt.Sprintf("character ('%c' (code %d))", ch, ch), off-1
		}
		l, col := lineCol(b, at)
		return fmt.Sprintf("Unexpected %s at [line:%d, column:%d]", what, l, col)
	case errors.As(err, &typ):
		l, col := lineCol(b, int(typ.Offset))
		return fmt.Sprintf("Cannot deserialize value of type %s from %s at [line:%d, column:%d]", typ.Type, typ.Value, l, col)
	}
	return "Unexpected end-of-input: " + strings.TrimPrefix(err.Error(), "json: ")
}

func lineCol(b []byte, off int) (int, int) {
	if off > len(b) {
		off = len(b)
	}
	line, col := 1, 1
	for _, ch := range b[:off] {
		if ch == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// write runs fn in the Composite transaction when there is one, else in a
// transaction of its own.
func (c *Call) write(fn func(tx *Tx) error) error {
	if c.tx != nil {
		return fn(c.tx)
	}
	return c.e.org.Write(fn)
}

// read runs fn under the org's read lock, or directly inside a Composite
// transaction (which already holds the write lock).
func (c *Call) read(fn func()) {
	if c.tx != nil {
		fn()
		return
	}
	c.e.org.mu.RLock()
	defer c.e.org.mu.RUnlock()
	fn()
}

// writeTo writes the buffered response.
func (c *Call) writeTo(w http.ResponseWriter) {
	if c.status == 0 {
		c.Error(http.StatusInternalServerError, CodeUnknownException, "handler produced no response")
	}
	h := w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	if c.api && !c.inner {
		h.Set("Sforce-Limit-Info", c.e.org.limitInfo())
	}
	body := c.body
	if len(body) >= 1024 && !c.inner && h.Get("Content-Encoding") == "" &&
		strings.Contains(c.Req.Header.Get("Accept-Encoding"), "gzip") {
		body = gzipBody(body)
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
	}
	if c.status != http.StatusNoContent && c.status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(c.status)
	if c.Req.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
	}
}
