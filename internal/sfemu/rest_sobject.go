package sfemu

import (
	"fmt"
	"net/http"
	"strings"
)

// userID is the user DML of this call runs as.
func (c *Call) userID() string {
	if c.Session != nil {
		return c.Session.UserID
	}
	return ""
}

// apply runs req inside tx as the caller.
func (c *Call) apply(tx *Tx, req *DML) []Result {
	req.UserID = c.userID()
	c.Records += len(req.Rows)
	return tx.Apply(req)
}

// applyOne runs the one-row DML build returns inside a write, as the
// caller, and returns the row's result; nil when build returned nil
// (having answered).
func (c *Call) applyOne(build func() *DML) *Result {
	var res *Result
	_ = c.write(func(tx *Tx) error {
		if req := build(); req != nil {
			res = &c.apply(tx, req)[0]
		}
		return nil
	})
	return res
}

// noContent answers a single-record update or delete: 204, or the row's
// failure; a nil res has been answered.
func (c *Call) noContent(res *Result) {
	switch {
	case res == nil:
	case !res.Success:
		c.recordFailure(*res)
	default:
		c.NoContent()
	}
}

// created answers 201 with the new record's Location and its result.
func (c *Call) created(o *Object, res Result, upsert bool) {
	c.Header().Set("Location", c.DataPath("/sobjects/"+o.Name+"/"+res.ID))
	c.JSON(http.StatusCreated, saveResult(res, upsert))
}

// recordFailure answers a failed single-record call: the row's errors in
// the REST envelope, 404 for NOT_FOUND and ENTITY_IS_DELETED, else 400.
func (c *Call) recordFailure(res Result) {
	status := http.StatusBadRequest
	errs := make([]APIError, len(res.Errors))
	for i, e := range res.Errors {
		errs[i] = e.API()
		if e.StatusCode == CodeNotFound || e.StatusCode == CodeEntityIsDeleted {
			status = http.StatusNotFound
		}
	}
	c.Errors(status, errs...)
}

// decodeRecord reads a JSON object body.
func (c *Call) decodeRecord() (map[string]any, bool) {
	var body map[string]any
	if !c.DecodeJSON(&body) {
		return nil, false
	}
	if body == nil {
		c.Error(http.StatusBadRequest, CodeJSONParser, "The HTTP entity body is required, but this request has no entity body.")
		return nil, false
	}
	return body, true
}

// sobjectCreate answers POST /sobjects/{SObject} (§3.1): 201 with Location.
func (e *Emulator) sobjectCreate(c *Call) {
	o := c.object()
	if o == nil {
		return
	}
	body, ok := c.decodeRecord()
	if !ok {
		return
	}
	res := c.applyOne(func() *DML {
		return &DML{Op: OpInsert, Object: o.Name, Rows: []Row{{Fields: body}}}
	})
	if !res.Success {
		c.recordFailure(*res)
		return
	}
	c.created(o, *res, false)
}

// sobjectCreateID answers POST /sobjects/{SObject}/Id, a create (v37+);
// POST on a record URL is not allowed.
func (e *Emulator) sobjectCreateID(c *Call) {
	if strings.EqualFold(c.Req.PathValue("id"), "Id") {
		e.sobjectCreate(c)
		return
	}
	c.methodNotAllowed(http.MethodPost, "DELETE,GET,HEAD,PATCH")
}

// objectRecordID resolves the {SObject} and {id} segments; when either
// fails it has answered and ok is false. An {id} that is not an Id is
// taken for an external-ID lookup and answers 404 "Provided external ID
// field does not exist or is not accessible: <value>" (§3.2).
func (c *Call) objectRecordID() (o *Object, id string, ok bool) {
	if o = c.object(); o == nil {
		return nil, "", false
	}
	seg := c.Req.PathValue("id")
	if id, ok = NormalizeID(seg); !ok {
		c.Error(http.StatusNotFound, CodeNotFound, msgExternalIDFieldNotFound+seg)
	}
	return o, id, ok
}

// liveRecord finds a record of o by Id for a single-record call, answering
// 404 NOT_FOUND or 404 ENTITY_IS_DELETED when there is none.
func (c *Call) liveRecord(o *Object, id string) *record {
	var r *record
	if id[:3] == o.KeyPrefix {
		r = c.e.org.tables[o].recs[id]
	}
	switch {
	case r == nil:
		c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		return nil
	case r.deleted:
		c.Error(http.StatusNotFound, CodeEntityIsDeleted, msgEntityDeleted)
		return nil
	}
	return r
}

// fieldsParam resolves ?fields=A,B; nil means all fields.
func (c *Call) fieldsParam(o *Object, names []string) ([]*Field, bool) {
	var out []*Field
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		f := o.Field(n)
		if f == nil {
			c.Error(http.StatusBadRequest, CodeInvalidField, noSuchColumnQuery(n, o.Name))
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// sobjectRead answers GET /sobjects/{SObject}/{id}[?fields=] (§3.2).
func (e *Emulator) sobjectRead(c *Call) {
	o, id, ok := c.objectRecordID()
	if !ok {
		return
	}
	fields, ok := c.fieldsParam(o, splitList(c.Req.URL.Query().Get("fields")))
	if !ok {
		return
	}
	c.read(func() {
		if r := c.liveRecord(o, id); r != nil {
			c.Records = 1
			c.JSON(http.StatusOK, c.recordJSON(r, fields))
		}
	})
}

// sobjectUpdate answers PATCH /sobjects/{SObject}/{id} (§3.3): 204.
func (e *Emulator) sobjectUpdate(c *Call) {
	o, id, ok := c.objectRecordID()
	if !ok {
		return
	}
	body, ok := c.decodeRecord()
	if !ok {
		return
	}
	c.noContent(c.applyOne(func() *DML {
		if c.liveRecord(o, id) == nil {
			return nil
		}
		return &DML{Op: OpUpdate, Object: o.Name, Rows: []Row{{ID: id, Fields: body}}}
	}))
}

// sobjectDelete answers DELETE /sobjects/{SObject}/{id} (§3.4): 204.
func (e *Emulator) sobjectDelete(c *Call) {
	o, id, ok := c.objectRecordID()
	if !ok {
		return
	}
	c.noContent(c.applyOne(func() *DML {
		if c.liveRecord(o, id) == nil {
			return nil
		}
		return deleteOne(o, id)
	}))
}

// deleteOne is the DML deleting record id of o.
func deleteOne(o *Object, id string) *DML {
	return &DML{Op: OpDelete, Object: o.Name, Rows: []Row{{ID: id}}}
}

// multipleChoices answers 300 with the URLs of the matching records (§3.5;
// the element shape is unverified: URL strings as in the doc example).
func (c *Call) multipleChoices(o *Object, ids []string) {
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = c.DataPath("/sobjects/" + o.Name + "/" + id)
	}
	c.JSON(http.StatusMultipleChoices, urls)
}

func noSuchColumnQuery(field, object string) string {
	return fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", field, object)
}
