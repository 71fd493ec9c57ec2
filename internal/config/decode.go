package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// The decoder walks a yaml.Node tree into the config structs by reflection.
// Unlike yaml's own decoder (which stops at the first unknown key with
// KnownFields) it collects every problem — unknown keys, wrong types, bad
// durations, unresolvable secret references — with its YAML path and line,
// and records the line of every path it sees so that semantic validation can
// cite lines too.
type decoder struct {
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
	dir       string // base for relative ${file:…} references

	problems []Problem
	lines    map[string]int    // path → line of its key (or list item)
	nulls    map[string]bool   // paths written as null or left empty
	refs     map[string]string // path → the references its value came from
	budget   int               // nodes left to visit (bounds alias expansion)
	active   map[*yaml.Node]bool
}

// maxNodes bounds the nodes one config may expand to (aliases can multiply them).
const maxNodes = 200_000

// nodeUnmarshaler is implemented by types that read their own YAML shape.
type nodeUnmarshaler interface {
	unmarshalNode(d *decoder, n *yaml.Node, path string)
}

func newDecoder(opts Options) *decoder {
	return &decoder{
		lookupEnv: opts.LookupEnv,
		readFile:  opts.ReadFile,
		dir:       opts.Dir,
		lines:     map[string]int{},
		nulls:     map[string]bool{},
		refs:      map[string]string{},
		budget:    maxNodes,
		active:    map[*yaml.Node]bool{},
	}
}

func (d *decoder) add(path string, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// show quotes a value for a message, unless it came from a secret
// reference, in which case it names the reference instead.
func (d *decoder) show(path, v string) string {
	if r, ok := d.refs[path]; ok {
		return "the value of " + r
	}
	return strconv.Quote(shorten(v))
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

func valueOf(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

// value decodes n into v (which must be settable).
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if d.active[n] || n.Alias == nil {
			d.add(path, n.Line, "alias *%s refers to itself", n.Value)
			return
		}
		d.active[n] = true
		d.value(n.Alias, v, path)
		delete(d.active, n)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.nulls[path] = true
		v.SetZero()
		return
	}
	if u, ok := v.Addr().Interface().(nodeUnmarshaler); ok {
		u.unmarshalNode(d, n, path)
		return
	}
	switch v.Type() {
	case durationType:
		d.duration(n, v, path)
		return
	case secretType:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.Set(reflect.ValueOf(Secret{value: s}))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.add(path, n.Line, "expected true or false, got %s", d.show(path, s))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		s, ok := d.scalar(n, path, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.add(path, n.Line, "expected a whole number, got %s", d.show(path, s))
			return
		}
		v.SetInt(i)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	default:
		panic(fmt.Sprintf("config: no decoder for %s", v.Type()))
	}
}

// spend counts one visited node; once maxNodes are spent (aliases can
// multiply a small file) it reports that once and says stop.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	d.budget--
	if d.budget == -1 {
		d.add(path, n.Line, "the config expands to more than %d values (check its aliases)", maxNodes)
	}
	return d.budget >= 0
}

// kindName names what a node is, for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return kindName(n.Alias)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return "a string"
	}
	return "nothing"
}

// scalar returns the text of a scalar node with its secret references resolved.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil && !d.active[n] {
		return d.scalar(n.Alias, path, want)
	}
	if n.Kind != yaml.ScalarNode {
		d.add(path, n.Line, "expected %s, got %s", want, kindName(n))
		return "", false
	}
	if n.Tag == "!!binary" {
		d.add(path, n.Line, "expected %s, got binary data", want)
		return "", false
	}
	return d.interpolate(n.Value, path, n.Line)
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "a duration like 30s")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		hint := ""
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			hint = " (a unit is required)"
		}
		d.add(path, n.Line, "expected a duration like 30s, 5m or 1h30m, got %s%s", d.show(path, s), hint)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.add(path, n.Line, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := index(path, i)
		d.lines[p] = item.Line
		d.value(item, s.Index(i), p)
	}
	v.Set(s)
}

// pair is one key: value of a mapping.
type pair struct {
	key, value *yaml.Node
}

// pairs lists a mapping's entries, expanding YAML merge keys (<<: *base;
// explicit keys override merged ones) and reporting duplicate and
// non-string keys.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var (
		merged   []pair
		explicit []pair
		seen     = map[string]int{}
	)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.mergeSource(val, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.add(path, k.Line, "keys must be plain strings, got %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.add(join(path, k.Value), k.Line, "duplicate key (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, pair{k, val})
	}
	out := explicit
	taken := map[string]bool{}
	for k := range seen {
		taken[k] = true
	}
	for _, p := range merged {
		if !taken[p.key.Value] {
			taken[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) mergeSource(n *yaml.Node, path string) []pair {
	if !d.spend(n, path) {
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		if d.active[n] || n.Alias == nil {
			d.add(path, n.Line, "alias *%s refers to itself", n.Value)
			return nil
		}
		d.active[n] = true
		defer delete(d.active, n)
		return d.mergeSource(n.Alias, path)
	case yaml.MappingNode:
		return d.pairs(n, path)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range n.Content {
			out = append(out, d.mergeSource(m, path)...)
		}
		return out
	}
	d.add(path, n.Line, "<< must merge a mapping or a list of mappings, got %s", kindName(n))
	return nil
}

// field is a struct field reachable by a YAML key (through inline structs).
type field struct {
	index []int
}

var fieldCache sync.Map // reflect.Type → map[string]field

// fieldsOf maps the YAML keys of struct type t to its fields, following
// `yaml:",inline"` embedded structs.
func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	out := map[string]field{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("yaml")
			if !sf.IsExported() || tag == "-" || tag == "" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int{}, prefix...), i)
			if opts == "inline" {
				walk(sf.Type, idx)
				continue
			}
			out[name] = field{index: idx}
		}
	}
	walk(t, nil)
	fieldCache.Store(t, out)
	return out
}

// keysOf lists the YAML keys of a struct type, sorted.
func keysOf(t reflect.Type) []string {
	f := fieldsOf(t)
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n.Line, "expected a mapping (key: value), got %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		kp := join(path, key)
		f, ok := fields[key]
		if !ok && path == "" && strings.HasPrefix(key, "x-") {
			continue // top-level x-… keys are a home for YAML anchors
		}
		if !ok {
			d.add(kp, p.key.Line, "unknown key%s", suggest(key, keysOf(v.Type())))
			continue
		}
		d.lines[kp] = p.key.Line
		d.value(p.value, v.FieldByIndex(f.index), kp)
	}
}

// suggest proposes the closest known key, or lists the known keys.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return " (allowed: " + strings.Join(known, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// join appends a mapping key to a YAML path.
func join(path, key string) string {
	if !plainKey.MatchString(key) {
		key = "[" + strconv.Quote(key) + "]"
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// index appends a list index to a YAML path.
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// parent strips the last element of a YAML path ("" at the top).
func parent(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i] {
		case '.':
			return path[:i]
		case '[':
			return path[:i]
		case '"':
			// inside a quoted key: find the opening `["`
			if j := strings.LastIndex(path[:i], `["`); j >= 0 {
				return path[:j]
			}
		}
	}
	return ""
}
