package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/salesforce"
)

// Describer returns the describe of an object; *salesforce.Client is one.
type Describer interface {
	Describe(ctx context.Context, object string) (*salesforce.SObject, error)
}

var _ Describer = (*salesforce.Client)(nil)

// Check validates the sync against the org's describe of its object (and,
// for lookups, of their parents) and returns every problem, each with its
// YAML path (and line when the sync came from Compile): the object exists
// and can be upserted (and deleted under `deletes: delete`); the external ID
// field exists and is an External ID or idLookup field of text or number
// type; every mapped field exists and is createable and updateable; each
// expression's type, where the compiler knows it, fits the field (true/false
// into a text or checkbox field, numbers into number or text fields, times
// into datetime or text fields); each lookup names a relationship to one
// object whose given field is an external ID; every field required to create
// a record is mapped. The error is for a describe that failed for another
// reason than a missing object (the org is unreachable, the login failed).
func (s *Sync) Check(ctx context.Context, d Describer) ([]config.Problem, error) {
	var ps config.Problems
	add := func(p, format string, args ...any) { ps.Add(p, s.lineOf(p), format, args...) }
	obj, err := d.Describe(ctx, s.cfg.Object)
	if notFound(err) {
		add(s.at("object"), "the org has no object %s", s.cfg.Object)
		return ps.List, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", s.cfg.Object, err)
	}
	switch {
	case !obj.Createable && !obj.Updateable:
		add(s.at("object"), "%s is read-only for this user (neither createable nor updateable)", obj.Name)
	case !obj.Createable:
		add(s.at("object"), "%s is not createable for this user: an upsert of a new record would fail", obj.Name)
	case !obj.Updateable:
		add(s.at("object"), "%s is not updateable for this user: an upsert of an existing record would fail", obj.Name)
	}
	if s.cfg.Deletes == config.DeletesDelete && !obj.Deletable {
		add(s.at("deletes"), "%s is not deletable for this user (deletes: delete)", obj.Name)
	}
	s.checkExternalID(obj, add)
	mapped := map[string]bool{}
	for i, f := range s.fields {
		if f.parentExt != "" {
			if ref, ok := s.checkLookup(ctx, d, obj, f, add); ok {
				mapped[strings.ToLower(ref)] = true
			} else if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		mapped[strings.ToLower(f.name)] = true
		sf, ok := obj.Field(f.name)
		if !ok {
			add(f.path, "%s has no field %s%s", obj.Name, f.name, suggest(obj, f.name))
			continue
		}
		if i == s.ext {
			continue // checked with external_id
		}
		switch {
		case !sf.Createable && !sf.Updateable:
			add(f.path, "%s.%s is read-only (neither createable nor updateable)", obj.Name, sf.Name)
		case !sf.Createable:
			add(f.path, "%s.%s is not createable: an upsert that creates a record would fail", obj.Name, sf.Name)
		case !sf.Updateable:
			add(f.path, "%s.%s is not updateable: an upsert of an existing record would fail", obj.Name, sf.Name)
		}
		if msg := typeFit(f.typ, sf); msg != "" {
			add(f.path, "%s gives %s, but %s.%s is %s field%s", quote(f.src), typeName(f.typ), obj.Name, sf.Name, article(sf.Type), msg)
		}
	}
	var missing []string
	for _, f := range obj.Fields {
		if f.RequiredOnCreate() && !mapped[strings.ToLower(f.Name)] {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		add(s.at("fields"), "%s %s required to create a %s and not mapped", strings.Join(missing, ", "), isAre(len(missing)), obj.Name)
	}
	return ps.List, nil
}

func (s *Sync) checkExternalID(obj *salesforce.SObject, add func(p, format string, args ...any)) {
	p := s.at("external_id")
	f, ok := obj.Field(s.cfg.ExternalID)
	if !ok {
		add(p, "%s has no field %s%s", obj.Name, s.cfg.ExternalID, suggestExternal(obj))
		return
	}
	if !f.ExternalID && !f.IDLookup {
		add(p, "%s.%s is not an External ID field, so upserts cannot match on it (mark it External ID in Setup%s)", obj.Name, f.Name, orUse(obj))
		return
	}
	switch f.Type {
	case "string", "email", "int", "double", "phone", "url", "id":
	default:
		add(p, "%s.%s is %s field; upserts match on text or number external IDs", obj.Name, f.Name, article(f.Type))
	}
	if !f.Createable {
		add(p, "%s.%s is not createable: an upsert that creates a record could not set it", obj.Name, f.Name)
	}
	if ef := s.fields[s.ext]; ef.typ != nil && ef.typ.Kind() != reflect.Interface && ef.typ.Kind() != reflect.String && !isNumberType(ef.typ) {
		add(ef.path, "%s gives %s; an external ID is text or a number", quote(ef.src), typeName(ef.typ))
	}
}

// checkLookup checks a lookup by a parent's external ID and returns the
// lookup's Id field (AccountId) when the relationship exists.
func (s *Sync) checkLookup(ctx context.Context, d Describer, obj *salesforce.SObject, f field, add func(p, format string, args ...any)) (string, bool) {
	ref, ok := obj.Relationship(f.name)
	if !ok {
		if sf, isField := obj.Field(f.name); isField {
			if sf.Type == "reference" && sf.RelationshipName != "" {
				add(f.path, "%s.%s is the lookup's Id field; a lookup by external ID goes through its relationship name, %s", obj.Name, sf.Name, sf.RelationshipName)
			} else {
				add(f.path, "%s.%s is %s field, not a relationship; a lookup {%s: …} needs a relationship name%s", obj.Name, sf.Name, article(sf.Type), f.parentExt, relationships(obj))
			}
		} else {
			add(f.path, "%s has no relationship %s%s", obj.Name, f.name, relationships(obj))
		}
		return "", false
	}
	if !ref.Createable || !ref.Updateable {
		add(f.path, "%s.%s (the %s lookup) is not createable and updateable", obj.Name, ref.Name, ref.RelationshipName)
	}
	if s.cfg.Nulls == config.NullsWrite && !strings.EqualFold(ref.Name, f.idField) {
		add(f.path, "relationship %s is set through %s, not %s: sfbridge cannot clear it (nulls: write)", f.name, ref.Name, f.idField)
	}
	if len(ref.ReferenceTo) != 1 {
		add(f.path, "%s.%s is polymorphic (%s); a lookup by external ID needs a relationship to one object", obj.Name, ref.Name, strings.Join(ref.ReferenceTo, ", "))
		return ref.Name, true
	}
	parentName := ref.ReferenceTo[0]
	parent, err := d.Describe(ctx, parentName)
	if err != nil {
		add(f.path, "cannot describe the parent object %s: %v", parentName, err)
		return ref.Name, true
	}
	p := s.exprPath(f)
	pf, ok := parent.Field(f.parentExt)
	switch {
	case !ok:
		add(p, "the parent %s has no field %s%s", parent.Name, f.parentExt, suggestExternal(parent))
	case !pf.ExternalID && !pf.IDLookup:
		add(p, "%s.%s is not an External ID field, so the lookup cannot find the parent by it%s", parent.Name, pf.Name, suggestExternal(parent))
	}
	if f.typ != nil && f.typ.Kind() != reflect.Interface && f.typ.Kind() != reflect.String && !isNumberType(f.typ) {
		add(p, "%s gives %s; a parent's external ID is text or a number", quote(f.src), typeName(f.typ))
	}
	return ref.Name, true
}

// typeFit returns "" when a value of static type t fits a field of sf's
// type, else advice. An unknown type always fits; text fits every field
// (Salesforce parses it).
func typeFit(t reflect.Type, sf salesforce.Field) string {
	if t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.String {
		return ""
	}
	text := map[string]bool{"string": true, "textarea": true, "picklist": true, "combobox": true, "encryptedstring": true, "email": true, "phone": true, "url": true}
	number := map[string]bool{"double": true, "currency": true, "percent": true, "int": true, "long": true}
	switch {
	case t.Kind() == reflect.Bool:
		if sf.Type == "boolean" || text[sf.Type] {
			return ""
		}
	case t == reflect.TypeOf(time.Time{}):
		switch {
		case sf.Type == "datetime" || text[sf.Type]:
			return ""
		case sf.Type == "date":
			return " (use formatDate to send a date)"
		}
	case isNumberType(t):
		if number[sf.Type] || text[sf.Type] {
			return ""
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if sf.Type == "multipicklist" {
			return ""
		}
	}
	return " (a value of this type cannot be stored there)"
}

func isNumberType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// notFound reports whether err says the object does not exist.
func notFound(err error) bool {
	var ae *salesforce.APIError
	return errors.As(err, &ae) && (ae.HTTPStatus == http.StatusNotFound || ae.Code == "NOT_FOUND")
}

// suggest names fields of obj close to name (same letters ignoring case and
// underscores, or one containing the other).
func suggest(obj *salesforce.SObject, name string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(strings.TrimSuffix(s, "__c"), "__C"), "_", ""))
	}
	want := norm(name)
	var close []string
	for _, f := range obj.Fields {
		got := norm(f.Name)
		if got == want || len(want) >= 3 && (strings.Contains(got, want) || strings.Contains(want, got) && len(got) >= 3) {
			close = append(close, f.Name)
		}
	}
	if r, ok := obj.Relationship(name); ok {
		return fmt.Sprintf(" (%s is a relationship: write a lookup {ParentExternalId__c: expression}, or map %s)", name, r.Name)
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	if len(close) > 5 {
		close = close[:5]
	}
	return " (did you mean " + strings.Join(close, ", ") + "?)"
}

// externalFields lists obj's fields an upsert or lookup can match on.
func externalFields(obj *salesforce.SObject) []string {
	var out []string
	for _, f := range obj.Fields {
		if f.ExternalID || (f.IDLookup && f.Name != "Id") {
			out = append(out, f.Name)
		}
	}
	return out
}

func suggestExternal(obj *salesforce.SObject) string {
	if ext := externalFields(obj); len(ext) > 0 {
		return fmt.Sprintf(" (external ID fields of %s: %s)", obj.Name, strings.Join(ext, ", "))
	}
	return fmt.Sprintf(" (%s has no external ID field)", obj.Name)
}

func orUse(obj *salesforce.SObject) string {
	if ext := externalFields(obj); len(ext) > 0 {
		return ", or use one of " + strings.Join(ext, ", ")
	}
	return ""
}

func relationships(obj *salesforce.SObject) string {
	var rels []string
	for _, f := range obj.Fields {
		if f.RelationshipName != "" {
			rels = append(rels, f.RelationshipName)
		}
	}
	if len(rels) == 0 {
		return fmt.Sprintf(" (%s has no lookups)", obj.Name)
	}
	return fmt.Sprintf(" (relationships of %s: %s)", obj.Name, strings.Join(rels, ", "))
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// article prefixes a/an to a field type: "a date", "an email".
func article(typ string) string {
	if typ != "" && strings.ContainsRune("aeiou", rune(typ[0])) {
		return "an " + typ
	}
	return "a " + typ
}
