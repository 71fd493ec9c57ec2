package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// SObject is the describe of one object (GET /sobjects/{Object}/describe),
// the subset a mapping is validated against. Values returned by Describe are
// shared through the cache; do not modify them.
type SObject struct {
	Name       string  `json:"name"`
	Label      string  `json:"label"`
	KeyPrefix  string  `json:"keyPrefix"`
	Custom     bool    `json:"custom"`
	Createable bool    `json:"createable"`
	Updateable bool    `json:"updateable"`
	Deletable  bool    `json:"deletable"`
	Queryable  bool    `json:"queryable"`
	Fields     []Field `json:"fields"`
}

// Field is one field of a describe.
type Field struct {
	Name              string   `json:"name"`
	Label             string   `json:"label"`
	Type              string   `json:"type"`
	Length            int      `json:"length"`
	Nillable          bool     `json:"nillable"`
	Createable        bool     `json:"createable"`
	Updateable        bool     `json:"updateable"`
	DefaultedOnCreate bool     `json:"defaultedOnCreate"`
	ExternalID        bool     `json:"externalId"`
	IDLookup          bool     `json:"idLookup"`
	Unique            bool     `json:"unique"`
	CaseSensitive     bool     `json:"caseSensitive"`
	Custom            bool     `json:"custom"`
	ReferenceTo       []string `json:"referenceTo"`
	RelationshipName  string   `json:"relationshipName"`
	PicklistValues    []struct {
		Value  string `json:"value"`
		Active bool   `json:"active"`
	} `json:"picklistValues"`
}

// RequiredOnCreate reports whether an insert must set the field.
func (f Field) RequiredOnCreate() bool { return !f.Nillable && f.Createable && !f.DefaultedOnCreate }

// Field returns the field named name (case-insensitive, as Salesforce
// matches names).
func (o *SObject) Field(name string) (Field, bool) {
	for _, f := range o.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

// Relationship returns the lookup field whose relationship name is rel
// (Account for AccountId, Parent__r for Parent__c).
func (o *SObject) Relationship(rel string) (Field, bool) {
	for _, f := range o.Fields {
		if f.RelationshipName != "" && strings.EqualFold(f.RelationshipName, rel) {
			return f, true
		}
	}
	return Field{}, false
}

// GlobalDescribe is GET /sobjects: the objects of the org.
type GlobalDescribe struct {
	Encoding     string       `json:"encoding"`
	MaxBatchSize int          `json:"maxBatchSize"`
	SObjects     []ObjectInfo `json:"sobjects"`
}

// ObjectInfo is one object in the global describe.
type ObjectInfo struct {
	Name       string `json:"name"`
	Label      string `json:"label"`
	KeyPrefix  string `json:"keyPrefix"`
	Custom     bool   `json:"custom"`
	Queryable  bool   `json:"queryable"`
	Createable bool   `json:"createable"`
	Updateable bool   `json:"updateable"`
	Deletable  bool   `json:"deletable"`
}

// describeEntry is one cache slot; done closes when the first fetch ends.
type describeEntry struct {
	done chan struct{}
	obj  *SObject
	err  error
}

// Describe returns the describe of object, cached per object for the life of
// the client (one API call per object; concurrent callers share it). A
// failed describe is not cached.
func (c *Client) Describe(ctx context.Context, object string) (*SObject, error) {
	if err := checkName("object", object); err != nil {
		return nil, err
	}
	key := strings.ToLower(object)
	c.descMu.Lock()
	e, ok := c.describes[key]
	if !ok {
		e = &describeEntry{done: make(chan struct{})}
		c.describes[key] = e
		c.descMu.Unlock()
		e.obj, e.err = c.describe(ctx, object)
		if e.err != nil {
			c.descMu.Lock()
			delete(c.describes, key)
			c.descMu.Unlock()
		}
		close(e.done)
		return e.obj, e.err
	}
	c.descMu.Unlock()
	select {
	case <-e.done:
		if e.err != nil {
			return c.Describe(ctx, object) // the fetch we waited on failed: try ours
		}
		return e.obj, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ForgetDescribe drops object from the describe cache (after a schema
// change), or every object when object is "".
func (c *Client) ForgetDescribe(object string) {
	c.descMu.Lock()
	defer c.descMu.Unlock()
	if object == "" {
		c.describes = map[string]*describeEntry{}
		return
	}
	delete(c.describes, strings.ToLower(object))
}

func (c *Client) describe(ctx context.Context, object string) (*SObject, error) {
	var obj SObject
	r := request{method: http.MethodGet, path: "/sobjects/" + url.PathEscape(object) + "/describe"}
	if err := c.doJSON(ctx, r, nil, &obj); err != nil {
		return nil, err
	}
	if obj.Name == "" {
		return nil, fmt.Errorf("salesforce: %s: the describe has no object name", r)
	}
	return &obj, nil
}

// DescribeGlobal lists the org's objects (not cached).
func (c *Client) DescribeGlobal(ctx context.Context) (*GlobalDescribe, error) {
	var g GlobalDescribe
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/sobjects"}, nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}
