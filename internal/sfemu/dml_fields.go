package sfemu

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// input is one field value of a row before validation.
type input struct {
	f        *Field
	v        any  // raw value, or the resolved parent Id when resolved
	resolved bool // set from a relationship reference: v is a live Id
}

// parseFields maps the row's keys to fields (unknown keys, then Id, are
// rejected) and resolves relationship references by external ID (§7.1).
// Keys are processed in sorted order so errors are deterministic.
func (tx *Tx) parseFields(obj *Object, fields map[string]any) ([]input, *RecordError) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !strings.EqualFold(k, "attributes") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if obj.Field(k) == nil && obj.Relationship(k) == nil {
			return nil, errNoSuchColumn(k, obj.Name)
		}
	}
	ins := make([]input, 0, len(keys))
	var refs []string
	for _, k := range keys {
		f := obj.Field(k)
		if f == nil {
			refs = append(refs, k)
			continue
		}
		if f.Type == TypeID {
			return nil, errFieldSpecified("Id")
		}
		ins = append(ins, input{f: f, v: fields[k]})
	}
	for _, k := range refs {
		rf := obj.Relationship(k)
		for _, in := range ins {
			if in.f == rf {
				return nil, recErr(CodeInvalidField, fmt.Sprintf(
					"Cannot specify both an external ID reference %s and a salesforce id, %s", rf.RelationshipName, rf.Name))
			}
		}
		id, err := tx.resolveRef(rf, fields[k])
		if err != nil {
			return nil, err
		}
		if id == "" {
			ins = append(ins, input{f: rf, v: nil})
		} else {
			ins = append(ins, input{f: rf, v: id, resolved: true})
		}
	}
	return ins, nil
}

// resolveRef finds the parent named by a relationship reference such as
// {"Org_Id__c": "A-1"} or {"attributes": {"type": "Lead"}, "Email": "x@y.z"}.
// null clears the lookup (returns "").
func (tx *Tx) resolveRef(rf *Field, v any) (string, *RecordError) {
	if v == nil {
		return "", nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", recErr(CodeInvalidTypeOnField, fmt.Sprintf("%s: value not of required type: %s", rf.RelationshipName, display(v)), rf.Name)
	}
	typ := ""
	if a, ok := m["attributes"].(map[string]any); ok {
		typ, _ = a["type"].(string)
	}
	var fname string
	var fval any
	n := 0
	for k, x := range m {
		if strings.EqualFold(k, "attributes") {
			continue
		}
		fname, fval = k, x
		n++
	}
	if n != 1 {
		return "", recErr(CodeInvalidField, fmt.Sprintf(
			"Relationship %s must name exactly one external ID field of the parent, got %d", rf.RelationshipName, n))
	}
	var target *Object
	if typ != "" {
		for _, t := range rf.ReferenceTo {
			if strings.EqualFold(t, typ) {
				target = tx.org.schema.Object(t)
			}
		}
		if target == nil {
			return "", recErr(CodeInvalidField, fmt.Sprintf("Cannot specify the type %s for relationship %s", typ, rf.RelationshipName))
		}
	} else {
		var candidates []*Object
		for _, t := range rf.ReferenceTo {
			if o := tx.org.schema.Object(t); o.Field(fname) != nil {
				candidates = append(candidates, o)
			}
		}
		switch len(candidates) {
		case 0:
			return "", errNoSuchColumn(fname, rf.ReferenceTo[0])
		case 1:
			target = candidates[0]
		default:
			return "", recErr(CodeInvalidField, fmt.Sprintf(
				"The polymorphic relationship %s needs attributes.type to resolve %s", rf.RelationshipName, fname))
		}
	}
	tf := target.Field(fname)
	if tf == nil {
		return "", errNoSuchColumn(fname, target.Name)
	}
	if !tf.ExternalID && !tf.IDLookup {
		return "", recErr(CodeInvalidField, fmt.Sprintf(
			"Field %s on %s is not an external ID or idLookup field", tf.Name, target.Name))
	}
	key, err := coerce(tf, fval)
	if err != nil || key == nil {
		return "", errForeignKeyNotFound(display(fval), tf.Name, target.Name)
	}
	t := tx.org.tables[target]
	var ids []string
	if tf.Type == TypeID {
		if r := t.recs[key.(string)]; r != nil && !r.deleted {
			ids = []string{r.id}
		}
	} else {
		ids = t.lookup(tf, indexKey(tf, key))
	}
	switch len(ids) {
	case 0:
		return "", errForeignKeyNotFound(display(fval), tf.Name, target.Name)
	case 1:
		return ids[0], nil
	}
	return "", errMultipleMatches(ids)
}

