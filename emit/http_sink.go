package emit

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTP sink defaults.
const (
	DefaultHTTPTimeout = 30 * time.Second
	DefaultGzipAbove   = 8 << 10
)

// maxResponse bounds the response body the HTTP sink reads.
const maxResponse = 4 << 20

// HTTPOptions tunes an HTTPSink; the zero value is fine.
type HTTPOptions struct {
	// Client sends the requests (default: a client of its own; give yours
	// for proxies, TLS settings or instrumentation).
	Client *http.Client
	// Timeout bounds one request, response included (default 30s).
	Timeout time.Duration
	// GzipAbove compresses request bodies larger than this many bytes
	// (default 8 KiB; negative: never).
	GzipAbove int
	// UserAgent is sent as User-Agent (default "sfbridge-emit").
	UserAgent string
}

// HTTPSink posts batches to sfbridge's http source: POST
// {endpoint}/v1/events, one event per line (application/x-ndjson), gzip
// above 8 KiB, "Authorization: Bearer <token>".
//
// It follows the source's contract: a 202 settles the batch, listing the
// events refused for good (rejected) apart from the accepted and
// duplicate ones; a 400 (the body as a whole was refused) sends each event
// alone once, so a bad one is rejected on its own; a 413 splits the batch
// in halves, and rejects an event still too large alone; 401 and 403
// return ErrAuth; 429 and 503 with Retry-After return a *RetryAfterError;
// any other answer, and no answer, is an outage to retry. The token never
// appears in an error.
type HTTPSink struct {
	url       string
	token     string
	client    *http.Client
	timeout   time.Duration
	gzipAbove int
	userAgent string
}

