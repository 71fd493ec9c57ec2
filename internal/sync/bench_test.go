package sync

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkMap maps a typical row (the counselors sync of docs/syncs.md):
// the per-record cost of mapping in the delivery loop.
func BenchmarkMap(b *testing.B) {
	s := mustNew(b, contactSync())
	r := rec(map[string]any{
		"id": json.Number("123456"), "last_name": "Okafor", "email": "Ngozi.Okafor@Example.org",
		"opt_out": json.Number("0"), "hours": json.Number("12.50"), "seen": "2024-05-01T10:00:00.123456Z",
		"born": "1990-02-03", "languages": "English,French", "title": "Counselor", "org_id": "ORG-17",
		"updated_at": "2024-05-01T10:00:00.123456Z", "notes": "a longer text field that is not mapped at all",
	})
	a, err := s.Map(r)
	require.NoError(b, err)
	require.Equal(b, "123456", a.Key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Map(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoalesce coalesces a batch of 200 actions over 50 keys.
func BenchmarkCoalesce(b *testing.B) {
	actions := make([]Action, 200)
	for i := range actions {
		actions[i] = Action{Kind: Upsert, Key: string(rune('a' + i%50)), Version: rec(nil).Version}
	}
	b.ReportAllocs()
	for b.Loop() {
		Coalesce(actions)
	}
}
