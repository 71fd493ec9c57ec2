package sfemu

import (
	"fmt"
	"strings"
	"time"
)

// maxRelationshipHops is SOQL's child-to-parent depth limit (§6.4).
const maxRelationshipHops = 5

// colRef is a resolved field path: the reference fields to follow, then
// the leaf field (of the first target object that has it; polymorphic
// parents of another type read their own field of that name, or null).
type colRef struct {
	hops []*Field
	leaf *Field
	path string // canonical, e.g. "Account.Org_Id__c"
}

type column struct {
	ref      colRef
	count    bool
	countArg *colRef
	alias    string
}

type orderCol struct {
	ref       colRef
	desc      bool
	nullsLast bool
}

// plan is a query resolved against the schema.
type plan struct {
	obj       *Object
	cols      []column
	countOnly bool // SELECT COUNT()
	aggregate bool // SELECT COUNT(field)…
	where     pred
	order     []orderCol
	limit     int
	offset    int
}

// pred is a compiled WHERE condition.
type pred func(o *Org, r *record) bool

func (q *soqlQuery) errAt(pos int, code, format string, args ...any) *soqlError {
	return &soqlError{code: code, msg: fmt.Sprintf(format, args...), pos: pos, src: q.src}
}

// planQuery resolves q against the schema; now anchors date literals.
func planQuery(s *Schema, q *soqlQuery, now time.Time) (*plan, *soqlError) {
	obj := s.Object(q.from)
	if obj == nil || !obj.Queryable {
		return nil, q.errAt(q.fromPos, CodeInvalidType, "sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.from)
	}
	p := &plan{obj: obj, limit: q.limit, offset: q.offset}
	seen := map[string]bool{}
	var plain *selectItem
	for i, it := range q.items {
		if it.count {
			c := column{count: true, alias: it.alias}
			if it.countArg == nil {
				if len(q.items) > 1 {
					return nil, q.errAt(it.path.pos, CodeMalformedQuery, "COUNT() cannot be used with other fields")
				}
				p.countOnly = true
			} else {
				ref, err := resolvePath(s, obj, *it.countArg, q)
				if err != nil {
					return nil, err
				}
				c.countArg = &ref
				p.aggregate = true
			}
			p.cols = append(p.cols, c)
			continue
		}
		ref, err := resolvePath(s, obj, it.path, q)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(ref.path)
		if seen[key] {
			return nil, q.errAt(it.path.pos, CodeMalformedQuery, "duplicate field selected: %s", ref.path)
		}
		seen[key] = true
		if plain == nil {
			plain = &q.items[i]
		}
		p.cols = append(p.cols, column{ref: ref})
	}
	if p.aggregate && plain != nil {
		return nil, q.errAt(plain.path.pos, CodeMalformedQuery, "Field must be grouped or aggregated: %s", plain.path)
	}
	if q.where != nil {
		w, err := compileExpr(s, obj, q, q.where, now)
		if err != nil {
			return nil, err
		}
		p.where = w
	}
	for _, o := range q.orderBy {
		ref, err := resolvePath(s, obj, o.path, q)
		if err != nil {
			return nil, err
		}
		p.order = append(p.order, orderCol{ref: ref, desc: o.desc, nullsLast: o.nullsLast})
	}
	return p, nil
}

// resolvePath resolves Parent.Parent.Field from obj (a leading
// "Object." naming obj itself is allowed, as in SOQL).
func resolvePath(s *Schema, obj *Object, fp fieldPath, q *soqlQuery) (colRef, *soqlError) {
	parts := fp.parts
	if len(parts) > 1 && strings.EqualFold(parts[0], obj.Name) && obj.Relationship(parts[0]) == nil {
		parts = parts[1:]
	}
	if len(parts)-1 > maxRelationshipHops {
		return colRef{}, q.errAt(fp.pos, CodeMalformedQuery, "SOQL statements cannot query relationships that are more than 5 levels away from the root entity object.")
	}
	cur := []*Object{obj}
	var ref colRef
	var names []string
	for _, part := range parts[:len(parts)-1] {
		var rf *Field
		for _, o := range cur {
			if rf = o.Relationship(part); rf != nil {
				break
			}
		}
		if rf == nil {
			return colRef{}, q.errAt(fp.pos, CodeInvalidField, "Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", part)
		}
		ref.hops = append(ref.hops, rf)
		names = append(names, rf.RelationshipName)
		cur = cur[:0:0]
		for _, t := range rf.ReferenceTo {
			cur = append(cur, s.Object(t))
		}
	}
	leaf := parts[len(parts)-1]
	for _, o := range cur {
		if ref.leaf = o.Field(leaf); ref.leaf != nil {
			break
		}
	}
	if ref.leaf == nil {
		return colRef{}, q.errAt(fp.pos, CodeInvalidField, "%s", noSuchColumnQuery(leaf, cur[0].Name))
	}
	ref.path = strings.Join(append(names, ref.leaf.Name), ".")
	return ref, nil
}

// follow returns the parent record a reference field of r points to, or
// nil when it is null or the parent is gone.
func follow(o *Org, r *record, f *Field) *record {
	id, ok := r.vals[f.Name].(string)
	if !ok {
		return nil
	}
	p := o.get(id)
	if p == nil || p.deleted {
		return nil
	}
	return p
}

// value evaluates a column reference on r.
func (c *colRef) value(o *Org, r *record) any {
	for _, h := range c.hops {
		if r = follow(o, r, h); r == nil {
			return nil
		}
	}
	if len(c.hops) == 0 {
		return r.vals[c.leaf.Name]
	}
	if f := r.obj.Field(c.leaf.Name); f != nil {
		return r.vals[f.Name]
	}
	return nil
}
