package httpsrc

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/sfbridge/sfbridge/internal/event"
)

// Response is the body of a 202: the request's events are settled.
type Response struct {
	// Accepted counts the events queued (the broker confirmed them).
	Accepted int `json:"accepted"`
	// Duplicates counts the events that repeated an earlier event of the
	// request (same type, id and time), queued once.
	Duplicates int `json:"duplicates"`
	// Rejected lists the events refused, in request order; never null.
	Rejected []Rejection `json:"rejected"`
}

// Rejection is one event refused for good: resending it unchanged is
// refused again. It is not dead-lettered; the client owns it.
type Rejection struct {
	// Index is the event's 0-based position in the request (array element,
	// or NDJSON line not counting blank lines).
	Index int `json:"index"`
	// ID is the event's id, when it could be read.
	ID string `json:"id,omitempty"`
	// Reason says what is wrong with the event.
	Reason string `json:"reason"`
}

// ErrorResponse is the body of every other answer. A 400 also carries an
// empty Rejected: the request was refused as a whole, nothing was queued.
type ErrorResponse struct {
	// Error says what is wrong; a 400's names the byte offset where it
	// can.
	Error string `json:"error"`
	// Rejected is [] in a 400 and absent otherwise.
	Rejected *[]Rejection `json:"rejected,omitempty"`
}

// authorize checks "Authorization: Bearer <token>" in constant time: the
// digests are compared, so neither the token's bytes nor its length show
// in the timing. Errors never quote what was sent.
func (s *Source) authorize(values []string) error {
	if len(values) == 0 {
		return errors.New("unauthorized: no Authorization header; send Authorization: Bearer <token>")
	}
	if len(values) > 1 {
		return errors.New("unauthorized: more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return errors.New("unauthorized: the Authorization header must use the Bearer scheme (Authorization: Bearer <token>)")
	}
	if token = strings.TrimLeft(token, " "); token == "" {
		return errors.New("unauthorized: the bearer token is empty")
	}
	sum := digest(token)
	if subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) != 1 {
		return errors.New("unauthorized: the bearer token is not valid")
	}
	return nil
}

func digest(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// contentFormat maps a Content-Type to the Reader's format.
func contentFormat(contentType string) (event.Format, error) {
	const want = "send application/json (one event or an array), application/x-ndjson or application/jsonl (one event per line)"
	if contentType == "" {
		return "", errors.New("no Content-Type: " + want)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("Content-Type %q: %v; %s", contentType, err, want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return "", fmt.Errorf("Content-Type %q: charset %q is not supported, events are UTF-8", contentType, cs)
	}
	switch mt {
	case "application/json":
		return event.JSON, nil
	case "application/x-ndjson", "application/jsonl":
		return event.NDJSON, nil
	}
	return "", fmt.Errorf("Content-Type %q is not supported: %s", mt, want)
}

// contentEncoding tells whether the body is gzip: "gzip" (or "x-gzip"),
// nothing or "identity".
func contentEncoding(values []string) (bool, error) {
	var codings []string
	for _, v := range values {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return false, nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		return true, nil
	}
	return false, fmt.Errorf("Content-Encoding %q is not supported: send gzip, or no Content-Encoding", strings.Join(codings, ", "))
}

// writeJSON writes body as the JSON answer.
func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil { // the answer types always marshal
		status, data = http.StatusInternalServerError, []byte(`{"error":"internal error: encoding the answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// serveHealth answers GET /healthz: 200 "ok", no authentication.
func serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: GET /healthz", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok\n")
}

// serveNotFound answers every other path.
func (s *Source) serveNotFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", newRequestID())
	s.requests.Add(1)
	s.clientErrs.Add(1)
	writeJSON(w, http.StatusNotFound, ErrorResponse{Error: fmt.Sprintf("no such endpoint %s: send POST /v1/events (GET /healthz for health)", r.URL.Path)})
}

// newRequestID returns 24 random hex digits.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// clientIP is the connection's peer address without the port. Proxy
// headers (X-Forwarded-For) are not trusted: any client could forge them.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
