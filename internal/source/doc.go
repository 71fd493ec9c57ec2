// Package source holds what the engine needs to drive a source, whatever
// its type: the Source interface (start, stop), Triggerer (run now), the
// queue subject of a source's records, and the admin endpoint that
// triggers a run. The sources themselves live beneath it (pgpoll: PostgreSQL
// tables polled on a schedule).
//
// The contract every source keeps:
//
//   - It publishes each change as a record.Record on Subject(source,
//     collection), with a deterministic ID, and knows nothing of Salesforce.
//   - It saves its checkpoint only after the queue confirmed every record the
//     checkpoint covers, and resumes after the checkpoint when restarted
//     (DESIGN.md invariant 1: a crash between the two re-publishes, the
//     broker drops the duplicates by ID, nothing is lost).
//   - Start fails for what configuration can fix (a missing table or
//     column); a dependency that is down is logged and retried, and the
//     source keeps running.
//   - Stop finishes the page or batch in hand (publish, checkpoint), unless
//     its context ends first.
//
// NewTriggerHandler serves POST /v1/sources/{source}/trigger[?table=…] for
// the admin server, behind the admin token (constant-time comparison);
// `sfbridge trigger` is its client.
package source
