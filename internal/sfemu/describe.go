package sfemu

import (
	"net/http"
	"strings"
	"time"
)

// objectURLs are the urls of a describe (fact sheet §10).
type objectURLs struct {
	RowTemplate string `json:"rowTemplate"`
	Describe    string `json:"describe"`
	SObject     string `json:"sobject"`
}

// globalSObject is one entry of describe global; keys in Salesforce's
// (alphabetical) order.
type globalSObject struct {
	Activateable        bool       `json:"activateable"`
	AssociateEntityType *string    `json:"associateEntityType"`
	AssociateParent     *string    `json:"associateParentEntity"`
	Createable          bool       `json:"createable"`
	Custom              bool       `json:"custom"`
	CustomSetting       bool       `json:"customSetting"`
	DeepCloneable       bool       `json:"deepCloneable"`
	Deletable           bool       `json:"deletable"`
	DeprecatedAndHidden bool       `json:"deprecatedAndHidden"`
	FeedEnabled         bool       `json:"feedEnabled"`
	HasSubtypes         bool       `json:"hasSubtypes"`
	IsInterface         bool       `json:"isInterface"`
	IsSubtype           bool       `json:"isSubtype"`
	KeyPrefix           string     `json:"keyPrefix"`
	Label               string     `json:"label"`
	LabelPlural         string     `json:"labelPlural"`
	Layoutable          bool       `json:"layoutable"`
	Mergeable           bool       `json:"mergeable"`
	MruEnabled          bool       `json:"mruEnabled"`
	Name                string     `json:"name"`
	Queryable           bool       `json:"queryable"`
	Replicateable       bool       `json:"replicateable"`
	Retrieveable        bool       `json:"retrieveable"`
	Searchable          bool       `json:"searchable"`
	Triggerable         bool       `json:"triggerable"`
	Undeletable         bool       `json:"undeletable"`
	Updateable          bool       `json:"updateable"`
	URLs                objectURLs `json:"urls"`
}

func (c *Call) globalEntry(o *Object) globalSObject {
	base := c.DataPath("/sobjects/" + o.Name)
	return globalSObject{
		Createable: o.Createable, Custom: o.Custom, Deletable: o.Deletable, KeyPrefix: o.KeyPrefix,
		Label: o.Label, LabelPlural: o.LabelPlural, Layoutable: true, Name: o.Name, Queryable: o.Queryable,
		Replicateable: true, Retrieveable: true, Searchable: true, Triggerable: true, Undeletable: o.Deletable,
		Updateable: o.Updateable,
		URLs:       objectURLs{RowTemplate: base + "/{ID}", Describe: base + "/describe", SObject: base},
	}
}

// describeGlobal answers GET /sobjects.
func (e *Emulator) describeGlobal(c *Call) {
	if c.notModified() {
		return
	}
	list := make([]globalSObject, 0, len(e.org.schema.Objects))
	for _, o := range e.org.schema.Objects {
		list = append(list, c.globalEntry(o))
	}
	c.JSON(http.StatusOK, orderedMap{{"encoding", "UTF-8"}, {"maxBatchSize", 200}, {"sobjects", list}})
}

// sobjectInfo answers GET /sobjects/{SObject}: basic information.
func (e *Emulator) sobjectInfo(c *Call) {
	o := c.object()
	if o == nil {
		return
	}
	c.JSON(http.StatusOK, orderedMap{{"objectDescribe", c.globalEntry(o)}, {"recentItems", []any{}}})
}

// notModified answers 304 when If-Modified-Since is not before the
// emulator's start: the schema never changes while it runs.
func (c *Call) notModified() bool {
	ims := c.Req.Header.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	t, err := http.ParseTime(ims)
	if err != nil || t.Before(c.e.started.Truncate(time.Second)) {
		return false
	}
	c.status, c.body = http.StatusNotModified, nil
	return true
}

// object resolves {object}, answering 404 NOT_FOUND when unknown (§3.1).
func (c *Call) object() *Object {
	o := c.e.org.schema.Object(c.Req.PathValue("object"))
	if o == nil {
		c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
	}
	return o
}

type childRelationship struct {
	CascadeDelete       bool     `json:"cascadeDelete"`
	ChildSObject        string   `json:"childSObject"`
	DeprecatedAndHidden bool     `json:"deprecatedAndHidden"`
	Field               string   `json:"field"`
	JunctionIDListNames []string `json:"junctionIdListNames"`
	JunctionReferenceTo []string `json:"junctionReferenceTo"`
	RelationshipName    *string  `json:"relationshipName"`
	RestrictedDelete    bool     `json:"restrictedDelete"`
}

// describeSObject answers GET /sobjects/{SObject}/describe.
func (e *Emulator) describeSObject(c *Call) {
	o := c.object()
	if o == nil || c.notModified() {
		return
	}
	fields := make([]fieldDescribe, 0, len(o.Fields))
	for _, f := range o.Fields {
		fields = append(fields, describeField(f))
	}
	children := []childRelationship{}
	for _, child := range e.org.schema.Objects {
		for _, f := range child.Fields {
			if f.Type != TypeReference || !contains(f.ReferenceTo, o.Name) || f.System {
				continue
			}
			var name *string
			if len(f.ReferenceTo) == 1 {
				n := strings.ReplaceAll(child.LabelPlural, " ", "")
				if child.Custom {
					n = strings.TrimSuffix(child.Name, "__c") + "s__r"
				}
				name = &n
			}
			children = append(children, childRelationship{ChildSObject: child.Name, Field: f.Name,
				JunctionIDListNames: []string{}, JunctionReferenceTo: []string{}, RelationshipName: name})
		}
	}
	g := c.globalEntry(o)
	urls := g.URLs
	c.JSON(http.StatusOK, orderedMap{
		{"actionOverrides", []any{}}, {"activateable", false}, {"associateEntityType", nil},
		{"associateParentEntity", nil}, {"childRelationships", children}, {"compactLayoutable", true},
		{"createable", o.Createable}, {"custom", o.Custom}, {"customSetting", false}, {"deepCloneable", false},
		{"defaultImplementation", nil}, {"deletable", o.Deletable}, {"deprecatedAndHidden", false},
		{"extendedBy", nil}, {"extendsInterfaces", nil}, {"feedEnabled", false}, {"fields", fields},
		{"hasSubtypes", false}, {"implementedBy", nil}, {"implementsInterfaces", nil}, {"isInterface", false},
		{"isSubtype", false}, {"keyPrefix", o.KeyPrefix}, {"label", o.Label}, {"labelPlural", o.LabelPlural},
		{"layoutable", true}, {"listviewable", nil}, {"lookupLayoutable", nil}, {"mergeable", false},
		{"mruEnabled", false}, {"name", o.Name}, {"namedLayoutInfos", []any{}}, {"networkScopeFieldName", nil},
		{"queryable", o.Queryable}, {"recordTypeInfos", []any{}}, {"replicateable", true}, {"retrieveable", true},
		{"searchLayoutable", true}, {"searchable", true}, {"sobjectDescribeOption", "FULL"},
		{"supportedScopes", []any{}}, {"triggerable", true}, {"undeletable", o.Deletable},
		{"updateable", o.Updateable}, {"urls", urls},
	})
}
