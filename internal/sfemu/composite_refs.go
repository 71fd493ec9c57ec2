package sfemu

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// referenceRE matches @{ref.path} with path segments like id,
// records[0].Id (fact sheet §5.1).
var referenceRE = regexp.MustCompile(`@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[[0-9]+\])*)\}`)

// resolveReference evaluates ref.path against the outputs of earlier
// subrequests.
func resolveReference(outputs map[string]any, ref, path string) (any, error) {
	notFound := fmt.Errorf("Invalid reference specified. No value for %s%s found in %s. Provided referenceId ensure it is valid and the subrequest it names succeeded.", ref, path, ref)
	cur, ok := outputs[ref]
	if !ok {
		return nil, notFound
	}
	for _, seg := range splitRefPath(path) {
		if isIndex(seg) {
			n, _ := strconv.Atoi(seg)
			list, ok := cur.([]any)
			if !ok || n >= len(list) {
				return nil, notFound
			}
			cur = list[n]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, notFound
		}
		if cur, ok = m[seg]; !ok {
			return nil, notFound
		}
	}
	if cur == nil {
		return nil, notFound
	}
	return cur, nil
}

func isIndex(seg string) bool { return seg != "" && seg[0] >= '0' && seg[0] <= '9' }

// splitRefPath turns ".records[0].Id" into [records 0 Id].
func splitRefPath(path string) []string {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	var out []string
	for _, s := range strings.Split(path, ".") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func refText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// substituteText replaces every reference in s by its value as text.
func substituteText(s string, outputs map[string]any) (string, error) {
	var firstErr error
	out := referenceRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := referenceRE.FindStringSubmatch(m)
		v, err := resolveReference(outputs, sub[1], sub[2])
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return m
		}
		return refText(v)
	})
	return out, firstErr
}

// substituteValue replaces references inside a decoded JSON body; a string
// that is exactly one reference takes the referenced value's type.
func substituteValue(v any, outputs map[string]any) (any, error) {
	switch x := v.(type) {
	case string:
		if m := referenceRE.FindStringSubmatch(x); m != nil && m[0] == x {
			return resolveReference(outputs, m[1], m[2])
		}
		return substituteText(x, outputs)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := substituteValue(e, outputs)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := substituteValue(e, outputs)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}
