package sfemu

import (
	"fmt"
	"strings"
)

// Op is a DML operation.
type Op string

// DML operations. An upsert inserts or updates depending on whether its
// key matches; it is counted as the operation it became.
const (
	OpInsert Op = "insert"
	OpUpdate Op = "update"
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
)

// DML is one request to the pipeline: rows of one operation.
type DML struct {
	Op Op
	// Object is the type of rows whose Row.Type is empty.
	Object string
	// ExtIDField is the upsert key: an externalId field, or "Id" to upsert
	// by Row.ID (insert when empty).
	ExtIDField string
	// AllOrNone rolls every row back when one fails (fact sheet §4.6).
	AllOrNone bool
	// UserID owns inserted records and is recorded as their creator; empty
	// means the org's default user.
	UserID string
	Rows   []Row
}

// Row is one record's input.
type Row struct {
	// Type is this row's object (Collections carry attributes.type per
	// record); empty means DML.Object, or for deletes the Id's prefix.
	Type string
	// ID names the record to update or delete (15 or 18 characters).
	ID string
	// Fields maps field or relationship names, in any case, to values:
	// decoded JSON (string, json.Number, bool, nil, or for a relationship
	// map[string]any{"Ext__c": "A-1"}) or CSV text. An "attributes" key is
	// ignored. An Id key is rejected: pass it in ID.
	Fields map[string]any
	// Err, when set, fails the row with this error without processing it
	// (an input problem the caller found, e.g. a bad CSV row); the row
	// still counts for AllOrNone.
	Err *RecordError
}

// Result is the outcome of one row, in request order.
type Result struct {
	ID      string // set on success, and on failure when the record existed
	Success bool
	Created bool // the row inserted a record
	Errors  []RecordError
	// Matches lists the records an upsert key matched when there were
	// several (DUPLICATE_EXTERNAL_ID); the single-record API answers 300.
	Matches []string
	existed bool
}

// RecordInfo describes the row a RecordHook is asked about.
type RecordInfo struct {
	Object string
	Op     Op     // insert, update or delete (an upsert is one of the first two)
	ID     string // the record's Id; empty for an insert
	Key    string // the upsert key value as sent, else the Id
	Fields map[string]any
}

// RecordHook may fail a row after validation and before it is written.
type RecordHook func(RecordInfo) *RecordError

func failed(e *RecordError) Result { return Result{Errors: []RecordError{*e}} }

// Apply runs req through the pipeline inside tx and returns one Result per
// row in order. Rows are processed in order and see the writes of earlier
// rows. With AllOrNone, if any row fails, every write of this request is
// rolled back and the rows that had succeeded report
// ALL_OR_NONE_OPERATION_ROLLED_BACK (keeping their id only when the record
// existed before: unverified for inserts, see docs/emulator.md).
func (tx *Tx) Apply(req *DML) []Result {
	mark := len(tx.undo)
	res := make([]Result, len(req.Rows))
	dups := tx.duplicateKeys(req)
	anyFailed := false
	for i := range req.Rows {
		if e := req.Rows[i].Err; e != nil {
			res[i] = failed(e)
		} else if v, dup := dups[i]; dup {
			res[i] = failed(errDuplicateInRequest(v))
		} else {
			res[i] = tx.applyRow(req, &req.Rows[i])
		}
		anyFailed = anyFailed || !res[i].Success
	}
	if req.AllOrNone && anyFailed {
		tx.rollbackTo(mark)
		for i := range res {
			if res[i].Success {
				r := failed(errRolledBack())
				if res[i].existed {
					r.ID = res[i].ID
				}
				res[i] = r
			}
		}
	}
	return res
}

// duplicateKeys finds upsert rows sharing a key value within the request:
// each of them fails with DUPLICATE_VALUE "Duplicate external id specified"
// (fact sheet §4.3; the exact code is unverified).
func (tx *Tx) duplicateKeys(req *DML) map[int]string {
	if req.Op != OpUpsert || strings.EqualFold(req.ExtIDField, "Id") || len(req.Rows) < 2 {
		return nil
	}
	groups := map[string][]int{}
	shown := map[int]string{}
	for i, row := range req.Rows {
		if row.Err != nil {
			continue
		}
		obj := tx.org.schema.Object(rowType(req, &row))
		if obj == nil {
			continue
		}
		f := obj.ExternalIDField(req.ExtIDField)
		if f == nil {
			continue
		}
		raw, ok := fieldValue(row.Fields, f.Name)
		if !ok {
			continue
		}
		v, err := coerce(f, raw)
		if err != nil || v == nil {
			continue
		}
		k := obj.Name + "\x00" + indexKey(f, v)
		groups[k] = append(groups[k], i)
		shown[i] = toText(raw)
	}
	out := map[int]string{}
	for _, idx := range groups {
		if len(idx) > 1 {
			for _, i := range idx {
				out[i] = shown[i]
			}
		}
	}
	return out
}

