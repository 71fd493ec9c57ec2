package salesforce

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestToCell(t *testing.T) {
	t.Parallel()
	s := "ptr"
	var nilPtr *string
	type myString string
	tests := []struct {
		name    string
		in      any
		json    any
		csv     string
		wantErr string
	}{
		{"nil", nil, nil, "#N/A", ""},
		{"empty string is null in CSV", "", "", "#N/A", ""},
		{"string", "Ünïcödé, \"quoted\"\n", "Ünïcödé, \"quoted\"\n", "Ünïcödé, \"quoted\"\n", ""},
		{"bool", true, true, "true", ""},
		{"int", 42, json.Number("42"), "42", ""},
		{"negative int64", int64(-9007199254740993), json.Number("-9007199254740993"), "-9007199254740993", ""},
		{"uint64 max", uint64(math.MaxUint64), json.Number("18446744073709551615"), "18446744073709551615", ""},
		{"small float no exponent", 1e-7, json.Number("0.0000001"), "0.0000001", ""},
		{"large float no exponent", 1.5e21, json.Number("1500000000000000000000"), "1500000000000000000000", ""},
		{"float32", float32(0.1), json.Number("0.1"), "0.1", ""},
		{"json.Number with exponent", json.Number("1.25E3"), json.Number("1250"), "1250", ""},
		{"json.Number negative exponent", json.Number("-12e-4"), json.Number("-0.0012"), "-0.0012", ""},
		{"datetime in UTC with millis", time.Date(2024, 1, 31, 10, 0, 0, 123456789, time.FixedZone("X", 3600)), "2024-01-31T09:00:00.123Z", "2024-01-31T09:00:00.123Z", ""},
		{"date", Date{2024, time.February, 29}, "2024-02-29", "2024-02-29", ""},
		{"bytes", []byte("hi"), "aGk=", "aGk=", ""},
		{"multi-select picklist", []string{"A", "B c"}, "A;B c", "A;B c", ""},
		{"multi-select from []any", []any{"A", "B"}, "A;B", "A;B", ""},
		{"pointer", &s, "ptr", "ptr", ""},
		{"nil pointer", nilPtr, nil, "#N/A", ""},
		{"named string", myString("x"), "x", "x", ""},
		{"NaN", math.NaN(), nil, "", "not a number"},
		{"Inf", math.Inf(1), nil, "", "not a number"},
		{"bad number", json.Number("1..2"), nil, "", "not a number"},
		{"huge exponent", json.Number("1e999"), nil, "", "exponent out of range"},
		{"invalid UTF-8", "\xff", nil, "", "UTF-8"},
		{"struct", struct{}{}, nil, "", "unsupported value type"},
		{"picklist item with ;", []string{"a;b"}, nil, "", "contains ';'"},
		{"list of numbers", []any{1}, nil, "", "must hold strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := toCell(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.json, c.json())
			require.Equal(t, tt.csv, c.csv())
		})
	}
}

func TestPlainNumber(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"0": "0", "-0": "-0", "12": "12", "1.50": "1.50",
		"1e3": "1000", "1E+3": "1000", "1.5e3": "1500", "1.2345e2": "123.45",
		"12e-4": "0.0012", "-1.5e-1": "-0.15", "0e10": "0", "-0e-3": "0",
		"123456789012345678901234567890e-30": "0.12345678901234567890123456789",
		"9.12260031E8":                       "912260031",
	}
	for in, want := range tests {
		got, err := plainNumber(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "+1", "01", ".5", "1.", "1e", "abc", "1e401"} {
		_, err := plainNumber(bad)
		require.Error(t, err, bad)
	}
}

func TestNumericKey(t *testing.T) {
	t.Parallel()
	require.Equal(t, numericKey("1500"), numericKey("1500.0"))
	require.Equal(t, numericKey("1500"), numericKey("1.5E3"))
	require.NotEqual(t, numericKey("1500"), numericKey("1501"))
	require.Empty(t, numericKey("A-1"))
}

