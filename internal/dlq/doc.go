// Package dlq is the dead-letter queue as sfbridge's users see it: the
// entries a sync gave up on, kept with the raw record and every attempt's
// error, and the four things an operator does with them — list, show,
// replay, drop (`sfbridge dlq …`).
//
// # Entries
//
// An Entry is one dead letter, stored as the body of a message under
// "dlq.<sync>" in the queue's DLQ (internal/queue). Its JSON form is
// versioned by "v" (EntryVersion; testdata/entry_v1.json pins it) and holds:
//
//   - the raw message exactly as the sync received it (subject, message ID,
//     headers, the record's bytes — embedded as JSON when they are compact
//     JSON, else base64 — and when the broker stored it), so that a replay
//     republishes the same bytes and a record that could not be decoded is
//     kept whole (DESIGN.md invariant 7);
//   - the record's identity when it decoded (id, source, collection, op,
//     key, version), for people and filters;
//   - every record-level attempt's error (code, message, fields, class, time)
//     oldest first, and the final reason: decode, mapping, permanent or
//     max_attempts (invariant 6: nothing is dropped without its reason).
//
// The entry's message ID is derived from the sync and the original message
// ID (MessageID), so dead-lettering the same delivery twice — a crash
// between the DLQ write and the ack — stores it once while inside the
// broker's deduplication window (DESIGN.md invariant 5: idempotent effects).
//
// # Replay
//
// Replay republishes the raw record to its original subject under "in." with
// a fresh message ID (ReplayID: derived from the entry's sequence, so a
// replay retried after a crash is deduplicated (invariant 5), while a record replayed,
// dead-lettered and replayed again is not), then deletes the entry (persist,
// then delete: invariant 1). The record runs through the sync's current
// mapping, so fixing a mapping and replaying fixes the data.
//
// A message on an "in." subject reaches every sync whose filter matches it.
// Replay targets only the entry's sync: it sets the header HeaderReplayFor
// to the sync's name, and the delivery loop of every other sync acks such a
// message and counts it as filtered (internal/deliver). Replay refuses an
// entry whose sync has no durable consumer: with interest retention the
// republished record would be kept by nobody and lost once the entry is
// deleted.
package dlq
