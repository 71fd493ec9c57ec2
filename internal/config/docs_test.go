package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// yamlKeys lists every YAML key of the schema, reachable from Config.
func yamlKeys() []string {
	seen := map[string]bool{}
	var walk func(t reflect.Type)
	visited := map[reflect.Type]bool{}
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || visited[t] {
			return
		}
		visited[t] = true
		for key, f := range fieldsOf(t) {
			seen[key] = true
			walk(t.FieldByIndex(f.index).Type)
		}
	}
	walk(reflect.TypeFor[Config]())
	for _, st := range sourceStructs {
		walk(st)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestReferenceDocumentsEveryKey keeps docs/configuration.md complete.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	doc := string(data)
	keys := yamlKeys()
	require.Greater(t, len(keys), 80, "the walk found the schema")
	for _, k := range keys {
		// `key`, `parent.key`, `key.child`, `tables[].key`, `key, other`
		re := regexp.MustCompile("[`.]" + regexp.QuoteMeta(k) + "[`.,\\[]")
		require.True(t, re.MatchString(doc), "docs/configuration.md does not mention key %q", k)
	}
	// Every enum value is documented too.
	var values []string
	for _, v := range AuthFlows {
		values = append(values, string(v))
	}
	for _, v := range SourceTypes {
		values = append(values, string(v))
	}
	for _, v := range AlertEvents {
		values = append(values, string(v))
	}
	for _, group := range [][]string{
		{string(NullsSkip), string(NullsWrite), string(DeletesIgnore), string(DeletesDelete)},
		{string(FormatNDJSON), string(FormatJSON), string(FormatCSV), string(CompressionGzip), string(CompressionNone)},
		{string(MarkState), string(MarkMove), string(MarkTag), string(AfterMove), string(AfterDelete)},
		{string(SnapshotInitial), string(SnapshotNever), string(AlertWebhook)},
	} {
		values = append(values, group...)
	}
	for _, v := range values {
		require.Contains(t, doc, "`"+v+"`", "enum value %q", v)
	}
}
