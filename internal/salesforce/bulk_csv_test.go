package salesforce

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// oddRows are values that break naive CSV writers.
func oddRows() []map[string]any {
	return []map[string]any{
		{"Ext__c": "K-1", "Name": `Quote "inside"`, "Note__c": "comma, and\nnewline", "Amount__c": 1.5e-7, "Count__c": 12, "Flag__c": true},
		{"Ext__c": "K-2", "Name": "Ünïcödé 日本語 🚀", "Note__c": nil, "When__c": time.Date(2024, 1, 31, 23, 59, 59, 999e6, time.UTC), "Day__c": Date{2024, 2, 29}},
		{"Ext__c": "K-3", "Name": " leading and trailing space ", "Note__c": "", "Amount__c": json.Number("1E+21"), "Account": map[string]any{"Org_Id__c": "ORG,1"}},
		{"Ext__c": "K-4", "Name": "crlf\r\nline", "Note__c": `\backslash\ and 'single'`, "Lead:Who.Email": "w@x.y"},
		{"Ext__c": "K-5", "Name": "only name"},
	}
}

func prepareAll(t *testing.T, rows []map[string]any, ext string) []*prepared {
	t.Helper()
	ps := make([]*prepared, len(rows))
	for i, r := range rows {
		p := prepareRow(i, r, ext)
		require.NoError(t, p.err)
		ps[i] = &p
	}
	return ps
}

func TestWriteCSVGolden(t *testing.T) {
	t.Parallel()
	ps := prepareAll(t, oddRows(), "Ext__c")
	cols, err := csvColumns(ps, "Ext__c")
	require.NoError(t, err)
	var buf bytes.Buffer
	n, err := writeCSV(&buf, cols, ps, DefaultBulkMaxBytes)
	require.NoError(t, err)
	require.Equal(t, len(ps), n)

	golden := filepath.Join("testdata", "bulk_upsert.csv")
	if *update {
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), buf.String())
}

// TestCSVRoundTrip parses the written CSV back as an RFC 4180 reader (what
// Salesforce does) and checks every value survived: nulls as #N/A, absent
// fields empty, odd text intact.
func TestCSVRoundTrip(t *testing.T) {
	t.Parallel()
	rows := oddRows()
	ps := prepareAll(t, rows, "Ext__c")
	cols, err := csvColumns(ps, "Ext__c")
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = writeCSV(&buf, cols, ps, DefaultBulkMaxBytes)
	require.NoError(t, err)
	require.NotContains(t, buf.String(), "e+", "numbers are written without exponent")

	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, len(rows)+1)
	head := recs[0]
	require.Equal(t, "Ext__c", head[0], "the key column comes first")
	at := map[string]int{}
	for i, h := range head {
		at[h] = i
	}
	want := map[string][]string{
		"Ext__c": {"K-1", "K-2", "K-3", "K-4", "K-5"},
		// encoding/csv's reader drops a \r before \n even inside quotes; the
		// written bytes keep it (see the golden file).
		"Name":              {`Quote "inside"`, "Ünïcödé 日本語 🚀", " leading and trailing space ", "crlf\nline", "only name"},
		"Note__c":           {"comma, and\nnewline", "#N/A", "#N/A", `\backslash\ and 'single'`, ""},
		"Amount__c":         {"0.00000015", "", "1000000000000000000000", "", ""},
		"Count__c":          {"12", "", "", "", ""},
		"Flag__c":           {"true", "", "", "", ""},
		"When__c":           {"", "2024-01-31T23:59:59.999Z", "", "", ""},
		"Day__c":            {"", "2024-02-29", "", "", ""},
		"Account.Org_Id__c": {"", "", "ORG,1", "", ""},
		"Lead:Who.Email":    {"", "", "", "w@x.y", ""},
	}
	require.Len(t, head, len(want))
	for col, vals := range want {
		i, ok := at[col]
		require.True(t, ok, "column %s", col)
		for r, v := range vals {
			require.Equal(t, v, recs[r+1][i], "row %d column %s", r, col)
		}
	}
}

