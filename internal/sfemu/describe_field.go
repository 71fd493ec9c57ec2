package sfemu

// fieldDescribe is one field of a describe, with every key of jsforce's
// Field type in Salesforce's alphabetical order (fact sheet §10).
type fieldDescribe struct {
	Aggregatable          bool            `json:"aggregatable"`
	AutoNumber            bool            `json:"autoNumber"`
	ByteLength            int             `json:"byteLength"`
	Calculated            bool            `json:"calculated"`
	CalculatedFormula     *string         `json:"calculatedFormula"`
	CascadeDelete         bool            `json:"cascadeDelete"`
	CaseSensitive         bool            `json:"caseSensitive"`
	CompoundFieldName     *string         `json:"compoundFieldName"`
	ControllerName        *string         `json:"controllerName"`
	Createable            bool            `json:"createable"`
	Custom                bool            `json:"custom"`
	DefaultValue          any             `json:"defaultValue"`
	DefaultValueFormula   *string         `json:"defaultValueFormula"`
	DefaultedOnCreate     bool            `json:"defaultedOnCreate"`
	DependentPicklist     bool            `json:"dependentPicklist"`
	DeprecatedAndHidden   bool            `json:"deprecatedAndHidden"`
	Digits                int             `json:"digits"`
	DisplayLocationInDec  bool            `json:"displayLocationInDecimal"`
	Encrypted             bool            `json:"encrypted"`
	ExternalID            bool            `json:"externalId"`
	ExtraTypeInfo         *string         `json:"extraTypeInfo"`
	Filterable            bool            `json:"filterable"`
	FilteredLookupInfo    any             `json:"filteredLookupInfo"`
	Groupable             bool            `json:"groupable"`
	HighScaleNumber       bool            `json:"highScaleNumber"`
	HTMLFormatted         bool            `json:"htmlFormatted"`
	IDLookup              bool            `json:"idLookup"`
	InlineHelpText        *string         `json:"inlineHelpText"`
	Label                 string          `json:"label"`
	Length                int             `json:"length"`
	Mask                  *string         `json:"mask"`
	MaskType              *string         `json:"maskType"`
	Name                  string          `json:"name"`
	NameField             bool            `json:"nameField"`
	NamePointing          bool            `json:"namePointing"`
	Nillable              bool            `json:"nillable"`
	Permissionable        bool            `json:"permissionable"`
	PicklistValues        []picklistValue `json:"picklistValues"`
	PolymorphicForeignKey bool            `json:"polymorphicForeignKey"`
	Precision             int             `json:"precision"`
	QueryByDistance       bool            `json:"queryByDistance"`
	ReferenceTargetField  *string         `json:"referenceTargetField"`
	ReferenceTo           []string        `json:"referenceTo"`
	RelationshipName      *string         `json:"relationshipName"`
	RelationshipOrder     *int            `json:"relationshipOrder"`
	RestrictedDelete      bool            `json:"restrictedDelete"`
	RestrictedPicklist    bool            `json:"restrictedPicklist"`
	Scale                 int             `json:"scale"`
	SearchPrefilterable   bool            `json:"searchPrefilterable"`
	SoapType              string          `json:"soapType"`
	Sortable              bool            `json:"sortable"`
	Type                  FieldType       `json:"type"`
	Unique                bool            `json:"unique"`
	Updateable            bool            `json:"updateable"`
	WriteRequiresMaster   bool            `json:"writeRequiresMasterRead"`
}

type picklistValue struct {
	Active       bool    `json:"active"`
	DefaultValue bool    `json:"defaultValue"`
	Label        string  `json:"label"`
	ValidFor     *string `json:"validFor"`
	Value        string  `json:"value"`
}

var soapTypes = map[FieldType]string{
	TypeID: "tns:ID", TypeReference: "tns:ID", TypeBoolean: "xsd:boolean", TypeInt: "xsd:int",
	TypeDouble: "xsd:double", TypeCurrency: "xsd:double", TypePercent: "xsd:double",
	TypeDate: "xsd:date", TypeDatetime: "xsd:dateTime", TypeTime: "xsd:time", TypeBase64: "xsd:base64Binary",
}

func describeField(f *Field) fieldDescribe {
	soap := soapTypes[f.Type]
	if soap == "" {
		soap = "xsd:string"
	}
	longText := f.Type == TypeTextarea && f.Length > 255
	d := fieldDescribe{
		Aggregatable: !longText && f.Type != TypeBoolean && f.Type != TypeMultipicklist, AutoNumber: f.AutoNumber,
		Calculated: f.calculated(), CaseSensitive: f.CaseSensitive, Createable: f.Createable, Custom: f.Custom,
		DefaultValue: f.Default, DefaultedOnCreate: f.DefaultedOnCreate, ExternalID: f.ExternalID,
		Filterable: !longText, Groupable: !longText && f.Type.textual() || f.Type == TypeBoolean || f.Type == TypeDate || f.Type == TypeInt || f.Type == TypeReference || f.Type == TypeID,
		IDLookup: f.IDLookup, Label: f.Label, Length: f.Length, Name: f.Name, NameField: f.NameField,
		NamePointing: len(f.ReferenceTo) > 1, Nillable: f.Nillable, Permissionable: f.Custom && f.Nillable,
		PicklistValues: []picklistValue{}, PolymorphicForeignKey: len(f.ReferenceTo) > 1, SoapType: soap,
		Sortable: !longText && f.Type != TypeMultipicklist, Type: f.Type, Unique: f.Unique,
		Updateable: f.Updateable, ReferenceTo: f.ReferenceTo, RestrictedPicklist: f.Restricted,
	}
	if d.ReferenceTo == nil {
		d.ReferenceTo = []string{}
	}
	if f.Type.textual() || f.Type == TypeID || f.Type == TypeReference {
		d.ByteLength = f.Length * 3
	}
	switch f.Type {
	case TypeInt:
		d.Digits = f.Precision
		if d.Digits == 0 {
			d.Digits = 18
		}
	case TypeDouble, TypeCurrency, TypePercent:
		d.Precision, d.Scale = f.Precision, f.Scale
		if d.Precision == 0 {
			d.Precision = 18
		}
	}
	if f.RelationshipName != "" {
		n := f.RelationshipName
		d.RelationshipName = &n
	}
	for _, v := range f.Picklist {
		d.PicklistValues = append(d.PicklistValues, picklistValue{Active: true, DefaultValue: f.Default == v, Label: v, Value: v})
	}
	return d
}
