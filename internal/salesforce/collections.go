package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Result is the outcome for one record, in the caller's order.
type Result struct {
	// ID is the Salesforce record Id, when known.
	ID string
	// Created is true when an upsert inserted the record.
	Created bool
	// Err is nil on success. A *RecordError (errors.As) means Salesforce (or
	// this package, CodeInvalidRow) judged this record; any other error is
	// request-level (network, 5xx, limits, auth) and not the record's fault.
	// Either way it carries its failure kind; see Classify.
	Err error
}

// OK reports whether the record was written.
func (r Result) OK() bool { return r.Err == nil }

// IsRecordError reports whether err is a verdict on one record rather than
// a request-level failure.
func IsRecordError(err error) bool {
	var re *RecordError
	return errors.As(err, &re)
}

// saveResult is one item of a Collections response (SaveResult,
// UpsertResult, DeleteResult).
type saveResult struct {
	ID      string      `json:"id"`
	Success bool        `json:"success"`
	Created bool        `json:"created"`
	Errors  []errorItem `json:"errors"`
}

func (s saveResult) result() Result {
	if s.Success {
		return Result{ID: s.ID, Created: s.Created}
	}
	if len(s.Errors) == 0 {
		return Result{ID: s.ID, Err: classified(&RecordError{Code: "UNKNOWN", Message: "success is false and no error was given"}, Verdict{Class: ClassRetry})}
	}
	return Result{ID: s.ID, Err: recordError(s.Errors)}
}

// recordError turns a record's error list into one classified error: the
// most severe of them, the others kept in its message.
func recordError(items []errorItem) error {
	best, bestV := 0, classifyCode(0, items[0].code(), items[0].Message)
	for i := 1; i < len(items); i++ {
		if v := classifyCode(0, items[i].code(), items[i].Message); v.Kind() > bestV.Kind() {
			best, bestV = i, v
		}
	}
	it := items[best]
	re := &RecordError{Code: it.code(), Message: it.Message, Fields: it.Fields}
	for i, other := range items {
		if i != best {
			re.Message += "; also " + (&RecordError{Code: other.code(), Message: other.Message, Fields: other.Fields}).Error()
		}
	}
	return classified(re, bestV)
}

// collectionRequest is the body of a Collections create/update/upsert.
type collectionRequest struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// UpsertCollection upserts up to 200 rows of object by extField in one API
// call (PATCH /composite/sobjects/{object}/{extField}, allOrNone=false). It
// returns one Result per row; rows that cannot be sent get a CodeInvalidRow
// error and the others still go. The error is request-level: when it is not
// nil no row was written and the results are nil. Keys must be unique in one
// call (Salesforce fails every row sharing a key); Sink.Write takes care of
// that.
func (c *Client) UpsertCollection(ctx context.Context, object, extField string, rows []map[string]any) ([]Result, error) {
	if err := errors.Join(checkName("object", object), checkName("external ID field", extField)); err != nil {
		return nil, err
	}
	if len(rows) > CollectionLimit {
		return nil, classified(fmt.Errorf("salesforce: upsert %s: %d rows, at most %d per call", object, len(rows), CollectionLimit), Verdict{Class: ClassPermanent})
	}
	ps := make([]*prepared, len(rows))
	for i, row := range rows {
		p := prepareRow(i, row, extField)
		ps[i] = &p
	}
	out := make([]Result, len(rows))
	if err := c.upsertPrepared(ctx, object, extField, ps, out); err != nil {
		return nil, err
	}
	return out, nil
}

