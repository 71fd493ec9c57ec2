// Package queue is the bus of DESIGN.md §1: sources publish raw records into
// it, each sync drains them through its own durable consumer, and records that
// cannot be delivered end in a dead-letter queue (DLQ). The package holds only
// the contract (Queue, Consumer, Delivery, DLQ); the adapters live beneath it
// (natsjs: NATS JetStream, embedded or external) and every adapter runs the
// conformance suite in queuetest.
//
// The queue is bytes-level. A Message is a subject, a deduplication ID, opaque
// data and a few string headers; internal/record produces and reads the bytes.
//
// Subjects. Messages for syncs live under "in." (in.<source>.<collection>),
// dead letters under "dlq." (dlq.<sync>). Tokens are separated by dots; a
// consumer filter may use "*" for one token and a final ">" for the rest.
// Subjects are logical: an adapter may place them in a namespace of its own
// (natsjs prefixes them so several deployments or tests share one server).
//
// The contract every adapter keeps:
//
//   - Publish returns nil only once the broker has stored every message
//     (invariant 1: persist, then ack upstream). A message whose ID the broker
//     has already seen counts as stored. When some messages fail, Publish
//     returns a *BatchError naming each failed index; the caller re-publishes
//     those (or all: deduplication makes that harmless). A cancelled context
//     leaves the unconfirmed messages in an unknown state, reported as failed.
//   - Message IDs are the broker's deduplication keys (invariant 5). They must
//     be deterministic for a record, and different when the same record is
//     deliberately sent again (a DLQ replay must use a fresh ID, or the broker
//     drops it as a duplicate while the original ID is inside the window).
//   - A Consumer is durable and named (one per sync); it sees every message
//     whose subject matches its filter and that was published after it was
//     first created (and may see older ones the broker still holds). Create
//     consumers before the sources start publishing.
//     Several Consumer values with the same name (in one process or several)
//     share the work: each message goes to one of them at a time.
//   - Within one subject, first deliveries come in publish order. Redeliveries
//     (after Nack or an expired ack wait) come back later, out of that order;
//     the sync's version guard (invariant 4) makes that harmless.
//   - Each Delivery must be settled once: Ack (done), Nack with a delay
//     (retry later), or Term (never again: the caller has dead-lettered it or
//     decided to drop it, counted). InProgress pushes the ack deadline out
//     while a slow call runs. A delivery left unsettled comes back after the
//     consumer's ack wait.
//   - Attempt is counted by the broker (1 on first delivery) and so survives
//     restarts. The broker counts deliveries, not failures: the caller decides
//     which attempts to hold against a record (invariant 3). Adapters never
//     give up on a message by themselves: there is no broker-side maximum, the
//     caller dead-letters at max_attempts (invariant 6: nothing silently
//     dropped).
//   - The DLQ keeps entries until they are deleted; it lists them by subject
//     with paging by sequence, and gets and deletes them by sequence.
//
// Every method takes a context and returns promptly with its error once the
// context is done.
package queue
