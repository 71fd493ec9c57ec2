package sfemu

import (
	"errors"
	"fmt"
	"strings"
)

// defaultLength is the length of a textual field that does not set one.
var defaultLength = map[FieldType]int{
	TypeString: 255, TypeTextarea: 32768, TypeEmail: 80, TypePhone: 40, TypeURL: 255,
	TypePicklist: 255, TypeMultipicklist: 4099, TypeCombobox: 255,
	TypeEncryptedString: 175, TypeBase64: 131072,
}

// builtinObjects are always present: the sf CLI reads the User of its
// session and the Organization row.
var builtinObjects = []string{"User", "Organization"}

// buildSchema validates a decoded schema and expands it into objects with
// their system fields. Every problem is returned, each with its YAML path.
func buildSchema(f schemaFile) (*Schema, error) {
	specs := f.Objects
	for _, name := range builtinObjects {
		if indexOfObject(specs, name) < 0 {
			specs = append(specs, loadDefaultSpec().Objects[indexOfObject(loadDefaultSpec().Objects, name)])
		}
	}
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	s := &Schema{}
	var paths []string // YAML path of each object in s.Objects
	seen := map[string]bool{}
	prefixes := map[string]string{}
	for i, os := range specs {
		path := fmt.Sprintf("objects[%d]", i)
		if !nameRE.MatchString(os.Name) {
			bad(path+".name", "invalid object name %q", os.Name)
			continue
		}
		if seen[strings.ToLower(os.Name)] {
			bad(path+".name", "duplicate object %q", os.Name)
			continue
		}
		seen[strings.ToLower(os.Name)] = true
		custom := strings.HasSuffix(os.Name, "__c")
		o := &Object{
			Name: os.Name, Label: os.Label, LabelPlural: os.LabelPlural, KeyPrefix: os.KeyPrefix, Custom: custom,
			Createable: boolOr(os.Createable, true), Updateable: boolOr(os.Updateable, true),
			Deletable: boolOr(os.Deletable, true), Queryable: boolOr(os.Queryable, true),
		}
		if o.Label == "" {
			o.Label = humanize(o.Name)
		}
		if o.LabelPlural == "" {
			o.LabelPlural = o.Label + "s"
		}
		if o.KeyPrefix != "" {
			if !prefixRE.MatchString(o.KeyPrefix) {
				bad(path+".keyPrefix", "must be 3 letters or digits, got %q", o.KeyPrefix)
			} else if other, dup := prefixes[o.KeyPrefix]; dup {
				bad(path+".keyPrefix", "%q already used by %s", o.KeyPrefix, other)
			}
			prefixes[o.KeyPrefix] = o.Name
		} else if !custom {
			bad(path+".keyPrefix", "required for standard object %s", o.Name)
		}
		o.Fields = append(o.Fields, systemField("Id", TypeID))
		names := map[string]bool{"id": true}
		for j, fs := range os.Fields {
			fpath := fmt.Sprintf("%s.fields[%d]", path, j)
			fd, err := buildField(fs)
			if err != nil {
				bad(fpath, "%v", err)
				continue
			}
			if names[strings.ToLower(fd.Name)] {
				bad(fpath+".name", "duplicate field %q", fd.Name)
				continue
			}
			names[strings.ToLower(fd.Name)] = true
			o.Fields = append(o.Fields, fd)
		}
		if custom && !names["name"] {
			o.Fields = append(o.Fields[:1], append([]*Field{{Name: "Name", Label: o.Label + " Name", Type: TypeString,
				Length: 80, Nillable: true, Createable: true, Updateable: true, DefaultedOnCreate: true, NameField: true}}, o.Fields[1:]...)...)
			names["name"] = true
		}
		if boolOr(os.Owner, true) && !names["ownerid"] {
			o.Fields = append(o.Fields, &Field{Name: "OwnerId", Label: "Owner ID", Type: TypeReference, Length: 18,
				Createable: true, Updateable: true, DefaultedOnCreate: true, ReferenceTo: []string{"User"}, RelationshipName: "Owner"})
		}
		for _, sf := range auditFields() {
			if names[strings.ToLower(sf.Name)] {
				bad(path, "field %s is maintained by the org and cannot be declared", sf.Name)
			}
			o.Fields = append(o.Fields, sf)
		}
		s.Objects = append(s.Objects, o)
		paths = append(paths, path)
	}
	assignPrefixes(s.Objects, prefixes)
	s.index()
	for i, o := range s.Objects {
		validateObject(s, o, paths[i], bad)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func buildField(fs fieldSpec) (*Field, error) {
	if !nameRE.MatchString(fs.Name) {
		return nil, fmt.Errorf("name: invalid field name %q", fs.Name)
	}
	t := FieldType(strings.ToLower(fs.Type))
	if !knownTypes[t] || t == TypeID {
		return nil, fmt.Errorf("type: unknown or unsupported type %q", fs.Type)
	}
	f := &Field{
		Name: fs.Name, Label: fs.Label, Type: t, Length: fs.Length, Precision: fs.Precision, Scale: fs.Scale,
		Nillable: true, Createable: boolOr(fs.Createable, true), Updateable: boolOr(fs.Updateable, true),
		ExternalID: fs.ExternalID, Unique: fs.Unique, CaseSensitive: fs.CaseSensitive,
		IDLookup: boolOr(fs.IDLookup, fs.ExternalID), ReferenceTo: clone(fs.ReferenceTo),
		RelationshipName: fs.RelationshipName, Picklist: clone(fs.Values), Restricted: fs.Restricted,
		Custom: strings.HasSuffix(fs.Name, "__c"), AutoNumber: fs.AutoNumber, Concat: clone(fs.Concat), NameField: fs.NameField,
	}
	if f.Label == "" {
		f.Label = humanize(f.Name)
	}
	if fs.Nillable != nil {
		f.Nillable = *fs.Nillable
	}
	if boolOr(fs.Required, false) {
		f.Nillable = false
	}
	if t.textual() && f.Length == 0 {
		f.Length = defaultLength[t]
	}
	if t == TypeReference {
		f.Length = 18
		if f.RelationshipName == "" {
			switch {
			case strings.HasSuffix(f.Name, "__c"):
				f.RelationshipName = strings.TrimSuffix(f.Name, "__c") + "__r"
			case strings.HasSuffix(f.Name, "Id") && len(f.Name) > 2:
				f.RelationshipName = strings.TrimSuffix(f.Name, "Id")
			}
		}
	}
	if f.Length < 0 || f.Precision < 0 || f.Scale < 0 || f.Scale > f.Precision && f.Precision > 0 {
		return nil, fmt.Errorf("length/precision/scale: invalid (length %d, precision %d, scale %d)", f.Length, f.Precision, f.Scale)
	}
	if t == TypeBoolean {
		f.Nillable, f.DefaultedOnCreate, f.Default = false, true, false
	}
	if f.AutoNumber || f.calculated() {
		if f.AutoNumber && t != TypeString {
			return nil, fmt.Errorf("autoNumber: only on string fields")
		}
		f.Createable, f.Updateable, f.DefaultedOnCreate = false, false, true
	}
	if f.ExternalID {
		switch t {
		case TypeString, TypeEmail, TypeInt, TypeDouble:
		default:
			return nil, fmt.Errorf("externalId: type %s cannot be an external ID (string, email, int or double)", t)
		}
	}
	if fs.Default != nil {
		v, rerr := coerce(f, fs.Default)
		if rerr != nil {
			return nil, fmt.Errorf("default: %s", rerr.Message)
		}
		f.Default, f.DefaultedOnCreate = v, true
	}
	return f, nil
}

func systemField(name string, t FieldType) *Field {
	f := &Field{Name: name, Label: humanize(name), Type: t, DefaultedOnCreate: true, System: true}
	switch t {
	case TypeID:
		f.Label, f.Length, f.IDLookup = "Record ID", 18, true
	case TypeReference:
		f.Length, f.ReferenceTo = 18, []string{"User"}
		f.RelationshipName = strings.TrimSuffix(name, "Id")
	case TypeBoolean:
		f.Default = false
	}
	return f
}

func auditFields() []*Field {
	return []*Field{
		systemField("IsDeleted", TypeBoolean),
		systemField("CreatedDate", TypeDatetime),
		systemField("CreatedById", TypeReference),
		systemField("LastModifiedDate", TypeDatetime),
		systemField("LastModifiedById", TypeReference),
		systemField("SystemModstamp", TypeDatetime),
	}
}

// assignPrefixes gives custom objects without a key prefix the next free
// one of a00, a01, … a0z, a10, … in declaration order.
func assignPrefixes(objs []*Object, used map[string]string) {
	n := uint64(0)
	for _, o := range objs {
		if o.KeyPrefix != "" {
			continue
		}
		for {
			p := "a" + encodeBase62(n, 2)
			n++
			if _, taken := used[p]; !taken {
				o.KeyPrefix = p
				used[p] = o.Name
				break
			}
		}
	}
}

func validateObject(s *Schema, o *Object, path string, bad func(string, string, ...any)) {
	rels := map[string]string{}
	for _, f := range o.Fields {
		fpath := path + ".fields." + f.Name
		if f.Type == TypeReference {
			if len(f.ReferenceTo) == 0 {
				bad(fpath+".referenceTo", "required for reference fields")
			}
			for k, target := range f.ReferenceTo {
				t := s.Object(target)
				if t == nil {
					bad(fmt.Sprintf("%s.referenceTo[%d]", fpath, k), "unknown object %q", target)
					continue
				}
				f.ReferenceTo[k] = t.Name
			}
			if f.RelationshipName == "" {
				bad(fpath+".relationshipName", "required (cannot derive one from %q)", f.Name)
			} else if other, dup := rels[strings.ToLower(f.RelationshipName)]; dup {
				bad(fpath+".relationshipName", "%q already used by %s", f.RelationshipName, other)
			} else if o.Field(f.RelationshipName) != nil {
				bad(fpath+".relationshipName", "%q is also a field name", f.RelationshipName)
			}
			rels[strings.ToLower(f.RelationshipName)] = f.Name
		} else if len(f.ReferenceTo) > 0 {
			bad(fpath+".referenceTo", "only reference fields refer to objects")
		}
		if (f.Type == TypePicklist || f.Type == TypeMultipicklist) && f.Restricted && len(f.Picklist) == 0 {
			bad(fpath+".values", "a restricted picklist needs values")
		}
		for _, c := range f.Concat {
			if cf := o.Field(c); cf == nil || !cf.Type.textual() {
				bad(fpath+".concat", "%q is not a text field of %s", c, o.Name)
			}
		}
	}
}

func clone(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}
