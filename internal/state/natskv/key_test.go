package natskv

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/state"
)

// natsKey is the rule nats.go applies to KV keys.
var natsKey = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

func validNATSKey(k string) bool {
	return natsKey.MatchString(k) && !strings.HasPrefix(k, ".") && !strings.HasSuffix(k, ".") && !strings.Contains(k, "..")
}

func TestEncodeKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, want string }{
		{"plain", "plain"},
		{"pgpoll/platform_db/public.counselors", "pgpoll.platform_db.public=2Ecounselors"},
		{"a b:c", "a=20b=3Ac"},
		{"é", "=C3=A9"},
		{"=", "=3D"},
		{"/", "=.="},
		{"/a", "=.a"},
		{"a/", "a.="},
		{"a//b", "a.=.b"},
		{"*>.", "=2A=3E=2E"},
		{"UPPER-lower_09", "UPPER-lower_09"},
	}
	for _, tt := range tests {
		got, err := encodeKey(tt.key)
		require.NoError(t, err)
		require.Equal(t, tt.want, got, tt.key)
		require.True(t, validNATSKey(got), got)
		back, err := decodeKey(got)
		require.NoError(t, err)
		require.Equal(t, tt.key, back)
	}
}

func TestEncodeKeyRejects(t *testing.T) {
	t.Parallel()
	_, err := encodeKey("")
	require.ErrorIs(t, err, state.ErrInvalidKey)
	_, err = encodeKey(strings.Repeat("x", state.MaxKeyLen+1))
	require.ErrorIs(t, err, state.ErrInvalidKey)
}

func TestDecodeKeyRejectsForeignKeys(t *testing.T) {
	t.Parallel()
	for _, enc := range []string{
		"a=2e",  // lowercase hex
		"=41",   // an escaped safe byte
		"a=2F",  // an escaped separator
		"a=",    // truncated escape
		"a=3",   // truncated escape
		"a..b",  // empty token
		"a=ZZb", // not hex
		"a/b",   // '/' is not in the encoding
	} {
		_, err := decodeKey(enc)
		require.Error(t, err, enc)
	}
}

func TestListFilter(t *testing.T) {
	t.Parallel()
	tests := []struct{ prefix, want string }{
		{"", ">"},
		{"pgpoll", ">"},
		{"pgpoll/", "pgpoll.>"},
		{"pgpoll/platform_db/public.c", "pgpoll.platform_db.>"},
		{"/", "=.>"},
		{"a//", "a.=.>"},
		{"é/x", "=C3=A9.>"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, listFilter(tt.prefix), tt.prefix)
	}
}

// FuzzKey checks the mapping is a bijection onto valid NATS keys and keeps
// prefixes: every key starting with p is matched by listFilter(p).
func FuzzKey(f *testing.F) {
	for _, k := range []string{"a", "/", "a//b/", "pgpoll/db/public.t", "é=.*>", "\x00"} {
		f.Add(k, "a/")
	}
	f.Fuzz(func(t *testing.T, key, prefix string) {
		enc, err := encodeKey(key)
		if err != nil {
			require.ErrorIs(t, err, state.ErrInvalidKey)
			return
		}
		require.True(t, validNATSKey(enc), "%q encodes to invalid %q", key, enc)
		back, err := decodeKey(enc)
		require.NoError(t, err)
		require.Equal(t, key, back)
		if strings.HasPrefix(key, prefix) {
			filter := listFilter(prefix)
			if filter != ">" {
				require.True(t, strings.HasPrefix(enc, strings.TrimSuffix(filter, ">")), "filter %q misses %q (%q)", filter, key, enc)
			}
		}
	})
}
