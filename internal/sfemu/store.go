package sfemu

import "fmt"

// record is one row. vals maps canonical field names to stored values
// (absent = null) and is replaced, never mutated, on update, so a snapshot
// taken under the read lock stays consistent.
type record struct {
	id      string
	obj     *Object
	vals    map[string]any
	deleted bool
}

// table holds the records of one object in creation order, with value
// indexes for its indexed fields over live records.
type table struct {
	obj   *Object
	recs  map[string]*record
	order []*record
	idx   map[*Field]map[string][]string
	live  int
}

func newTable(obj *Object) *table {
	t := &table{obj: obj, recs: map[string]*record{}, idx: map[*Field]map[string][]string{}}
	for _, f := range obj.Fields {
		if f.indexed() {
			t.idx[f] = map[string][]string{}
		}
	}
	return t
}

// lookup returns the Ids of live records whose f has the normalised key.
func (t *table) lookup(f *Field, key string) []string {
	return t.idx[f][key]
}

func (t *table) addIndex(r *record) {
	for f, m := range t.idx {
		if v, ok := r.vals[f.Name]; ok && v != nil {
			k := indexKey(f, v)
			m[k] = append(m[k], r.id)
		}
	}
}

func (t *table) removeIndex(r *record) {
	for f, m := range t.idx {
		v, ok := r.vals[f.Name]
		if !ok || v == nil {
			continue
		}
		k := indexKey(f, v)
		ids := m[k]
		for i, id := range ids {
			if id == r.id {
				ids = append(ids[:i:i], ids[i+1:]...)
				break
			}
		}
		if len(ids) == 0 {
			delete(m, k)
		} else {
			m[k] = ids
		}
	}
}

// get returns the record with the 18-char Id id of any object, deleted or
// not, or nil. Callers hold the org lock.
func (o *Org) get(id string) *record {
	obj := o.schema.ObjectByPrefix(id)
	if obj == nil {
		return nil
	}
	return o.tables[obj].recs[id]
}

// Tx is a write transaction on the org: it holds the org's write lock and
// an undo log, so everything written through it can be rolled back.
type Tx struct {
	org  *Org
	undo []undoEntry
}

type undoEntry struct {
	op      Op
	rec     *record
	prev    map[string]any
	prevDel bool
}

// Write runs fn in a transaction. If fn returns an error, everything it
// wrote is rolled back and the error returned; otherwise it is committed.
func (o *Org) Write(fn func(tx *Tx) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	tx := &Tx{org: o}
	defer func() {
		if p := recover(); p != nil {
			tx.rollbackTo(0) // leave the org as it was, then let the handler report the panic
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		tx.rollbackTo(0)
		return err
	}
	tx.commit()
	return nil
}

// Apply runs one DML request in its own transaction (see Tx.Apply).
func (o *Org) Apply(req *DML) []Result {
	var res []Result
	_ = o.Write(func(tx *Tx) error {
		res = tx.Apply(req)
		return nil
	})
	return res
}

func (tx *Tx) insert(obj *Object, vals map[string]any) *record {
	t := tx.org.tables[obj]
	r := &record{id: vals["Id"].(string), obj: obj, vals: vals}
	t.recs[r.id] = r
	t.order = append(t.order, r)
	t.addIndex(r)
	t.live++
	tx.undo = append(tx.undo, undoEntry{op: OpInsert, rec: r})
	return r
}

func (tx *Tx) update(r *record, vals map[string]any) {
	t := tx.org.tables[r.obj]
	t.removeIndex(r)
	tx.undo = append(tx.undo, undoEntry{op: OpUpdate, rec: r, prev: r.vals})
	r.vals = vals
	t.addIndex(r)
}

func (tx *Tx) delete(r *record, vals map[string]any) {
	t := tx.org.tables[r.obj]
	t.removeIndex(r)
	tx.undo = append(tx.undo, undoEntry{op: OpDelete, rec: r, prev: r.vals, prevDel: r.deleted})
	r.vals = vals
	r.deleted = true
	t.live--
}

// rollbackTo undoes every write after the undo log had n entries.
func (tx *Tx) rollbackTo(n int) {
	for i := len(tx.undo) - 1; i >= n; i-- {
		u := tx.undo[i]
		t := tx.org.tables[u.rec.obj]
		switch u.op {
		case OpInsert:
			t.removeIndex(u.rec)
			delete(t.recs, u.rec.id)
			if last := len(t.order) - 1; last >= 0 && t.order[last] == u.rec {
				t.order = t.order[:last]
			} else {
				panic(fmt.Sprintf("sfemu: undo of insert %s out of order", u.rec.id))
			}
			t.live--
		case OpUpdate:
			t.removeIndex(u.rec)
			u.rec.vals = u.prev
			t.addIndex(u.rec)
		case OpDelete:
			u.rec.vals, u.rec.deleted = u.prev, u.prevDel
			t.addIndex(u.rec)
			t.live++
		}
	}
	tx.undo = tx.undo[:n]
}

// commit counts the writes of the transaction.
func (tx *Tx) commit() {
	for _, u := range tx.undo {
		m := tx.org.written[u.rec.obj.Name]
		if m == nil {
			m = map[Op]int64{}
			tx.org.written[u.rec.obj.Name] = m
		}
		m[u.op]++
	}
	tx.undo = nil
}

// insertBuiltin writes a record the org owns (Organization, its User)
// without the DML pipeline.
func (tx *Tx) insertBuiltin(obj *Object, id string, vals map[string]any, now string) {
	if obj == nil {
		return
	}
	vals["Id"] = id
	for k, v := range tx.systemValues(obj, "", now) {
		vals[k] = v
	}
	computeFields(obj, vals)
	tx.insert(obj, vals)
	tx.undo = nil
}

// systemValues are the audit fields of a new record.
func (tx *Tx) systemValues(obj *Object, userID, now string) map[string]any {
	if userID == "" || obj.Name == "User" || obj.Name == "Organization" {
		userID = tx.org.userID
	}
	m := map[string]any{"IsDeleted": false, "CreatedDate": now, "CreatedById": userID,
		"LastModifiedDate": now, "LastModifiedById": userID, "SystemModstamp": now}
	if obj.Field("OwnerId") != nil {
		m["OwnerId"] = userID
	}
	return m
}

// computeFields sets calculated (concat) fields from the stored values.
func computeFields(obj *Object, vals map[string]any) {
	for _, f := range obj.computed {
		var parts []string
		for _, c := range f.Concat {
			if s, ok := vals[c].(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			delete(vals, f.Name)
		} else {
			vals[f.Name] = joinSpace(parts)
		}
	}
}

func joinSpace(parts []string) string {
	out := parts[0]
	for _, p := range parts[1:] {
		out += " " + p
	}
	return out
}