// upsertPrepared sends the valid rows of ps in one call and writes each
// row's result to out[p.index]; invalid rows get their error.
func (c *Client) upsertPrepared(ctx context.Context, object, extField string, ps []*prepared, out []Result) error {
	var sent []*prepared
	body := collectionRequest{Records: make([]map[string]any, 0, len(ps))}
	for _, p := range ps {
		if p.err != nil {
			out[p.index] = Result{Err: p.err}
			continue
		}
		sent = append(sent, p)
		body.Records = append(body.Records, p.jsonRecord(object))
	}
	if len(sent) == 0 {
		return nil
	}
	r := request{method: http.MethodPatch, path: "/composite/sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(extField)}
	return c.collectionCall(ctx, r, body, sent, out)
}

// collectionCall sends one Collections request and maps its in-order
// results onto sent.
func (c *Client) collectionCall(ctx context.Context, r request, body any, sent []*prepared, out []Result) error {
	var results []saveResult
	if err := c.doJSON(ctx, r, body, &results); err != nil {
		return err
	}
	if len(results) != len(sent) {
		return fmt.Errorf("salesforce: %s: %d results for %d records", r, len(results), len(sent))
	}
	for i, p := range sent {
		out[p.index] = results[i].result()
	}
	return nil
}

// UpdateCollection updates up to 200 rows of object by Id in one call
// (PATCH /composite/sobjects, allOrNone=false). Every row must carry Id.
func (c *Client) UpdateCollection(ctx context.Context, object string, rows []map[string]any) ([]Result, error) {
	if err := checkName("object", object); err != nil {
		return nil, err
	}
	if len(rows) > CollectionLimit {
		return nil, classified(fmt.Errorf("salesforce: update %s: %d rows, at most %d per call", object, len(rows), CollectionLimit), Verdict{Class: ClassPermanent})
	}
	out := make([]Result, len(rows))
	var sent []*prepared
	body := collectionRequest{}
	for i, row := range rows {
		p := prepareRow(i, row, "")
		if p.err == nil {
			if id, ok := p.cells["id"]; !ok || id.kind != cellString || id.text == "" {
				p.err = invalidRow("an update needs the record's Id")
			}
		}
		if p.err != nil {
			out[i] = Result{Err: p.err}
			continue
		}
		sent = append(sent, &p)
		body.Records = append(body.Records, p.jsonRecord(object))
	}
	if len(sent) == 0 {
		return out, nil
	}
	if err := c.collectionCall(ctx, request{method: http.MethodPatch, path: "/composite/sobjects"}, body, sent, out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteCollection deletes up to 200 records by Id in one call (DELETE
// /composite/sobjects?ids=…, allOrNone=false).
func (c *Client) DeleteCollection(ctx context.Context, ids []string) ([]Result, error) {
	if len(ids) > CollectionLimit {
		return nil, classified(fmt.Errorf("salesforce: delete: %d ids, at most %d per call", len(ids), CollectionLimit), Verdict{Class: ClassPermanent})
	}
	out := make([]Result, len(ids))
	var sent []*prepared
	var valid []string
	for i, id := range ids {
		if !idRE.MatchString(id) {
			out[i] = Result{Err: invalidRow("%q is not a Salesforce Id", id)}
			continue
		}
		sent = append(sent, &prepared{index: i})
		valid = append(valid, id)
	}
	if len(sent) == 0 {
		return out, nil
	}
	r := request{method: http.MethodDelete, path: "/composite/sobjects", query: url.Values{"ids": {strings.Join(valid, ",")}, "allOrNone": {"false"}}}
	if err := c.collectionCall(ctx, r, nil, sent, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpsertOne upserts one row by extField with its own API call (PATCH
// /sobjects/{object}/{extField}/{value}). Prefer Sink.Write or
// UpsertCollection: this costs one API call per record. A record-level
// failure comes back as the error (an *APIError with Salesforce's code).
func (c *Client) UpsertOne(ctx context.Context, object, extField string, row map[string]any) (Result, error) {
	if err := errors.Join(checkName("object", object), checkName("external ID field", extField)); err != nil {
		return Result{}, err
	}
	p := prepareRow(0, row, extField)
	if p.err != nil {
		return Result{}, p.err
	}
	rec := p.jsonRecord(object)
	delete(rec, "attributes")
	for k := range rec {
		if strings.EqualFold(k, extField) {
			delete(rec, k) // the key travels in the path; in the body it is an error
		}
	}
	r := request{method: http.MethodPatch, path: "/sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(extField) + "/" + url.PathEscape(p.key.text)}
	var res saveResult
	if err := c.doJSON(ctx, r, rec, &res); err != nil {
		return Result{}, err
	}
	if !res.Success && len(res.Errors) == 0 {
		res.Success = true // API ≤ 45.0 answers 204 with no body
	}
	return res.result(), nil
}