// NewHTTPSink returns a sink posting to endpoint (the base URL of
// sfbridge's http source, "https://events.example.org") with token. An
// empty token sends no Authorization header.
func NewHTTPSink(endpoint, token string, opts HTTPOptions) (*HTTPSink, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("emit: endpoint %q: %w", endpoint, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("emit: endpoint %q: the scheme must be http or https", endpoint)
	case u.Host == "":
		return nil, fmt.Errorf("emit: endpoint %q: no host", endpoint)
	case u.User != nil:
		return nil, errors.New("emit: endpoint: must not hold credentials (pass the token instead)")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("emit: endpoint %q: must not have a query or fragment", endpoint)
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, errors.New("emit: token: contains a line break")
	}
	s := &HTTPSink{
		url:       u.JoinPath("v1", "events").String(),
		token:     token,
		client:    opts.Client,
		timeout:   opts.Timeout,
		gzipAbove: opts.GzipAbove,
		userAgent: opts.UserAgent,
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.timeout <= 0 {
		s.timeout = DefaultHTTPTimeout
	}
	if s.gzipAbove == 0 {
		s.gzipAbove = DefaultGzipAbove
	}
	if s.userAgent == "" {
		s.userAgent = "sfbridge-emit"
	}
	return s, nil
}

// URL returns the URL the sink posts to.
func (s *HTTPSink) URL() string { return s.url }

// Send posts batch (see HTTPSink for how answers are handled).
func (s *HTTPSink) Send(ctx context.Context, batch []Message) (Result, error) {
	var res Result
	n, err := s.send(ctx, batch, 0, &res)
	res.Settled = n
	return res, err
}

// acceptResponse is the body of a 202 (and of a 400, without accepted).
type acceptResponse struct {
	Accepted   int    `json:"accepted"`
	Duplicates int    `json:"duplicates"`
	Error      string `json:"error"`
	Rejected   []struct {
		Index  int    `json:"index"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// send posts batch (at offset in Send's batch), isolating what a 400 or
// 413 refuses, and returns how many events from its start are settled.
func (s *HTTPSink) send(ctx context.Context, batch []Message, offset int, res *Result) (int, error) {
	status, header, body, err := s.post(ctx, batch)
	if err != nil {
		return 0, err
	}
	switch {
	case status >= 200 && status < 300:
		var ar acceptResponse
		_ = json.Unmarshal(body, &ar) // the status alone settles the batch
		res.Duplicates += ar.Duplicates
		for _, r := range ar.Rejected {
			i := r.Index
			if i < 0 || i >= len(batch) || r.ID != "" && batch[i].ID != r.ID {
				i = indexOf(batch, r.ID) // trust the id over a wrong index
			}
			if i >= 0 {
				res.Rejected = append(res.Rejected, Rejection{Index: offset + i, ID: batch[i].ID, Reason: reasonOr(r.Reason, "rejected")})
			}
		}
		return len(batch), nil
	case status == http.StatusRequestEntityTooLarge:
		if len(batch) == 1 {
			res.Rejected = append(res.Rejected, Rejection{Index: offset, ID: batch[0].ID,
				Reason: fmt.Sprintf("too large for the endpoint (HTTP 413) at %d bytes", len(batch[0].JSON))})
			return 1, nil
		}
		return s.halves(ctx, batch, offset, res)
	case status == http.StatusBadRequest:
		if len(batch) == 1 {
			res.Rejected = append(res.Rejected, Rejection{Index: offset, ID: batch[0].ID, Reason: badRequestReason(body)})
			return 1, nil
		}
		// emit writes valid NDJSON, so one event must have upset the
		// server: send each alone once to find it.
		for i := range batch {
			n, err := s.send(ctx, batch[i:i+1], offset+i, res)
			if err != nil {
				return i + n, err
			}
		}
		return len(batch), nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return 0, fmt.Errorf("%w: POST %s: HTTP %d%s", ErrAuth, s.url, status, serverMessage(body))
	}
	err = fmt.Errorf("emit: POST %s: HTTP %d%s", s.url, status, serverMessage(body))
	if status == http.StatusTooManyRequests || status >= 500 {
		if d, ok := retryAfter(header.Get("Retry-After")); ok {
			return 0, &RetryAfterError{After: d, Err: err}
		}
	}
	return 0, err
}

func (s *HTTPSink) halves(ctx context.Context, batch []Message, offset int, res *Result) (int, error) {
	h := len(batch) / 2
	n, err := s.send(ctx, batch[:h], offset, res)
	if err != nil {
		return n, err
	}
	m, err := s.send(ctx, batch[h:], offset+h, res)
	return h + m, err
}

// post sends one request and returns its status, header and (bounded)
// body.
func (s *HTTPSink) post(ctx context.Context, batch []Message) (int, http.Header, []byte, error) {
	size := 0
	for _, m := range batch {
		size += len(m.JSON) + 1
	}
	body := make([]byte, 0, size)
	for _, m := range batch {
		body = append(body, m.JSON...)
		body = append(body, '\n')
	}
	gzipped := false
	if s.gzipAbove > 0 && len(body) > s.gzipAbove {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(body) // writes to a bytes.Buffer do not fail
		zw.Close()
		body, gzipped = buf.Bytes(), true
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("emit: POST %s: %w", s.url, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", s.userAgent)
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("emit: POST %s: %w", s.url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil && resp.StatusCode/100 != 2 {
		return 0, nil, nil, fmt.Errorf("emit: POST %s: HTTP %d, reading the answer: %w", s.url, resp.StatusCode, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse)) // let the connection be reused
	return resp.StatusCode, resp.Header, rb, nil
}

// unwrapURLError drops *url.Error's "Post \"<url>\":" prefix, which the
// caller's message already carries.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func indexOf(batch []Message, id string) int {
	if id == "" {
		return -1
	}
	for i, m := range batch {
		if m.ID == id {
			return i
		}
	}
	return -1
}

func reasonOr(reason, def string) string {
	if reason == "" {
		return def
	}
	return reason
}

// badRequestReason is why a 400 refused a one-event request.
func badRequestReason(body []byte) string {
	var ar acceptResponse
	if json.Unmarshal(body, &ar) == nil {
		if len(ar.Rejected) > 0 && ar.Rejected[0].Reason != "" {
			return ar.Rejected[0].Reason
		}
		if ar.Error != "" {
			return ar.Error
		}
	}
	return "refused by the endpoint (HTTP 400)"
}

// serverMessage renders the error an answer's body carries, if any, for an
// error message: ": <error>", at most 200 bytes.
func serverMessage(body []byte) string {
	var ar acceptResponse
	msg := ""
	if json.Unmarshal(body, &ar) == nil && ar.Error != "" {
		msg = ar.Error
	} else if len(body) > 0 && !json.Valid(body) && isText(body) {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		return ""
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return ": " + msg
}

func isText(b []byte) bool {
	for _, c := range b[:min(len(b), 512)] {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

var _ Sink = (*HTTPSink)(nil)
