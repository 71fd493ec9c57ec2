// Package statetest is the conformance suite every state.Store runs
// (DESIGN.md §3): Run drives a Store through the contract stated in package
// state — reads and writes, compare-and-set under races, odd keys, listing,
// durability across a restart and sharing between two instances.
package statetest

import (
	"testing"

	"github.com/sfbridge/sfbridge/internal/state"
)

// Harness is one test's view of a backend, from Factory.
type Harness struct {
	// Open returns a Store on this harness's own namespace (empty at first,
	// unseen by other harnesses). Every call returns a new instance sharing
	// the data, as another process on the same backend would.
	Open func(t *testing.T) state.Store
	// Restart stops the backend and starts it again on the same data.
	// Stores opened before are unusable afterwards. Nil when a test cannot
	// restart the backend; NoRestart then says why (the skip message).
	Restart   func(t *testing.T)
	NoRestart string
}

// Factory returns a fresh Harness for one (sub)test; it registers its own
// cleanup with t.
type Factory func(t *testing.T) Harness

// Run runs the whole suite, each case in a parallel subtest with its own
// Harness.
func Run(t *testing.T, newHarness Factory) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"Values", testValues},
		{"Create", testCreate},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"OddKeys", testOddKeys},
		{"List", testList},
		{"ListPrefixes", testListPrefixes},
		{"UpdateRace", testUpdateRace},
		{"CreateRace", testCreateRace},
		{"CounterUnderContention", testCounter},
		{"TwoInstances", testTwoInstances},
		{"SurvivesRestart", testRestart},
		{"Canceled", testCanceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newHarness(t))
		})
	}
}
