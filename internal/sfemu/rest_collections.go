package sfemu

import (
	"fmt"
	"net/http"
	"strings"
)

// Collection limits (fact sheet §4).
const (
	maxCollectionRecords  = 200
	maxCollectionChunks   = 10
	maxCollectionRetrieve = 2000
)

type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// decodeCollection reads {allOrNone, records} and enforces the 200-record
// limit: 400 EXCEEDED_ID_LIMIT (§4.7; the status is unverified).
func (c *Call) decodeCollection() (*collectionBody, bool) {
	var body collectionBody
	if !c.DecodeJSON(&body) {
		return nil, false
	}
	if len(body.Records) > maxCollectionRecords {
		c.Error(http.StatusBadRequest, CodeExceededIDLimit, msgCollectionLimit)
		return nil, false
	}
	return &body, true
}

// attributesType returns a record's attributes.type.
func attributesType(rec map[string]any) string {
	if a, ok := rec["attributes"].(map[string]any); ok {
		t, _ := a["type"].(string)
		return t
	}
	return ""
}

// takeID removes the record's id/Id key and returns its value.
func takeID(rec map[string]any) string {
	for k, v := range rec {
		if strings.EqualFold(k, "id") {
			delete(rec, k)
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// tooManyChunks enforces "max 10 chunks per request" (§4.1): a chunk is a
// run of consecutive records of one type. The 400 body is unverified.
func (c *Call) tooManyChunks(rows []Row) bool {
	chunks, prev := 0, "\x00"
	for _, r := range rows {
		if t := strings.ToLower(r.Type); t != prev {
			chunks++
			prev = t
		}
	}
	if chunks > maxCollectionChunks {
		c.Error(http.StatusBadRequest, CodeExceededMaxTypes,
			"Cannot have more than 10 chunks in a single operation. Please rearrange the data to reduce chunking.")
		return true
	}
	return false
}

// respondResults answers 200 with one SaveResult/UpsertResult per row.
func (c *Call) respondResults(res []Result, upsert bool) {
	out := make([]orderedMap, len(res))
	for i, r := range res {
		out[i] = saveResult(r, upsert)
	}
	c.JSON(http.StatusOK, out)
}

// collectionsCreate answers POST /composite/sobjects (§4.1).
func (e *Emulator) collectionsCreate(c *Call) {
	body, ok := c.decodeCollection()
	if !ok {
		return
	}
	rows := make([]Row, len(body.Records))
	for i, rec := range body.Records {
		rows[i] = Row{Type: attributesType(rec), Fields: rec}
	}
	if c.tooManyChunks(rows) {
		return
	}
	c.runCollection(&DML{Op: OpInsert, AllOrNone: body.AllOrNone, Rows: rows}, false)
}

// collectionsUpdate answers PATCH /composite/sobjects (§4.2): records carry
// attributes.type and id (or Id).
func (e *Emulator) collectionsUpdate(c *Call) {
	body, ok := c.decodeCollection()
	if !ok {
		return
	}
	rows := make([]Row, len(body.Records))
	for i, rec := range body.Records {
		rows[i] = Row{Type: attributesType(rec), ID: takeID(rec), Fields: rec}
	}
	if c.tooManyChunks(rows) {
		return
	}
	c.runCollection(&DML{Op: OpUpdate, AllOrNone: body.AllOrNone, Rows: rows}, false)
}

// collectionsUpsert answers PATCH /composite/sobjects/{SObject}/{ExtField}
// (§4.3). A record without attributes.type is taken to be of the URI's
// type; one of another type fails with INVALID_TYPE (unverified).
func (e *Emulator) collectionsUpsert(c *Call) {
	o, f := c.objectExtField()
	if f == nil {
		return
	}
	body, ok := c.decodeCollection()
	if !ok {
		return
	}
	rows := make([]Row, len(body.Records))
	for i, rec := range body.Records {
		rows[i] = Row{Type: o.Name, Fields: rec}
		if t := attributesType(rec); t != "" && !strings.EqualFold(t, o.Name) {
			rows[i].Err = recErr(CodeInvalidType, fmt.Sprintf("Record type %s does not match the sObject type %s of the request", t, o.Name))
		}
		if f.Type == TypeID {
			rows[i].ID = takeID(rec)
		}
	}
	c.runCollection(&DML{Op: OpUpsert, Object: o.Name, ExtIDField: f.Name, AllOrNone: body.AllOrNone, Rows: rows}, true)
}

// collectionsDelete answers DELETE /composite/sobjects?ids=…[&allOrNone=]
// (§4.4); ids may be of different objects.
func (e *Emulator) collectionsDelete(c *Call) {
	q := c.Req.URL.Query()
	ids := splitList(q.Get("ids"))
	if len(ids) == 0 {
		c.Error(http.StatusBadRequest, CodeMissingArgument, "ids parameter is required")
		return
	}
	if len(ids) > maxCollectionRecords {
		c.Error(http.StatusBadRequest, CodeExceededIDLimit, msgCollectionLimit)
		return
	}
	rows := make([]Row, len(ids))
	for i, id := range ids {
		rows[i] = Row{ID: strings.TrimSpace(id)}
	}
	c.runCollection(&DML{Op: OpDelete, AllOrNone: strings.EqualFold(q.Get("allOrNone"), "true"), Rows: rows}, false)
}

func (c *Call) runCollection(req *DML, upsert bool) {
	req.AllOrNone = req.AllOrNone || c.forceAllOrNone
	var res []Result
	_ = c.write(func(tx *Tx) error {
		res = c.apply(tx, req)
		return nil
	})
	c.respondResults(res, upsert)
}

// collectionsRetrieve answers GET /composite/sobjects/{SObject}?ids=&fields=
// and POST with {"ids":[…],"fields":[…]} (§4.5): records in id order, null
// for ids not found. No fields means all fields; a malformed id is 400
// MALFORMED_ID (both unverified).
func (e *Emulator) collectionsRetrieve(c *Call) {
	o := c.object()
	if o == nil {
		return
	}
	var ids, names []string
	if c.Req.Method == http.MethodPost {
		var body struct {
			IDs    []string `json:"ids"`
			Fields []string `json:"fields"`
		}
		if !c.DecodeJSON(&body) {
			return
		}
		ids, names = body.IDs, body.Fields
	} else {
		q := c.Req.URL.Query()
		ids, names = splitList(q.Get("ids")), splitList(q.Get("fields"))
	}
	if len(ids) > maxCollectionRetrieve {
		c.Error(http.StatusBadRequest, CodeExceededIDLimit, fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", maxCollectionRetrieve))
		return
	}
	fields, ok := c.fieldsParam(o, names)
	if !ok {
		return
	}
	norm := make([]string, len(ids))
	for i, id := range ids {
		n, ok := NormalizeID(strings.TrimSpace(id))
		if !ok {
			c.Error(http.StatusBadRequest, CodeMalformedID, "malformed id "+id)
			return
		}
		norm[i] = n
	}
	out := make([]any, len(norm))
	c.read(func() {
		t := c.e.org.tables[o]
		for i, id := range norm {
			if r := t.recs[id]; r != nil && !r.deleted {
				out[i] = c.recordJSON(r, fields)
				c.Records++
			}
		}
	})
	c.JSON(http.StatusOK, out)
}
