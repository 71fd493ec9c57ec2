package sfemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Composite limits (fact sheet §5.1).
const (
	maxSubrequests         = 25
	maxCollectionOrQueries = 5
)

type compositeBody struct {
	AllOrNone          bool         `json:"allOrNone"`
	CollateSubrequests bool         `json:"collateSubrequests"`
	CompositeRequest   []subrequest `json:"compositeRequest"`
}

type subrequest struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        any               `json:"body"`
	HTTPHeaders map[string]string `json:"httpHeaders"`
}

var (
	referenceIDRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	subURLRE      = regexp.MustCompile(`^/services/data/v[0-9]+\.0(/sobjects|/query|/queryAll|/composite/sobjects)([/?]|$)`)
	errRollback   = errors.New("composite rolled back")
)

// composite answers POST /composite (§5.1): up to 25 subrequests, one API
// call, references @{ref.path} to earlier results. With allOrNone the
// subrequests share one transaction; when one fails it keeps its own
// response and every other reports 400 PROCESSING_HALTED.
func (e *Emulator) composite(c *Call) {
	var body compositeBody
	if !c.DecodeJSON(&body) {
		return
	}
	if msg := validateComposite(body.CompositeRequest); msg != "" {
		c.Error(http.StatusBadRequest, CodeInvalidInput, msg)
		return
	}
	results := make([]orderedMap, len(body.CompositeRequest))
	run := func(tx *Tx) error {
		outputs := map[string]any{}
		failed := -1
		for i, sr := range body.CompositeRequest {
			if body.AllOrNone && failed >= 0 {
				results[i] = halted(sr.ReferenceID, msgTransactionRolledBack)
				continue
			}
			url, err := substituteText(sr.URL, outputs)
			var reqBody any
			if err == nil {
				reqBody, err = substituteValue(sr.Body, outputs)
			}
			if err != nil {
				results[i] = halted(sr.ReferenceID, err.Error())
				if body.AllOrNone {
					failed = i
				}
				continue
			}
			status, headers, out, raw := c.subrequest(tx, body.AllOrNone, sr.Method, url, reqBody, sr.HTTPHeaders)
			results[i] = orderedMap{{"body", raw}, {"httpHeaders", headers}, {"httpStatusCode", status}, {"referenceId", sr.ReferenceID}}
			ok := status < 400 && !(body.AllOrNone && hasFailedRecord(out))
			if ok {
				outputs[sr.ReferenceID] = out
			} else if body.AllOrNone {
				failed = i
			}
		}
		if failed >= 0 {
			for i := range results {
				if i != failed {
					results[i] = halted(body.CompositeRequest[i].ReferenceID, msgTransactionRolledBack)
				}
			}
			return errRollback
		}
		return nil
	}
	if body.AllOrNone {
		_ = c.write(run)
	} else {
		_ = run(nil)
	}
	c.JSON(http.StatusOK, orderedMap{{"compositeResponse", results}})
}

func validateComposite(reqs []subrequest) string {
	if len(reqs) == 0 {
		return "compositeRequest must contain at least one subrequest"
	}
	if len(reqs) > maxSubrequests {
		return fmt.Sprintf("The composite request can contain up to %d subrequests; this one has %d", maxSubrequests, len(reqs))
	}
	seen := map[string]bool{}
	heavy := 0
	for i, sr := range reqs {
		switch {
		case !referenceIDRE.MatchString(sr.ReferenceID):
			return fmt.Sprintf("compositeRequest[%d]: invalid referenceId %q: use only letters, digits and underscores", i, sr.ReferenceID)
		case seen[sr.ReferenceID]:
			return fmt.Sprintf("compositeRequest[%d]: duplicate referenceId %q", i, sr.ReferenceID)
		case !subURLRE.MatchString(sr.URL):
			return fmt.Sprintf("compositeRequest[%d]: url %q is not an sObject, query or sObject Collections resource", i, sr.URL)
		}
		switch strings.ToUpper(sr.Method) {
		case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		default:
			return fmt.Sprintf("compositeRequest[%d]: unsupported method %q", i, sr.Method)
		}
		seen[sr.ReferenceID] = true
		if m := subURLRE.FindStringSubmatch(sr.URL); m[1] != "/sobjects" {
			heavy++
		}
	}
	if heavy > maxCollectionOrQueries {
		return fmt.Sprintf("The composite request can contain up to %d sObject Collections or query subrequests; this one has %d", maxCollectionOrQueries, heavy)
	}
	return ""
}

func halted(ref, msg string) orderedMap {
	return orderedMap{
		{"body", []APIError{{Message: msg, ErrorCode: CodeProcessingHalted}}},
		{"httpHeaders", map[string]string{}}, {"httpStatusCode", http.StatusBadRequest}, {"referenceId", ref},
	}
}

// hasFailedRecord reports whether a Collections response holds a failed
// record: under an outer allOrNone that fails the whole composite.
func hasFailedRecord(out any) bool {
	list, ok := out.([]any)
	if !ok {
		return false
	}
	for _, item := range list {
		if m, ok := item.(map[string]any); ok && m["success"] == false {
			return true
		}
	}
	return false
}

// subrequest serves one subrequest through the mux, inside the parent's
// session and transaction, and returns its status, headers, decoded body
// (for references) and the body as sent (to keep its member order).
func (c *Call) subrequest(tx *Tx, allOrNone bool, method, url string, body any, hdrs map[string]string) (int, map[string]string, any, any) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	parent := &Call{Session: c.Session, tx: tx, e: c.e, forceAllOrNone: allOrNone}
	r, err := http.NewRequestWithContext(context.WithValue(c.Req.Context(), parentKey{}, parent), strings.ToUpper(method), url, rd)
	if err != nil {
		e := []APIError{{Message: err.Error(), ErrorCode: CodeInvalidInput}}
		return http.StatusBadRequest, map[string]string{}, e, e
	}
	r.Host = c.Req.Host
	r.TLS = c.Req.TLS
	for k, v := range hdrs {
		switch strings.ToLower(k) {
		case "accept", "authorization", "content-type":
		default:
			r.Header.Set(k, v)
		}
	}
	r.Header.Set("Content-Type", "application/json")
	rec := &recorder{header: http.Header{}}
	c.e.mux.ServeHTTP(rec, normalizeRequest(r)) // not ServeHTTP: no second pass through front-door faults
	headers := map[string]string{}
	if loc := rec.header.Get("Location"); loc != "" {
		headers["Location"] = loc
	}
	c.Records += parent.Records
	raw := rec.body.Bytes()
	if len(raw) == 0 {
		return rec.status, headers, nil, nil
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&out) != nil {
		return rec.status, headers, string(raw), string(raw)
	}
	return rec.status, headers, out, json.RawMessage(raw)
}

// recorder is the ResponseWriter of a subrequest.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
