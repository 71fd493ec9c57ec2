package sfemu

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCoerce(t *testing.T) {
	t.Parallel()
	f := func(t FieldType, mods ...func(*Field)) *Field {
		fd := &Field{Name: "F__c", Label: "F", Type: t, Nillable: true}
		for _, m := range mods {
			m(fd)
		}
		return fd
	}
	precision := func(p, s int) func(*Field) { return func(f *Field) { f.Precision, f.Scale = p, s } }
	restricted := func(f *Field) { f.Picklist, f.Restricted = []string{"A", "B"}, true }
	ref := func(f *Field) { f.ReferenceTo = []string{"Account"} }
	tests := []struct {
		field *Field
		in    any
		want  any
		code  string
	}{
		{f(TypeString), "x", "x", ""},
		{f(TypeString), "", nil, ""},
		{f(TypeString), nil, nil, ""},
		{f(TypeString), json.Number("12"), "12", ""},
		{f(TypeString), true, "true", ""},
		{f(TypeString), map[string]any{"a": 1}, nil, CodeInvalidTypeOnField},
		{f(TypePhone), json.Number("5551234"), "5551234", ""},
		{f(TypePhone), false, nil, CodeInvalidTypeOnField},
		{f(TypeEmail), "a@b.org", "a@b.org", ""},
		{f(TypeEmail), "not-an-email", nil, CodeInvalidEmail},
		{f(TypeEmail), "a@b", nil, CodeInvalidEmail},
		{f(TypePicklist, restricted), "A", "A", ""},
		{f(TypePicklist, restricted), "C", nil, CodeRestrictedPicklist},
		{f(TypePicklist), "C", "C", ""},
		{f(TypeMultipicklist, restricted), "A;B", "A;B", ""},
		{f(TypeMultipicklist, restricted), "A;Z", nil, CodeRestrictedPicklist},
		{f(TypeBoolean), true, true, ""},
		{f(TypeBoolean), "FALSE", false, ""},
		{f(TypeBoolean), "1", true, ""},
		{f(TypeBoolean), json.Number("1"), nil, CodeInvalidTypeOnField},
		{f(TypeBoolean), "maybe", nil, CodeInvalidTypeOnField},
		{f(TypeInt), json.Number("42"), int64(42), ""},
		{f(TypeInt), "42", int64(42), ""},
		{f(TypeInt), json.Number("42.0"), int64(42), ""},
		{f(TypeInt), json.Number("4.5"), nil, CodeInvalidTypeOnField},
		{f(TypeInt), "abc", nil, CodeInvalidTypeOnField},
		{f(TypeInt, precision(2, 0)), json.Number("100"), nil, CodeNumberOutsideRange},
		{f(TypeInt), 7, int64(7), ""},
		{f(TypeDouble), json.Number("1.5"), 1.5, ""},
		{f(TypeDouble), "1e3", 1000.0, ""},
		{f(TypeDouble), "NaN", nil, CodeInvalidTypeOnField},
		{f(TypeCurrency, precision(6, 2)), json.Number("12.345"), 12.35, ""},
		{f(TypeCurrency, precision(6, 2)), json.Number("12345.6"), nil, CodeNumberOutsideRange},
		{f(TypePercent), json.Number("50"), 50.0, ""},
		{f(TypeDate), "2024-01-31", "2024-01-31", ""},
		{f(TypeDate), "2024-01-31T23:00:00Z", "2024-01-31", ""},
		{f(TypeDate), "31/01/2024", nil, CodeInvalidTypeOnField},
		{f(TypeDatetime), "2024-01-31T10:00:00Z", "2024-01-31T10:00:00.000+0000", ""},
		{f(TypeDatetime), "2024-01-31T10:00:00.123+0200", "2024-01-31T08:00:00.123+0000", ""},
		{f(TypeDatetime), "2024-01-31T10:00:00-05:00", "2024-01-31T15:00:00.000+0000", ""},
		{f(TypeDatetime), "2024-01-31", "2024-01-31T00:00:00.000+0000", ""},
		{f(TypeDatetime), "yesterday", nil, CodeInvalidTypeOnField},
		{f(TypeTime), "10:30:00Z", "10:30:00.000Z", ""},
		{f(TypeReference, ref), "001D000000IRFma", "001D000000IRFmaIAH", ""},
		{f(TypeReference, ref), "001d000000irfmaiah", "001D000000IRFmaIAH", ""},
		{f(TypeReference, ref), "A-1", nil, CodeMalformedID},
	}
	for _, tt := range tests {
		got, err := coerce(tt.field, tt.in)
		if tt.code != "" {
			require.NotNil(t, err, "%s %v", tt.field.Type, tt.in)
			require.Equal(t, tt.code, err.StatusCode, "%s %v: %s", tt.field.Type, tt.in, err.Message)
			require.Equal(t, []string{"F__c"}, err.Fields)
			continue
		}
		require.Nil(t, err, "%s %v", tt.field.Type, tt.in)
		require.Equal(t, tt.want, got, "%s %v", tt.field.Type, tt.in)
	}
}

func TestIndexKey(t *testing.T) {
	t.Parallel()
	ci := &Field{Type: TypeString}
	cs := &Field{Type: TypeString, CaseSensitive: true}
	require.Equal(t, indexKey(ci, "ABC"), indexKey(ci, "abc"))
	require.NotEqual(t, indexKey(cs, "ABC"), indexKey(cs, "abc"))
	require.Equal(t, indexKey(&Field{Type: TypeInt}, int64(5)), indexKey(&Field{Type: TypeDouble}, 5.0))
}
