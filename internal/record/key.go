package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeyField is one part of a source's key: a column (or event field) name
// and its value.
type KeyField struct {
	Name  string
	Value any
}

// Key identifies an item within its source and collection: the ordered
// name → value pairs of the source's key (a primary key's columns, an
// event's id). Values are scalars: strings, numbers, booleans, times or
// bytes (mapped as in the envelope, see normalize); null is not a key value.
type Key []KeyField

// Canonical returns the key's canonical text: a JSON array of [name, value]
// pairs in order, values mapped as in the envelope, e.g. [["id",42]]. Equal
// keys give equal text; a key survives Encode/Decode with its text intact.
// Numbers compare by their text (42 and 42.0 are different keys).
func (k Key) Canonical() (string, error) {
	if b, ok := appendKey(nil, k); ok {
		return string(b), nil
	}
	return k.canonicalSlow()
}

// canonicalSlow is Canonical by encoding/json: the reference appendKey
// must match, and the path that words every error.
func (k Key) canonicalSlow() (string, error) {
	if len(k) == 0 {
		return "", errors.New("key: at least one field is required")
	}
	pairs := make([][2]any, len(k))
	seen := make(map[string]bool, len(k))
	for i, f := range k {
		path := fmt.Sprintf("key[%d]", i)
		if f.Name == "" {
			return "", fmt.Errorf("%s: name is required", path)
		}
		if seen[f.Name] {
			return "", fmt.Errorf("%s: name %q repeats", path, f.Name)
		}
		seen[f.Name] = true
		if err := checkName(path, f.Name); err != nil {
			return "", err
		}
		v, err := normalize(path+"."+f.Name, f.Value, 0)
		if err != nil {
			return "", err
		}
		switch v.(type) {
		case string, json.Number, bool:
		case nil:
			return "", fmt.Errorf("%s.%s: null is not a key value", path, f.Name)
		default:
			return "", fmt.Errorf("%s.%s: a key value must be a scalar, not %T", path, f.Name, f.Value)
		}
		pairs[i] = [2]any{f.Name, v}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pairs); err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// String returns the canonical text, or a best-effort rendering with the
// problem when the key is invalid. For logs and messages.
func (k Key) String() string {
	s, err := k.Canonical()
	if err != nil {
		return fmt.Sprintf("%v (invalid: %v)", []KeyField(k), err)
	}
	return s
}

// normalized returns the key with values mapped to the JSON model.
func (k Key) normalized() (Key, error) {
	if _, err := k.Canonical(); err != nil {
		return nil, err
	}
	out := make(Key, len(k))
	for i, f := range k {
		v, _ := normalize("", f.Value, 0) // checked by Canonical
		out[i] = KeyField{Name: f.Name, Value: v}
	}
	return out, nil
}

// keyFromWire converts decoded [name, value] pairs.
func keyFromWire(pairs [][]any) (Key, error) {
	k := make(Key, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("key[%d]: want a [name, value] pair, got %d elements", i, len(p))
		}
		name, ok := p[0].(string)
		if !ok {
			return nil, fmt.Errorf("key[%d]: name must be a string, got %T", i, p[0])
		}
		k[i] = KeyField{Name: name, Value: p[1]}
	}
	if _, err := k.Canonical(); err != nil {
		return nil, err
	}
	return k, nil
}