func TestWriteCSVStopsAtMaxBytes(t *testing.T) {
	t.Parallel()
	var rows []map[string]any
	for i := range 100 {
		rows = append(rows, map[string]any{"Ext__c": strings.Repeat("x", 5) + string(rune('A'+i%26)) + strings.Repeat("0", i%3), "Name": strings.Repeat("n", 90)})
	}
	ps := prepareAll(t, rows, "Ext__c")
	cols, err := csvColumns(ps, "Ext__c")
	require.NoError(t, err)
	var buf bytes.Buffer
	n, err := writeCSV(&buf, cols, ps, 1000)
	require.NoError(t, err)
	require.Greater(t, n, 5)
	require.Less(t, n, 12)
	require.LessOrEqual(t, buf.Len(), 1000)
	require.Equal(t, n+1, strings.Count(buf.String(), "\n"))

	// A single row larger than the limit still goes alone.
	buf.Reset()
	n, err = writeCSV(&buf, cols, ps, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestParseSFError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want RecordError
	}{
		{"REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [Name]", Fields: []string{"Name"}}},
		{"INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--", RecordError{Code: "INVALID_CROSS_REFERENCE_KEY", Message: "invalid cross reference id"}},
		{"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: 001xx000003DGb2AAG:--", RecordError{Code: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record or 1 records: 001xx000003DGb2AAG"}},
		{"INVALID_FIELD:Foreign key external ID: c9 not found for field Org_Id__c in entity Account:--", RecordError{Code: "INVALID_FIELD", Message: "Foreign key external ID: c9 not found for field Org_Id__c in entity Account"}},
		{"FIELD_CUSTOM_VALIDATION_EXCEPTION:Error: amount too big", RecordError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Error: amount too big"}},
		{"STRING_TOO_LONG:Name: data value too large:Name,Description --", RecordError{Code: "STRING_TOO_LONG", Message: "Name: data value too large", Fields: []string{"Name", "Description"}}},
		{"something odd", RecordError{Code: "UNKNOWN", Message: "something odd"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, *parseSFError(tt.in), tt.in)
	}
}

func TestReadResults(t *testing.T) {
	t.Parallel()
	in := "\"sf__Id\",\"sf__Created\",customExtIdField__c,name\n" +
		"\"0018c00002DJIpJAAX\",\"true\",\"123\",\"GenePoint\"\n" +
		"\"0018c00002DJIpKAAX\",\"false\",\"a,b\",\"multi\nline\"\n"
	var got []resultRow
	require.NoError(t, readResults(strings.NewReader(in), "CustomExtIdField__c", func(r resultRow) { got = append(got, r) }))
	require.Equal(t, []resultRow{
		{id: "0018c00002DJIpJAAX", created: true, key: "123"},
		{id: "0018c00002DJIpKAAX", created: false, key: "a,b"},
	}, got)

	require.NoError(t, readResults(strings.NewReader(""), "X", func(resultRow) { t.Fatal("no rows expected") }))
	require.ErrorContains(t, readResults(strings.NewReader("sf__Id,Other\n1,2\n"), "Ext__c", func(resultRow) {}), "no Ext__c column")
}

func TestRowMatcher(t *testing.T) {
	t.Parallel()
	ps := []*prepared{{key: cell{kind: cellString, text: "Abc"}}, {key: cell{kind: cellNumber, text: "1500"}}}
	m := newRowMatcher(ps, false)
	for key, want := range map[string]int{"Abc": 0, "ABC": 0, "1500": 1, "1500.0": 1, "1.5E3": 1} {
		i, ok := m.match(key)
		require.True(t, ok, key)
		require.Equal(t, want, i, key)
	}
	_, ok := m.match("nope")
	require.False(t, ok)

	ids := newRowMatcher([]*prepared{{key: cell{kind: cellString, text: "001D000000IRFma"}}}, true)
	i, ok := ids.match("001D000000IRFmaIAH")
	require.True(t, ok)
	require.Equal(t, 0, i)
	_, ok = ids.match("001D000000IRFMAIAH")
	require.False(t, ok, "Ids compare case-sensitively on 15 characters")
}

func TestUniqueWaves(t *testing.T) {
	t.Parallel()
	mk := func(i int, k string) *prepared { return &prepared{index: i, key: cell{text: k}} }
	ps := []*prepared{mk(0, "a"), mk(1, "b"), mk(2, "A"), mk(3, "a"), mk(4, "c")}
	waves := uniqueWaves(ps, (*prepared).keyFold)
	idx := func(w []*prepared) (out []int) {
		for _, p := range w {
			out = append(out, p.index)
		}
		return out
	}
	require.Len(t, waves, 3)
	require.Equal(t, []int{0, 1, 4}, idx(waves[0]))
	require.Equal(t, []int{2}, idx(waves[1]))
	require.Equal(t, []int{3}, idx(waves[2]))
}
