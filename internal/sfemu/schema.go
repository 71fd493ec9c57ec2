package sfemu

import "strings"

// FieldType is a describe field type (fact sheet §10).
type FieldType string

// Field types the emulator stores and coerces.
const (
	TypeID              FieldType = "id"
	TypeString          FieldType = "string"
	TypeTextarea        FieldType = "textarea"
	TypeEmail           FieldType = "email"
	TypePhone           FieldType = "phone"
	TypeURL             FieldType = "url"
	TypePicklist        FieldType = "picklist"
	TypeMultipicklist   FieldType = "multipicklist"
	TypeCombobox        FieldType = "combobox"
	TypeEncryptedString FieldType = "encryptedstring"
	TypeBase64          FieldType = "base64"
	TypeBoolean         FieldType = "boolean"
	TypeInt             FieldType = "int"
	TypeDouble          FieldType = "double"
	TypeCurrency        FieldType = "currency"
	TypePercent         FieldType = "percent"
	TypeDate            FieldType = "date"
	TypeDatetime        FieldType = "datetime"
	TypeTime            FieldType = "time"
	TypeReference       FieldType = "reference"
)

var knownTypes = map[FieldType]bool{
	TypeID: true, TypeString: true, TypeTextarea: true, TypeEmail: true, TypePhone: true,
	TypeURL: true, TypePicklist: true, TypeMultipicklist: true, TypeCombobox: true,
	TypeEncryptedString: true, TypeBase64: true, TypeBoolean: true, TypeInt: true,
	TypeDouble: true, TypeCurrency: true, TypePercent: true, TypeDate: true,
	TypeDatetime: true, TypeTime: true, TypeReference: true,
}

// textual reports whether values of t are stored as strings and subject to
// Length.
func (t FieldType) textual() bool {
	switch t {
	case TypeString, TypeTextarea, TypeEmail, TypePhone, TypeURL, TypePicklist,
		TypeMultipicklist, TypeCombobox, TypeEncryptedString, TypeBase64:
		return true
	}
	return false
}

// numeric reports whether values of t are stored as float64 or int64.
func (t FieldType) numeric() bool {
	switch t {
	case TypeInt, TypeDouble, TypeCurrency, TypePercent:
		return true
	}
	return false
}

// Field is one field of an object, with the describe attributes the DML
// pipeline enforces.
type Field struct {
	Name              string
	Label             string
	Type              FieldType
	Length            int // textual types: maximum characters
	Precision, Scale  int // numeric types; Precision 0 = unchecked
	Nillable          bool
	Createable        bool
	Updateable        bool
	DefaultedOnCreate bool
	Default           any // stored form of the default value, nil if none
	ExternalID        bool
	Unique            bool
	CaseSensitive     bool
	IDLookup          bool
	ReferenceTo       []string
	RelationshipName  string
	Picklist          []string
	Restricted        bool
	Custom            bool
	AutoNumber        bool     // system-assigned sequence, e.g. Case.CaseNumber
	Concat            []string // computed: the named fields joined by a space
	NameField         bool
	System            bool // maintained by the org (Id, CreatedDate, …)
}

// Required is the describe rule for "required on create":
// !nillable && createable && !defaultedOnCreate (fact sheet §10).
func (f *Field) Required() bool { return !f.Nillable && f.Createable && !f.DefaultedOnCreate }

// indexed reports whether the store keeps a value index for f (unique and
// external-ID constraints, upsert matching, lookups by idLookup fields).
func (f *Field) indexed() bool {
	return f.Type != TypeID && (f.ExternalID || f.Unique || f.IDLookup)
}

// calculated reports whether f is computed by the org.
func (f *Field) calculated() bool { return len(f.Concat) > 0 }

// Object is one sObject type.
type Object struct {
	Name        string
	Label       string
	LabelPlural string
	KeyPrefix   string
	Custom      bool
	Createable  bool
	Updateable  bool
	Deletable   bool
	Queryable   bool
	Fields      []*Field

	exact  map[string]*Field // canonical name
	byName map[string]*Field // lower-case name
	byRel  map[string]*Field // lower-case relationship name -> reference field
	relEx  map[string]*Field // canonical relationship name -> reference field

	// Fields the pipeline visits on every write.
	required []*Field // Required() on create
	defaults []*Field // with a Default or AutoNumber
	computed []*Field // calculated (concat)
	unique   []*Field // Unique, in field order
}

// Field returns the field named name (case-insensitive) or nil.
func (o *Object) Field(name string) *Field {
	if f, ok := o.exact[name]; ok {
		return f
	}
	return o.byName[strings.ToLower(name)]
}

// Relationship returns the reference field whose relationship name is name
// (case-insensitive), or nil.
func (o *Object) Relationship(name string) *Field {
	if f, ok := o.relEx[name]; ok {
		return f
	}
	return o.byRel[strings.ToLower(name)]
}

// ExternalIDField returns the field usable as an upsert key: Id, or a field
// with externalId (fact sheet §3.5), or nil.
func (o *Object) ExternalIDField(name string) *Field {
	f := o.Field(name)
	if f == nil || !(f.ExternalID || f.Type == TypeID) {
		return nil
	}
	return f
}

func (o *Object) index() {
	o.exact = make(map[string]*Field, len(o.Fields))
	o.byName = make(map[string]*Field, len(o.Fields))
	o.byRel = map[string]*Field{}
	o.relEx = map[string]*Field{}
	o.required, o.defaults, o.computed, o.unique = nil, nil, nil, nil
	for _, f := range o.Fields {
		if f.Required() {
			o.required = append(o.required, f)
		}
		if f.Default != nil || f.AutoNumber {
			o.defaults = append(o.defaults, f)
		}
		if f.calculated() {
			o.computed = append(o.computed, f)
		}
		if f.Unique && f.indexed() {
			o.unique = append(o.unique, f)
		}
		o.exact[f.Name] = f
		o.byName[strings.ToLower(f.Name)] = f
		if f.Type == TypeReference && f.RelationshipName != "" {
			o.byRel[strings.ToLower(f.RelationshipName)] = f
			o.relEx[f.RelationshipName] = f
		}
	}
}

// Schema is the set of objects of an org.
type Schema struct {
	Objects []*Object

	exact    map[string]*Object
	byName   map[string]*Object
	byPrefix map[string]*Object
}

// Object returns the object named name (case-insensitive) or nil.
func (s *Schema) Object(name string) *Object {
	if o, ok := s.exact[name]; ok {
		return o
	}
	return s.byName[strings.ToLower(name)]
}

// ObjectByPrefix returns the object whose key prefix is the first three
// characters of id, or nil.
func (s *Schema) ObjectByPrefix(id string) *Object {
	if len(id) < 3 {
		return nil
	}
	return s.byPrefix[id[:3]]
}

func (s *Schema) index() {
	s.exact = make(map[string]*Object, len(s.Objects))
	s.byName = make(map[string]*Object, len(s.Objects))
	s.byPrefix = make(map[string]*Object, len(s.Objects))
	for _, o := range s.Objects {
		o.index()
		s.exact[o.Name] = o
		s.byName[strings.ToLower(o.Name)] = o
		s.byPrefix[o.KeyPrefix] = o
	}
}
