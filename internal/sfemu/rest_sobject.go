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
	var res Result
	_ = c.write(func(tx *Tx) error {
		res = c.apply(tx, &DML{Op: OpInsert, Object: o.Name, Rows: []Row{{Fields: body}}})[0]
		return nil
	})
	if !res.Success {
		c.recordFailure(res)
		return
	}
	c.Header().Set("Location", c.DataPath("/sobjects/"+o.Name+"/"+res.ID))
	c.JSON(http.StatusCreated, saveResult(res, false))
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

// recordID resolves the {id} segment. A value that is not an Id is taken
// for an external-ID lookup and answers 404 "Provided external ID field
// does not exist or is not accessible: <value>" (§3.2).
func (c *Call) recordID() (string, bool) {
	seg := c.Req.PathValue("id")
	id, ok := NormalizeID(seg)
	if !ok {
		c.Error(http.StatusNotFound, CodeNotFound, msgExternalIDFieldNotFound+seg)
	}
	return id, ok
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
	o := c.object()
	if o == nil {
		return
	}
	id, ok := c.recordID()
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
	o := c.object()
	if o == nil {
		return
	}
	id, ok := c.recordID()
	if !ok {
		return
	}
	body, ok := c.decodeRecord()
	if !ok {
		return
	}
	var res *Result
	_ = c.write(func(tx *Tx) error {
		if c.liveRecord(o, id) == nil {
			return nil
		}
		res = &c.apply(tx, &DML{Op: OpUpdate, Object: o.Name, Rows: []Row{{ID: id, Fields: body}}})[0]
		return nil
	})
	switch {
	case res == nil:
	case !res.Success:
		c.recordFailure(*res)
	default:
		c.NoContent()
	}
}

// sobjectDelete answers DELETE /sobjects/{SObject}/{id} (§3.4): 204.
func (e *Emulator) sobjectDelete(c *Call) {
	o := c.object()
	if o == nil {
		return
	}
	id, ok := c.recordID()
	if !ok {
		return
	}
	c.deleteIDs(o, func(*Tx) []string {
		if c.liveRecord(o, id) == nil {
			return nil
		}
		return []string{id}
	})
}

// deleteIDs deletes the record find returns (none: find answered).
func (c *Call) deleteIDs(o *Object, find func(*Tx) []string) {
	var res *Result
	_ = c.write(func(tx *Tx) error {
		ids := find(tx)
		if len(ids) == 0 {
			return nil
		}
		res = &c.apply(tx, &DML{Op: OpDelete, Object: o.Name, Rows: []Row{{ID: ids[0]}}})[0]
		return nil
	})
	switch {
	case res == nil:
	case !res.Success:
		c.recordFailure(*res)
	default:
		c.NoContent()
	}
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
