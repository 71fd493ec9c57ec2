// Package sync compiles the `syncs` of a config into mappings from raw
// records to Salesforce actions. Importers alias it (sfsync) because its name
// shadows the standard library's sync.
//
// A Sync is built once from config (New, or Compile for every sync of a
// config): its `when` filter and its field expressions are compiled then, so
// a typo is a start-up problem with its YAML path, never a runtime surprise.
// After that a Sync is immutable and safe for concurrent use.
//
// Contract:
//
//   - Map is pure: no I/O, no clock (the expression language has no now()),
//     so one record always maps to the same Action — a dead-lettered record
//     replayed through the current mapping gives what the mapping says today
//     (DESIGN.md §1).
//   - Every record ends as exactly one Action or an error (invariant 6):
//     Upsert, Delete, or Skip with a Reason (filtered by `from`'s glob or by
//     `when`, or a delete under `deletes: ignore`). An error from Map is
//     permanent: the record or the mapping is wrong, and retrying cannot
//     help; it names the field and its expression.
//   - The external ID value must be a non-empty text or number; the Action's
//     Key is its canonical text, the key coalescing and the version guard use
//     (invariant 4).
//   - Coalesce keeps, per Key, only the newest Version of a batch
//     (invariant 4: several changes of one key collapse into the newest).
//   - Check compares a Sync with the org's describe and names every problem
//     with its YAML path; it never changes the Sync.
//
// The mapping language (expr-lang/expr with sfbridge's functions) is
// documented in docs/syncs.md.
package sync
