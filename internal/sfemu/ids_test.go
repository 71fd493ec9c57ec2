package sfemu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTo18KnownIDs(t *testing.T) {
	t.Parallel()
	// Vectors from the fact sheet §11 (real org Ids and go-salesforce-id's tests).
	for id15, want := range map[string]string{
		"001D000000IRFma": "001D000000IRFmaIAH",
		"0018a00001rBqb8": "0018a00001rBqb8AAC",
		"a0Ab00000FooBaR": "a0Ab00000FooBaREQU",
		"AAAAAAAAAAAAAAA": "AAAAAAAAAAAAAAA555",
		"003D000000IRFma": "003D000000IRFmaIAH",
		"000000000000000": "000000000000000AAA",
	} {
		require.Equal(t, want, To18(id15), id15)
	}
}

func TestNormalizeID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"001D000000IRFma", "001D000000IRFmaIAH", true},
		{"001D000000IRFmaIAH", "001D000000IRFmaIAH", true},
		{"001d000000irfmaiah", "001D000000IRFmaIAH", true}, // 18-char Ids are case-insensitive
		{"001D000000IRFMAIAH", "001D000000IRFmaIAH", true}, // the checksum restores the case
		{"0018a00001rBqb8aac", "0018a00001rBqb8AAC", true},
		{"001D000000IRFmaIAX", "001D000000IRFmAIAX", true}, // the checksum wins over the body's case
		{"001D000000IRFmaJAH", "", false},                  // checksum marks a digit as upper-case
		{"001D000000IRFmaIA9", "", false},                  // not a checksum character
		{"001D000000IRFm", "", false},
		{"001D000000IRFma-AH", "", false},
		{"", "", false},
		{"A-1", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeID(tt.in)
		require.Equal(t, tt.ok, ok, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestMakeIDIsValidAndOrdered(t *testing.T) {
	t.Parallel()
	a, b := makeID("003", "Sc", 61), makeID("003", "Sc", 62)
	require.Equal(t, "003Sc000000000z", a[:15])
	require.Equal(t, "003Sc0000000010", b[:15])
	for _, id := range []string{a, b} {
		n, ok := NormalizeID(id)
		require.True(t, ok)
		require.Equal(t, id, n)
		require.Len(t, id, 18)
	}
}
