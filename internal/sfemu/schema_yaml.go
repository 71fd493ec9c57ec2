package sfemu

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"go.yaml.in/yaml/v3"
)

//go:embed default_schema.yaml
var defaultSchemaYAML []byte

// schemaFile is the YAML form of a schema (docs/emulator.md "Schema file").
type schemaFile struct {
	Version int          `yaml:"version"`
	Base    string       `yaml:"base"` // "none" (default) or "default"
	Objects []objectSpec `yaml:"objects"`
}

type objectSpec struct {
	Name        string      `yaml:"name"`
	Label       string      `yaml:"label"`
	LabelPlural string      `yaml:"labelPlural"`
	KeyPrefix   string      `yaml:"keyPrefix"`
	Createable  *bool       `yaml:"createable"`
	Updateable  *bool       `yaml:"updateable"`
	Deletable   *bool       `yaml:"deletable"`
	Queryable   *bool       `yaml:"queryable"`
	Owner       *bool       `yaml:"owner"` // adds OwnerId (default true)
	Fields      []fieldSpec `yaml:"fields"`
}

type fieldSpec struct {
	Name             string   `yaml:"name"`
	Label            string   `yaml:"label"`
	Type             string   `yaml:"type"`
	Length           int      `yaml:"length"`
	Precision        int      `yaml:"precision"`
	Scale            int      `yaml:"scale"`
	Required         *bool    `yaml:"required"`
	Nillable         *bool    `yaml:"nillable"`
	Createable       *bool    `yaml:"createable"`
	Updateable       *bool    `yaml:"updateable"`
	Default          any      `yaml:"default"`
	ExternalID       bool     `yaml:"externalId"`
	Unique           bool     `yaml:"unique"`
	CaseSensitive    bool     `yaml:"caseSensitive"`
	IDLookup         *bool    `yaml:"idLookup"`
	ReferenceTo      []string `yaml:"referenceTo"`
	RelationshipName string   `yaml:"relationshipName"`
	Values           []string `yaml:"values"`
	Restricted       bool     `yaml:"restricted"`
	AutoNumber       bool     `yaml:"autoNumber"`
	Concat           []string `yaml:"concat"`
	NameField        bool     `yaml:"nameField"`
}

var (
	defaultOnce sync.Once
	defaultSpec schemaFile
	nameRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	prefixRE    = regexp.MustCompile(`^[0-9A-Za-z]{3}$`)
)

func loadDefaultSpec() schemaFile {
	defaultOnce.Do(func() {
		f, err := decodeSchemaFile(defaultSchemaYAML)
		if err != nil {
			panic("sfemu: built-in default_schema.yaml: " + err.Error())
		}
		defaultSpec = f
	})
	return defaultSpec
}

// DefaultSchema returns a fresh copy of the built-in schema: Account,
// Contact, Lead, Case, Opportunity, Task, User, Organization and the custom
// objects Volunteer__c and Shift__c (docs/emulator.md lists every field).
func DefaultSchema() *Schema {
	s, err := buildSchema(loadDefaultSpec())
	if err != nil {
		panic("sfemu: built-in default_schema.yaml: " + err.Error())
	}
	return s
}

// LoadSchema reads a schema YAML file.
func LoadSchema(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	s, err := ParseSchema(b)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", path, err)
	}
	return s, nil
}

// ParseSchema decodes a schema YAML document strictly (unknown keys are
// errors) and validates it; every problem is reported with its YAML path.
// With "base: default" the document adds objects and fields to (or
// overrides fields of) the built-in schema. User and Organization are always
// present.
func ParseSchema(data []byte) (*Schema, error) {
	f, err := decodeSchemaFile(data)
	if err != nil {
		return nil, err
	}
	switch f.Base {
	case "", "none":
	case "default":
		f.Objects = mergeObjects(loadDefaultSpec().Objects, f.Objects)
	default:
		return nil, fmt.Errorf("base: must be \"none\" or \"default\", got %q", f.Base)
	}
	return buildSchema(f)
}

func decodeSchemaFile(data []byte) (schemaFile, error) {
	var f schemaFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return f, fmt.Errorf("decode: %w", err)
	}
	if f.Version != 0 && f.Version != 1 {
		return f, fmt.Errorf("version: unsupported schema version %d (want 1)", f.Version)
	}
	return f, nil
}

// mergeObjects overlays extra onto base: same-named objects get their fields
// replaced or appended and their set attributes overridden.
func mergeObjects(base, extra []objectSpec) []objectSpec {
	out := make([]objectSpec, len(base))
	for i, o := range base {
		o.Fields = append([]fieldSpec(nil), o.Fields...)
		out[i] = o
	}
	for _, x := range extra {
		i := indexOfObject(out, x.Name)
		if i < 0 {
			out = append(out, x)
			continue
		}
		o := &out[i]
		setStr(&o.Label, x.Label)
		setStr(&o.LabelPlural, x.LabelPlural)
		setStr(&o.KeyPrefix, x.KeyPrefix)
		for _, p := range []struct{ dst, src **bool }{{&o.Createable, &x.Createable}, {&o.Updateable, &x.Updateable},
			{&o.Deletable, &x.Deletable}, {&o.Queryable, &x.Queryable}, {&o.Owner, &x.Owner}} {
			if *p.src != nil {
				*p.dst = *p.src
			}
		}
		for _, xf := range x.Fields {
			j := -1
			for k := range o.Fields {
				if strings.EqualFold(o.Fields[k].Name, xf.Name) {
					j = k
				}
			}
			if j >= 0 {
				o.Fields[j] = xf
			} else {
				o.Fields = append(o.Fields, xf)
			}
		}
	}
	return out
}

func indexOfObject(objs []objectSpec, name string) int {
	for i, o := range objs {
		if strings.EqualFold(o.Name, name) {
			return i
		}
	}
	return -1
}

func setStr(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// humanize derives a label from an API name: "Counselor_Id__c" ->
// "Counselor Id", "LastName" -> "Last Name", "AccountId" -> "Account ID".
func humanize(name string) string {
	n := strings.TrimSuffix(strings.TrimSuffix(name, "__c"), "__r")
	if strings.HasSuffix(name, "Id") && !strings.Contains(name, "_") && len(name) > 2 {
		return humanize(strings.TrimSuffix(name, "Id")) + " ID"
	}
	var b strings.Builder
	prev := rune(0)
	for i, r := range n {
		if r == '_' {
			b.WriteRune(' ')
			prev = ' '
			continue
		}
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(prev) {
			b.WriteRune(' ')
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}