// matchUpsert finds the record an upsert row updates: none (insert), one,
// or several (DUPLICATE_EXTERNAL_ID, unverified message). key is the value
// as sent.
func (tx *Tx) matchUpsert(obj *Object, ext string, row *Row, ins []input) (*record, string, *Result) {
	kf := obj.ExternalIDField(ext)
	if kf == nil {
		r := failed(recErr(CodeNotFound, msgExternalIDFieldNotFound+ext))
		return nil, "", &r
	}
	if kf.Type == TypeID {
		if row.ID == "" {
			return nil, "", nil
		}
		r, err := tx.findLive(obj, row.ID)
		if err != nil {
			res := failed(err)
			return nil, "", &res
		}
		return r, row.ID, nil
	}
	var raw any
	found := false
	for _, in := range ins {
		if in.f == kf {
			raw, found = in.v, true
		}
	}
	key, err := coerce(kf, raw)
	if err != nil {
		r := failed(err)
		return nil, "", &r
	}
	if !found || key == nil {
		r := failed(recErr(CodeMissingArgument, kf.Name+" not specified", kf.Name))
		return nil, "", &r
	}
	ids := tx.org.tables[obj].lookup(kf, indexKey(kf, key))
	switch len(ids) {
	case 0:
		return nil, toText(raw), nil
	case 1:
		return tx.org.tables[obj].recs[ids[0]], toText(raw), nil
	}
	r := failed(errMultipleMatches(ids))
	r.Matches = append([]string(nil), ids...)
	return nil, "", &r
}

// validate runs the checks of fact sheet §13.2 in order: required fields,
// createable/updateable, type coercion (and lookup targets), length. It
// returns the stored values to write, by canonical field name (nil = null).
func (tx *Tx) validate(obj *Object, op Op, ins []input) (map[string]any, *RecordError) {
	var missing []string
	if op == OpInsert {
		for _, f := range obj.required {
			given := false
			for _, in := range ins {
				if in.f == f {
					given = !isBlank(in.v)
				}
			}
			if !given {
				missing = append(missing, f.Name)
			}
		}
	} else {
		for _, in := range ins {
			if !in.f.Nillable && in.f.Type != TypeBoolean && isBlank(in.v) {
				missing = append(missing, in.f.Name)
			}
		}
	}
	if len(missing) > 0 {
		return nil, errRequiredMissing(missing)
	}
	var readOnly []string
	for _, in := range ins {
		if (op == OpInsert && !in.f.Createable) || (op == OpUpdate && !in.f.Updateable) {
			readOnly = append(readOnly, in.f.Name)
		}
	}
	if len(readOnly) > 0 {
		return nil, errNotWritable(readOnly)
	}
	vals := make(map[string]any, len(ins))
	for _, in := range ins {
		if in.resolved {
			vals[in.f.Name] = in.v
			continue
		}
		v, err := coerce(in.f, in.v)
		if err != nil {
			return nil, err
		}
		if v == nil && in.f.Type == TypeBoolean {
			v = false
		}
		if id, ok := v.(string); ok && in.f.Type == TypeReference {
			if err := tx.checkReference(in.f, id); err != nil {
				return nil, err
			}
		}
		vals[in.f.Name] = v
	}
	for _, in := range ins {
		if s, ok := vals[in.f.Name].(string); ok && in.f.Type.textual() && in.f.Length > 0 && utf8.RuneCountInString(s) > in.f.Length {
			return nil, errTooLong(in.f, s)
		}
	}
	return vals, nil
}

// checkReference verifies a lookup Id points at a live record of one of
// the field's target objects.
func (tx *Tx) checkReference(f *Field, id string) *RecordError {
	obj := tx.org.schema.ObjectByPrefix(id)
	ok := false
	for _, t := range f.ReferenceTo {
		if obj != nil && obj.Name == t {
			ok = true
		}
	}
	if !ok {
		return errIDOfWrongType(CodeFieldIntegrity, f, id)
	}
	if r := tx.org.tables[obj].recs[id]; r == nil || r.deleted {
		return recErr(CodeInvalidCrossReference, msgInvalidCrossReference)
	}
	return nil
}

func isBlank(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}
