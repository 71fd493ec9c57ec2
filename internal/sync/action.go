package sync

import (
	"fmt"

	"github.com/sfbridge/sfbridge/internal/record"
)

// ActionKind is what a record does in Salesforce.
type ActionKind uint8

// Action kinds.
const (
	// Upsert writes Fields by the external ID (Key / KeyValue).
	Upsert ActionKind = iota + 1
	// Delete deletes the Salesforce record whose external ID is KeyValue.
	Delete
	// Skip does nothing: the record is filtered by the sync's rules (the
	// `from` glob, `when`, or a delete under `deletes: ignore`). It is
	// counted, not an error (DESIGN.md invariant 6); Reason says why.
	Skip
)

// String returns "upsert", "delete" or "skip".
func (k ActionKind) String() string {
	switch k {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is what one record does in Salesforce, as Map decided it.
type Action struct {
	Kind ActionKind
	// Key is the external ID value as canonical text: a string as it is, a
	// number in plain decimal without exponent or trailing zeros ("1.5E3"
	// and "1500.0" both give "1500"). Coalescing and the version guard key
	// on it. Empty for Skip.
	Key string
	// KeyValue is the external ID value as sent to Salesforce (a string or
	// a number). Nil for Skip.
	KeyValue any
	// Fields is the row for salesforce.Sink.Write (Upsert only): Salesforce
	// field → value, the external ID field included; a lookup is
	// Relationship → map[string]any{ParentExternalID: value}. Under
	// `nulls: skip` a nil value is left out (the field is not touched);
	// under `nulls: write` it is nil (the field is cleared; a lookup is
	// cleared by setting its Id field, e.g. AccountId, to nil).
	Fields map[string]any
	// Version is the record's version (DESIGN.md invariant 4).
	Version record.Version
	// Reason says why a record is skipped ("" otherwise).
	Reason string
}

// Coalesce keeps, per Key, only the newest Version among actions (DESIGN.md
// invariant 4: several changes of one key in a batch collapse into the
// newest). It returns the indexes kept, in their original order, and the
// indexes superseded by a newer action of the same key, in their original
// order. Skip actions are always kept (they have no key). Of two actions of
// one key with equal versions the later one is kept; of two whose versions do
// not compare (different kinds), the later one is kept and the earlier is
// superseded: arrival order is the only order known.
func Coalesce(actions []Action) (keep []int, superseded []int) {
	newest := make(map[string]int, len(actions))
	for i, a := range actions {
		if a.Kind == Skip {
			continue
		}
		j, seen := newest[a.Key]
		if !seen {
			newest[a.Key] = i
			continue
		}
		c, err := a.Version.Compare(actions[j].Version)
		if err != nil || c >= 0 {
			newest[a.Key] = i
		}
	}
	for i, a := range actions {
		if a.Kind == Skip || newest[a.Key] == i {
			keep = append(keep, i)
		} else {
			superseded = append(superseded, i)
		}
	}
	return keep, superseded
}
