package sfemu

import "fmt"

// write applies validated values: the record hook, uniqueness, then the
// insert or update itself.
func (tx *Tx) write(req *DML, obj *Object, op Op, target *record, key string, set map[string]any) Result {
	if h := tx.org.hook; h != nil {
		info := RecordInfo{Object: obj.Name, Op: op, Key: key, Fields: set}
		if target != nil {
			info.ID = target.id
		}
		if e := h(info); e != nil {
			return Result{Errors: []RecordError{*e}, existed: target != nil}
		}
	}
	now := formatDatetime(tx.org.now())
	var vals map[string]any
	if op == OpInsert {
		id := tx.org.NewID(obj.KeyPrefix)
		vals = tx.systemValues(obj, req.UserID, now)
		vals["Id"] = id
		for _, f := range obj.defaults {
			if f.Default != nil {
				vals[f.Name] = f.Default
			}
			if f.AutoNumber {
				tx.org.autoNums[obj]++
				vals[f.Name] = fmt.Sprintf("%08d", 1000+tx.org.autoNums[obj])
			}
		}
	} else {
		vals = copyVals(target.vals)
		userID := req.UserID
		if userID == "" {
			userID = tx.org.userID
		}
		vals["LastModifiedDate"], vals["LastModifiedById"], vals["SystemModstamp"] = now, userID, now
	}
	for k, v := range set {
		if v == nil {
			delete(vals, k)
		} else {
			vals[k] = v
		}
	}
	if nf := obj.Field("Name"); op == OpInsert && obj.Custom && nf != nil && vals["Name"] == nil {
		vals["Name"] = vals["Id"]
	}
	computeFields(obj, vals)
	self := ""
	if target != nil {
		self = target.id
	}
	if err := tx.checkUnique(obj, self, vals, set, op == OpInsert); err != nil {
		return Result{Errors: []RecordError{*err}, existed: target != nil}
	}
	if op == OpInsert {
		r := tx.insert(obj, vals)
		return Result{ID: r.id, Success: true, Created: true}
	}
	tx.update(target, vals)
	return Result{ID: target.id, Success: true, existed: true}
}

// checkUnique rejects a value of a unique field that a live record other
// than self already holds: DUPLICATE_VALUE "duplicate value found: <field>
// duplicates value on record with id: <id>" (fact sheet §9.2).
func (tx *Tx) checkUnique(obj *Object, self string, vals, set map[string]any, insert bool) *RecordError {
	t := tx.org.tables[obj]
	for _, f := range obj.unique {
		if _, changed := set[f.Name]; !changed && !insert {
			continue
		}
		v := vals[f.Name]
		if v == nil {
			continue
		}
		for _, id := range t.lookup(f, indexKey(f, v)) {
			if id != self {
				return errDuplicateValue(f.Name, id)
			}
		}
	}
	return nil
}
