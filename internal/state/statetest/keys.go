package statetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/state"
)

// OddKeys are keys every Store must round-trip unchanged.
var OddKeys = []string{
	"pgpoll/platform_db/public.counselors",
	"files/platform events/2024-05-01 10:00:00.jsonl",
	"s3:bucket:key with spaces",
	"http/événements/救援",
	"emoji/🚀/👩‍⚕️",
	"/leading/slash",
	"trailing/slash/",
	"double//slash",
	"/",
	"//",
	".",
	"..",
	"a.b..c.",
	"*",
	">",
	"a.*.>",
	"=",
	"=41",
	"=2E",
	"%2F percent",
	"tab\there\nnewline",
	"nul\x00byte",
	"$KV.fake.subject",
	"_INBOX.x",
	"quotes'\"`\\",
	"UPPER lower 0123456789 -_",
	strings.Repeat("é", state.MaxKeyLen/2), // longest key, all multi-byte
}

func testOddKeys(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	for i, key := range OddKeys {
		_, err := s.Put(ctx, key, []byte{byte(i)})
		require.NoError(t, err, "put %q", key)
	}
	for i, key := range OddKeys {
		e, err := s.Get(ctx, key)
		require.NoError(t, err, "get %q", key)
		require.Equal(t, key, e.Key)
		require.Equal(t, []byte{byte(i)}, e.Value, "key %q reads its own value", key)
	}
	entries, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, sorted(OddKeys), keysOf(entries), "List returns the original keys")
	for _, e := range entries {
		require.Equal(t, []byte{byte(slices.Index(OddKeys, e.Key))}, e.Value, e.Key)
	}
}

func testList(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	entries, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, entries, "a new namespace is empty")

	revs := map[string]uint64{}
	for _, key := range []string{"b", "a/2", "a/1", "c/x/y"} {
		rev, err := s.Put(ctx, key, []byte("v-"+key))
		require.NoError(t, err)
		revs[key] = rev
	}
	// Overwrites and deletes show as the latest value, or not at all.
	rev, err := s.Put(ctx, "a/1", []byte("v-a/1 new"))
	require.NoError(t, err)
	revs["a/1"] = rev
	require.NoError(t, s.Delete(ctx, "b", 0))
	delete(revs, "b")

	entries, err = s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"a/1", "a/2", "c/x/y"}, keysOf(entries))
	for _, e := range entries {
		require.Equal(t, revs[e.Key], e.Revision, e.Key)
		want := "v-" + e.Key
		if e.Key == "a/1" {
			want += " new"
		}
		require.Equal(t, want, string(e.Value))
		require.False(t, e.Updated.IsZero())
	}
}

func testListPrefixes(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	keys := []string{
		"pgpoll/platform_db/public.counselors",
		"pgpoll/platform_db/public.rescues",
		"pgpoll/platform_db2/public.counselors",
		"pgpoll/platform db/x",
		"pgpoll",
		"pgpollx",
		"pgcdc/platform_db/slot",
		"files/événements/a",
		"files/événements//b",
		"files/évé",
		"/root",
	}
	for _, key := range keys {
		_, err := s.Put(ctx, key, []byte("x"))
		require.NoError(t, err, key)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", sorted(keys)},
		{"pgpoll", []string{"pgpoll", "pgpoll/platform db/x", "pgpoll/platform_db/public.counselors", "pgpoll/platform_db/public.rescues", "pgpoll/platform_db2/public.counselors", "pgpollx"}},
		{"pgpoll/", []string{"pgpoll/platform db/x", "pgpoll/platform_db/public.counselors", "pgpoll/platform_db/public.rescues", "pgpoll/platform_db2/public.counselors"}},
		{"pgpoll/platform_db", []string{"pgpoll/platform_db/public.counselors", "pgpoll/platform_db/public.rescues", "pgpoll/platform_db2/public.counselors"}},
		{"pgpoll/platform_db/", []string{"pgpoll/platform_db/public.counselors", "pgpoll/platform_db/public.rescues"}},
		{"pgpoll/platform_db/public.r", []string{"pgpoll/platform_db/public.rescues"}},
		{"pgpoll/platform ", []string{"pgpoll/platform db/x"}},
		{"files/événements/", []string{"files/événements//b", "files/événements/a"}},
		{"files/événements//", []string{"files/événements//b"}},
		{"files/év", []string{"files/évé", "files/événements//b", "files/événements/a"}},
		{"files/\xc3", []string{"files/évé", "files/événements//b", "files/événements/a"}}, // half a UTF-8 sequence
		{"/", []string{"/root"}},
		{"nothing/here/", nil},
		{"pgpoll/platform_db/public.counselors/", nil},
	}
	for _, tt := range tests {
		entries, err := s.List(ctx, tt.prefix)
		require.NoError(t, err, "prefix %q", tt.prefix)
		require.Equal(t, tt.want, keysOf(entries), "prefix %q", tt.prefix)
	}
}

func keysOf(entries []state.Entry) []string {
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	return keys
}

func sorted(keys []string) []string {
	return slices.Sorted(slices.Values(keys))
}
