package sync

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/record"
)

func TestCoalesce(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int) record.Version { return record.TimeVersion(t0.Add(time.Duration(sec)*time.Second), 0) }
	up := func(key string, v record.Version) Action { return Action{Kind: Upsert, Key: key, Version: v} }
	del := func(key string, v record.Version) Action { return Action{Kind: Delete, Key: key, Version: v} }
	tests := []struct {
		name       string
		actions    []Action
		keep, supd []int
	}{
		{"empty", nil, nil, nil},
		{"distinct keys", []Action{up("a", at(1)), up("b", at(1))}, []int{0, 1}, nil},
		{"newest last", []Action{up("a", at(1)), up("a", at(2)), up("a", at(3))}, []int{2}, []int{0, 1}},
		{"newest first: an older retry arrives later", []Action{up("a", at(3)), up("a", at(1)), up("a", at(2))}, []int{0}, []int{1, 2}},
		{"delete supersedes an older upsert", []Action{up("a", at(1)), del("a", at(2))}, []int{1}, []int{0}},
		{"an older delete is superseded", []Action{up("a", at(2)), del("a", at(1))}, []int{0}, []int{1}},
		{"equal versions: the later wins", []Action{up("a", at(1)), up("a", at(1))}, []int{1}, []int{0}},
		{"seq breaks ties", []Action{up("a", record.TimeVersion(t0, 2)), up("a", record.TimeVersion(t0, 1))}, []int{0}, []int{1}},
		{"lsn", []Action{up("a", record.LSNVersion(200, 0)), up("a", record.LSNVersion(100, 5))}, []int{0}, []int{1}},
		{"incomparable: the later wins", []Action{up("a", record.LSNVersion(200, 0)), up("a", at(1))}, []int{1}, []int{0}},
		{"unset version: the later wins", []Action{up("a", at(9)), up("a", record.Version{})}, []int{1}, []int{0}},
		{"skips are kept", []Action{{Kind: Skip}, up("a", at(1)), {Kind: Skip}, up("a", at(2))}, []int{0, 2, 3}, []int{1}},
		{"keys are exact text", []Action{up("A", at(2)), up("a", at(1))}, []int{0, 1}, nil},
		{"interleaved", []Action{up("a", at(1)), up("b", at(5)), up("a", at(3)), up("b", at(4)), up("c", at(1))}, []int{1, 2, 4}, []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keep, supd := Coalesce(tt.actions)
			require.Equal(t, tt.keep, keep)
			require.Equal(t, tt.supd, supd)
			require.Equal(t, len(tt.actions), len(keep)+len(supd), "every action is kept or superseded")
		})
	}
}

func TestActionKindString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "upsert", Upsert.String())
	require.Equal(t, "delete", Delete.String())
	require.Equal(t, "skip", Skip.String())
	require.Equal(t, "ActionKind(0)", ActionKind(0).String())
}
