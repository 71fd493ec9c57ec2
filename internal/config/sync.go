package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Sync maps the records of one source onto one Salesforce object (used from
// issue 5; routing of events from issue 6).
type Sync struct {
	Name string `yaml:"name"`
	// From is "source" or "source.glob": the glob selects tables
	// (postgres sources, e.g. "public.*") or event types (event sources).
	From string `yaml:"from"`
	// When is an optional filter expression on the record.
	When string `yaml:"when"`
	// Object is the Salesforce object's API name.
	Object string `yaml:"object"`
	// ExternalID is the external ID field upserts match on.
	ExternalID string `yaml:"external_id"`
	// Fields maps Salesforce fields to expressions, in file order.
	Fields Fields `yaml:"fields"`
	// Nulls is "skip" (leave the Salesforce value) or "write" (clear it).
	Nulls Nulls `yaml:"nulls"`
	// Deletes is "ignore" or "delete" (delete the Salesforce record).
	Deletes Deletes `yaml:"deletes"`
	// BatchSize and Concurrency override delivery's.
	BatchSize   int `yaml:"batch_size"`
	Concurrency int `yaml:"concurrency"`
}

// SourceName is the source part of From.
func (s Sync) SourceName() string {
	name, _, _ := strings.Cut(s.From, ".")
	return name
}

// Collections is the glob part of From ("" means every table or event type).
func (s Sync) Collections() string {
	_, glob, _ := strings.Cut(s.From, ".")
	return glob
}

// Nulls says what a null value does to a Salesforce field.
type Nulls string

// Null policies.
const (
	NullsSkip  Nulls = "skip"
	NullsWrite Nulls = "write"
)

// NullPolicies lists every null policy.
var NullPolicies = []Nulls{NullsSkip, NullsWrite}

// Deletes says what a deleted source record does in Salesforce.
type Deletes string

// Delete policies.
const (
	DeletesIgnore Deletes = "ignore"
	DeletesDelete Deletes = "delete"
)

// DeletePolicies lists every delete policy.
var DeletePolicies = []Deletes{DeletesIgnore, DeletesDelete}

// Field is one entry of a sync's `fields`: either a Salesforce field set
// from an expression (`Email: lower(row.email)`), or a relationship set by
// the parent's external ID (`Account: {Org_Id__c: row.org_id}`).
type Field struct {
	// Name is the Salesforce field, or the relationship name for a lookup.
	Name string
	// Expr is the expression giving the value (of the parent's external
	// ID for a lookup).
	Expr string
	// ParentExternalID is the parent object's external ID field; set only
	// for a lookup.
	ParentExternalID string
}

// IsLookup reports whether the field sets a relationship by external ID.
func (f Field) IsLookup() bool { return f.ParentExternalID != "" }

// Fields is a sync's field mapping, in file order.
type Fields []Field

func (fs *Fields) unmarshalNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n.Line, "expected a mapping of Salesforce field to expression, got %s", kindName(n))
		return
	}
	for _, p := range d.pairs(n, path) {
		kp := join(path, p.key.Value)
		d.lines[kp] = p.key.Line
		f := Field{Name: p.key.Value}
		v := p.value
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				d.add(kp, p.key.Line, "no expression (write nil to set the field to null)")
				continue
			}
			s, ok := d.scalar(v, kp, "an expression")
			if !ok {
				continue
			}
			f.Expr = s
		case yaml.MappingNode:
			inner := d.pairs(v, kp)
			if len(inner) != 1 {
				d.add(kp, v.Line, "a lookup has exactly one entry, {ParentExternalId__c: expression}; got %d", len(inner))
				continue
			}
			ip := join(kp, inner[0].key.Value)
			d.lines[ip] = inner[0].key.Line
			f.ParentExternalID = inner[0].key.Value
			s, ok := d.scalar(inner[0].value, ip, "an expression")
			if !ok {
				continue
			}
			f.Expr = s
		default:
			d.add(kp, v.Line, "expected an expression or a lookup {ParentExternalId__c: expression}, got %s", kindName(v))
			continue
		}
		*fs = append(*fs, f)
	}
}
