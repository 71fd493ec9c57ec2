// Package sfemutest starts the Salesforce emulator (internal/sfemu) on a
// loopback HTTP server for tests, with a live session, and offers small
// request helpers. Everything it starts is stopped by t.Cleanup.
package sfemutest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// Server is a running emulator.
type Server struct {
	*sfemu.Emulator
	// URL is the instance URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Token is the access token of a session of the default user that does
	// not expire.
	Token string
	// HTTP is the underlying test server.
	HTTP *httptest.Server
}

// Start serves a new emulator built from opts on a loopback port.
func Start(t testing.TB, opts sfemu.Options) *Server {
	t.Helper()
	e := sfemu.New(opts)
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	return &Server{Emulator: e, URL: hs.URL, Token: NewSession(e), HTTP: hs}
}

// NewSession mints a non-expiring access token for the org's default user.
func NewSession(e *sfemu.Emulator) string {
	return e.Org().NewSession("", -1).Token
}

// Response is a finished request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the response body into v, failing the test on error.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode response %d %q: %v", r.Status, r.Body, err)
	}
}

// Do sends method path (relative to URL, e.g. "/services/data/v62.0/limits")
// with the session's bearer token. body is sent as JSON unless it is a
// []byte or string, which are sent as they are.
func (s *Server) Do(t testing.TB, method, path string, body any) *Response {
	t.Helper()
	return s.DoWith(t, method, path, body, http.Header{"Authorization": {"Bearer " + s.Token}})
}

// DoWith is Do with explicit headers (no token is added).
func (s *Server) DoWith(t testing.TB, method, path string, body any, h http.Header) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
