package record

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonNumberOracle is what isJSONNumber replaced: encoding/json's own
// reading of a number, nothing around it.
func jsonNumberOracle(s string) bool {
	var n json.Number
	return s != "" && json.Unmarshal([]byte(s), &n) == nil && string(n) == s
}

func TestIsJSONNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0", true}, {"-0", true}, {"7", true}, {"-12", true}, {"10.25", true},
		{"1e5", true}, {"1E+5", true}, {"-2.5e-03", true}, {"0.0", true},
		{"123456789012345678901234567890", true},
		{"", false}, {"-", false}, {"+1", false}, {"01", false}, {"-01", false},
		{"1.", false}, {".5", false}, {"1e", false}, {"1e+", false}, {"1.e5", false},
		{" 1", false}, {"1 ", false}, {"12abc", false}, {"0x10", false}, {"NaN", false},
		{"Infinity", false}, {"1_000", false}, {"١", false},
	} {
		require.Equal(t, tc.want, isJSONNumber(tc.in), "%q", tc.in)
		require.Equal(t, jsonNumberOracle(tc.in), isJSONNumber(tc.in), "%q: encoding/json disagrees", tc.in)
	}
}

func FuzzIsJSONNumber(f *testing.F) {
	for _, s := range []string{"0", "-1.5e+10", "01", "1.", "", "12abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		require.Equal(t, jsonNumberOracle(s), isJSONNumber(s), "%q", s)
	})
}
