package source

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// TriggerPattern is the admin API route NewTriggerHandler serves: POST,
// with an optional ?table=COLLECTION.
const TriggerPattern = "POST /v1/sources/{source}/trigger"

// TriggerPath returns the URL path that triggers source.
func TriggerPath(source string) string {
	return "/v1/sources/" + url.PathEscape(source) + "/trigger"
}

// TriggerResponse is the JSON body of an accepted trigger (202).
type TriggerResponse struct {
	Source string `json:"source"`
	// Collections are the collections asked to run.
	Collections []string `json:"collections"`
}

// ErrorResponse is the JSON body of every refused request.
type ErrorResponse struct {
	Error string `json:"error"`
}

// NewTriggerHandler serves TriggerPattern for the admin server, which
// mounts it at "/v1/sources/". lookup finds a running source by name (nil,
// false when there is none or it cannot be triggered).
//
// With a token, every request must carry "Authorization: Bearer <token>"
// (compared in constant time) or gets 401 before anything else is looked
// at. An empty token turns this check off: pass "" when the handler is
// mounted behind an authenticating server (web.Options.Mounts wraps every
// mount in the admin token check), the token otherwise.
//
// Answers: 202 with a TriggerResponse; 401; 404 for an unknown source or
// collection; 405 for another method; 503 when the source is not running.
// Errors carry an ErrorResponse.
func NewTriggerHandler(token string, lookup func(name string) (Triggerer, bool)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(TriggerPattern, func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("source")
		src, ok := lookup(name)
		if !ok {
			writeJSON(w, http.StatusNotFound, ErrorResponse{Error: fmt.Sprintf("no source %q can be triggered (postgres_poll, files and s3 sources can; http sources cannot)", name)})
			return
		}
		collections, err := src.Trigger(r.URL.Query().Get("table"))
		switch {
		case errors.Is(err, ErrUnknownCollection):
			writeJSON(w, http.StatusNotFound, ErrorResponse{Error: fmt.Sprintf("source %s: %v", name, err)})
		case errors.Is(err, ErrNotRunning):
			writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{Error: fmt.Sprintf("source %s: %v", name, err)})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, ErrorResponse{Error: fmt.Sprintf("source %s: %v", name, err)})
		default:
			writeJSON(w, http.StatusAccepted, TriggerResponse{Source: name, Collections: collections})
		}
	})
	if token == "" {
		return mux
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		// Hashing first makes the comparison independent of the lengths.
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sfbridge"`)
			writeJSON(w, http.StatusUnauthorized, ErrorResponse{Error: "missing or wrong bearer token (admin.token)"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
