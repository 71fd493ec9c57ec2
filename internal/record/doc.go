// Package record defines the unit that flows from sources through the queue
// to the syncs: a Record is one change of one keyed item (a table row, an
// application event), carried raw — it knows nothing of Salesforce.
//
// A Record carries:
//   - Source, Collection and Key: which item changed (Key is the source's own
//     key, an ordered list of name → scalar pairs).
//   - Op: insert, update, upsert (the source cannot tell insert from update:
//     polls, snapshots, events) or delete (Payload may be nil).
//   - Version: orders the changes of one key (DESIGN.md invariant 4). Three
//     kinds — a Postgres commit LSN, a row timestamp, an event time — each with
//     a tie-breaking sequence. Versions of different kinds do not compare.
//   - ID: derived from Source, Collection, Key and Version (DeriveID), so a
//     change re-published after a crash gets the same ID and the broker drops
//     the duplicate (invariant 5).
//   - Position: opaque bytes owned by the source, saved as its checkpoint
//     once the broker confirmed the publish (invariant 1). MarshalPosition and
//     UnmarshalPosition frame a source's typed, versioned position struct.
//
// Encode and Decode convert a Record to and from its envelope, the JSON wire
// format (see envelope.go for the type mapping). The envelope is versioned by
// its "v" field; Decode rejects versions it does not know.
package record