func TestPrepareRow(t *testing.T) {
	t.Parallel()
	p := prepareRow(3, map[string]any{
		"counselor_id__c":  "C-1",
		"LastName":         "O'Brien",
		"Account":          map[string]any{"Org_Id__c": "ORG-1"},
		"Owner.Email":      "a@b.c",
		"Lead:Who.Email":   "w@x.y",
		"Email":            nil,
		"NumberOfReports":  json.Number("2e1"),
		"What":             map[string]any{"attributes": map[string]any{"type": "Case"}, "Ext__c": "K"},
		"Birthdate":        Date{1990, time.May, 1},
		"HasOptedOutOfFax": false,
	}, "Counselor_Id__c")
	require.NoError(t, p.err)
	require.Equal(t, 3, p.index)
	require.Equal(t, "C-1", p.key.text)
	rec := p.jsonRecord("Contact")
	got, err := json.Marshal(rec)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"attributes": {"type": "Contact"},
		"Counselor_Id__c": "C-1",
		"LastName": "O'Brien",
		"Account": {"Org_Id__c": "ORG-1"},
		"Owner": {"Email": "a@b.c"},
		"Who": {"attributes": {"type": "Lead"}, "Email": "w@x.y"},
		"What": {"attributes": {"type": "Case"}, "Ext__c": "K"},
		"Email": null,
		"NumberOfReports": 20,
		"Birthdate": "1990-05-01",
		"HasOptedOutOfFax": false
	}`, string(got))

	// Record metadata as a query returns it is not a field.
	q := prepareRow(0, map[string]any{"attributes": map[string]any{"type": "Contact", "url": "/x"}, "Ext__c": "k"}, "Ext__c")
	require.NoError(t, q.err)
	require.Len(t, q.cols, 1)

	bad := []struct {
		row  map[string]any
		want string
	}{
		{map[string]any{"Name": "x"}, "the external ID field Ext__c is missing"},
		{map[string]any{"Ext__c": nil}, "null or empty"},
		{map[string]any{"Ext__c": ""}, "null or empty"},
		{map[string]any{"Ext__c": true}, "must be text or a number"},
		{map[string]any{"Ext__c": "k", "Id": "001000000000001"}, "must not set Id"},
		{map[string]any{"Ext__c": "k", "Name": "a", "name": "b"}, "set twice"},
		{map[string]any{"Ext__c": "k", "Bad Name": 1}, "not a field name"},
		{map[string]any{"Ext__c": "k", "Acc.Ext.X": 1}, "not a field name"},
		{map[string]any{"Ext__c": "k", "Lead:Email": 1}, "not a field name"},
		{map[string]any{"Ext__c": "k", "Account": map[string]any{}}, "names no parent field"},
		{map[string]any{"Ext__c": "k", "Account": map[string]any{"A": 1, "B": 2}}, "exactly one parent field"},
		{map[string]any{"Ext__c": "k", "Account": map[string]any{"Org_Id__c": nil}}, "to clear the lookup"},
		{map[string]any{"Ext__c": "k", "Account": map[string]any{"attributes": "x", "Org_Id__c": 1}}, "attributes must be"},
		{map[string]any{"Ext__c": "k", "Amount": math.NaN()}, `field "Amount"`},
	}
	for _, b := range bad {
		p := prepareRow(0, b.row, "Ext__c")
		require.ErrorContains(t, p.err, b.want)
		require.True(t, IsRecordError(p.err))
		require.Equal(t, ClassPermanent, Classify(p.err).Class)
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"Account", "Org_Id__c", "ns__Obj__c", "A1"} {
		require.NoError(t, checkName("object", ok))
	}
	for _, bad := range []string{"", "1A", "Acc/../x", "A B", "_a", "Account?x"} {
		err := checkName("object", bad)
		require.Error(t, err, bad)
		require.Equal(t, ClassFatal, Classify(err).Class)
	}
}

func TestSOQLString(t *testing.T) {
	t.Parallel()
	require.Equal(t, `'O\'Brien \\ "x" \n'`, soqlString("O'Brien \\ \"x\" \n"))
}
