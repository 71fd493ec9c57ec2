package sfemu

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// scanAll reads every record of data.
func scanAll(t *testing.T, data string, f bulkCSVFormat) ([][]string, error) {
	t.Helper()
	s := newBulkCSVScanner([]byte(data), f)
	var out [][]string
	for {
		fields, start, end, ok, err := s.next(nil)
		if err != nil || !ok {
			return out, err
		}
		require.Equal(t, fields, f.fieldsAt([]byte(data), start, end), "re-reading a record's range")
		out = append(out, append([]string(nil), fields...))
	}
}

func TestBulkCSVScanner(t *testing.T) {
	t.Parallel()
	lf, crlf := bulkCSVFormat{delim: ','}, bulkCSVFormat{delim: ',', crlf: true}
	tests := []struct {
		name string
		in   string
		f    bulkCSVFormat
		want [][]string
		err  string
	}{
		{"plain", "a,b\n1,2\n", lf, [][]string{{"a", "b"}, {"1", "2"}}, ""},
		{"no final newline", "a,b\n1,2", lf, [][]string{{"a", "b"}, {"1", "2"}}, ""},
		{"empty fields", ",\n,x,\n", lf, [][]string{{"", ""}, {"", "x", ""}}, ""},
		{"quotes", "\"a,\"\"b\"\"\",\"\"\n", lf, [][]string{{`a,"b"`, ""}}, ""},
		{"newline in quotes", "\"a\nb\",c\n", lf, [][]string{{"a\nb", "c"}}, ""},
		{"blank lines skipped", "a\n\n\nb\n", lf, [][]string{{"a"}, {"b"}}, ""},
		{"not trimmed", " a , b \n", lf, [][]string{{" a ", " b "}}, ""},
		{"bare quote inside a field", "a\"b,c\n", lf, [][]string{{`a"b`, "c"}}, ""},
		{"CRLF", "a,b\r\n1,\"x\r\ny\"\r\n", crlf, [][]string{{"a", "b"}, {"1", "x\r\ny"}}, ""},
		{"LF inside a CRLF record", "a\nb,c\r\n", crlf, [][]string{{"a\nb", "c"}}, ""},
		{"CR kept in LF mode", "a\r\n", lf, [][]string{{"a\r"}}, ""},
		{"unterminated", "a\n\"b\n", lf, [][]string{{"a"}}, "unterminated quoted field in row 2"},
		{"text after a closing quote", "\"a\"b,c\n", lf, nil, `unexpected character 'b' after a closing quote in row 1`},
	}
	for _, tc := range tests {
		got, err := scanAll(t, tc.in, tc.f)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, tc.name)
		} else {
			require.NoError(t, err, tc.name)
		}
		require.Equal(t, tc.want, got, tc.name)
	}
}

// FuzzBulkCSVRoundTrip writes records the way clients quote them and
// checks the scanner reads back the same fields with every delimiter and
// line ending.
func FuzzBulkCSVRoundTrip(f *testing.F) {
	f.Add("a", "b,c", "say \"hi\"", byte(','), false)
	f.Add("", "line\nbreak", "Zoë", byte('\t'), true)
	f.Add("x^y", "`", "|;", byte('^'), false)
	f.Fuzz(func(t *testing.T, a, b, c string, delim byte, crlf bool) {
		if strings.IndexByte(",\t|;^`", delim) < 0 {
			t.Skip()
		}
		fm := bulkCSVFormat{delim: delim, crlf: crlf}
		rec := []string{a, b, c}
		var sb strings.Builder
		for i, v := range rec {
			if i > 0 {
				sb.WriteByte(delim)
			}
			sb.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
		}
		sb.WriteString(fm.eol())
		got, err := scanAll(t, sb.String()+sb.String(), fm)
		require.NoError(t, err)
		require.Equal(t, [][]string{rec, rec}, got)
	})
}