func rowType(req *DML, row *Row) string {
	if row.Type != "" {
		return row.Type
	}
	return req.Object
}

// fieldValue finds a field's value in an input map, case-insensitively.
func fieldValue(fields map[string]any, name string) (any, bool) {
	if v, ok := fields[name]; ok {
		return v, true
	}
	for k, v := range fields {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func (tx *Tx) applyRow(req *DML, row *Row) Result {
	if req.Op == OpDelete {
		return tx.deleteRow(req, row)
	}
	typ := rowType(req, row)
	obj := tx.org.schema.Object(typ)
	if obj == nil {
		if typ == "" {
			return failed(recErr(CodeInvalidType, "Must send a concrete entity type."))
		}
		return failed(recErr(CodeInvalidType, fmt.Sprintf("sObject type '%s' is not supported.", typ)))
	}
	var target *record
	var key string
	op := req.Op
	switch op {
	case OpInsert:
		if !obj.Createable {
			return failed(recErr(CodeInvalidType, "entity type cannot be inserted: "+obj.Name))
		}
	case OpUpdate:
		r, err := tx.findLive(obj, row.ID)
		if err != nil {
			return failed(err)
		}
		target = r
	case OpUpsert:
	default:
		return failed(recErr(CodeInvalidInput, fmt.Sprintf("unknown operation %q", op)))
	}
	ins, err := tx.parseFields(obj, row.Fields)
	if err != nil {
		return failed(err)
	}
	if op == OpUpsert {
		r, k, res := tx.matchUpsert(obj, req.ExtIDField, row, ins)
		if res != nil {
			return *res
		}
		target, key = r, k
		op = OpInsert
		if target != nil {
			op = OpUpdate
		}
		if op == OpInsert && !obj.Createable {
			return failed(recErr(CodeInvalidType, "entity type cannot be inserted: "+obj.Name))
		}
	}
	if op == OpUpdate && !obj.Updateable {
		return failed(recErr(CodeInvalidType, "entity type cannot be updated: "+obj.Name))
	}
	vals, err := tx.validate(obj, op, ins)
	if err != nil {
		return failed(err)
	}
	if key == "" && target != nil {
		key = target.id
	}
	return tx.write(req, obj, op, target, key, vals)
}

// findLive returns the live record of obj with Id id, or the update error
// for a missing, malformed, foreign or deleted Id.
func (tx *Tx) findLive(obj *Object, id string) (*record, *RecordError) {
	if id == "" {
		return nil, recErr(CodeMissingArgument, msgNoIDInUpdate)
	}
	nid, ok := NormalizeID(id)
	if !ok {
		return nil, errMalformedID(id)
	}
	if nid[:3] != obj.KeyPrefix {
		return nil, recErr(CodeMalformedID, fmt.Sprintf("%s ID: id value of incorrect type: %s", obj.Label, id))
	}
	r := tx.org.tables[obj].recs[nid]
	if r == nil {
		return nil, recErr(CodeInvalidCrossReference, msgInvalidCrossReference)
	}
	if r.deleted {
		return nil, recErr(CodeEntityIsDeleted, msgEntityDeleted)
	}
	return r, nil
}

func (tx *Tx) deleteRow(req *DML, row *Row) Result {
	id, ok := NormalizeID(row.ID)
	if !ok {
		return failed(errMalformedID(row.ID))
	}
	obj := tx.org.schema.ObjectByPrefix(id)
	if want := rowType(req, row); want != "" && (obj == nil || !strings.EqualFold(obj.Name, want)) {
		return failed(errMalformedID(row.ID))
	}
	if obj == nil {
		return failed(recErr(CodeEntityIsDeleted, msgEntityDeleted))
	}
	r := tx.org.tables[obj].recs[id]
	if r == nil || r.deleted {
		return failed(recErr(CodeEntityIsDeleted, msgEntityDeleted))
	}
	if !obj.Deletable {
		return failed(recErr(CodeInsufficientAccess, "insufficient access rights on object id"))
	}
	if h := tx.org.hook; h != nil {
		if e := h(RecordInfo{Object: obj.Name, Op: OpDelete, ID: id, Key: id}); e != nil {
			return Result{Errors: []RecordError{*e}, existed: true}
		}
	}
	vals := copyVals(r.vals)
	now := formatDatetime(tx.org.now())
	vals["IsDeleted"], vals["LastModifiedDate"], vals["SystemModstamp"] = true, now, now
	tx.delete(r, vals)
	return Result{ID: id, Success: true, existed: true}
}

func copyVals(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}
