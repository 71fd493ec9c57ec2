// Package deliver is the delivery loop of one sync: Concurrency workers on
// the sync's durable consumer that fetch records, map them (internal/sync),
// write them to Salesforce through the sink, and settle every record by its
// own result. It enforces DESIGN.md §2's delivery invariants:
//
//   - Invariant 2, never ack a partly failed batch: each record is settled
//     by its own result — success: its version stored, then acked; a
//     retryable record error: nacked with backoff (retry.Policy by failure
//     count, or Salesforce's Retry-After when longer); a permanent one: to
//     the DLQ at once, then terminated; max_attempts failures: to the DLQ,
//     then terminated.
//   - Invariant 3, an outage is not a record's fault: connection errors,
//     5xx, throttling, the daily API limit (*salesforce.BudgetError) and
//     rejected credentials open the sync's circuit. While it is open no
//     worker fetches, and the records in hand are held (InProgress keeps
//     them from the ack wait) and written again once a probe — by default
//     the client's Limits call, one API call — succeeds; the probes back off
//     from 1s to 1m. Only record-level errors count toward max_attempts,
//     and they are counted in a ledger in the state store, not by the
//     broker's delivery count (see ledger.go for the exact rule), so neither
//     an outage nor a restart spends attempts.
//   - Invariant 4, no stale overwrite: several versions of one key in a
//     batch collapse into the newest (sync.Coalesce); a version older than
//     the one stored for the key ("version/<sync>/<external id>" in the
//     state store) is superseded; a delivered record's version is stored
//     with compare-and-set before the ack. Within a process, batches of one
//     sync never write the same key at once (keylock.go). Two processes
//     sharing a sync could still write two versions of one key in the same
//     moment; the guard then keeps the newer version and the loser logs it.
//   - Invariant 5, idempotent effects: records are upserted by external ID
//     (salesforce.Sink), so a redelivery or a replay writes the same
//     values again; a DLQ entry's ID is derived from the delivery, so
//     dead-lettering it twice stores it once.
//   - Invariant 6, nothing silently dropped: every delivery ends delivered,
//     superseded, filtered, dead-lettered, retried or released (handed back
//     without spending an attempt), each counted (Stats).
//   - Invariant 7, bad input never stops the line: a message that does not
//     decode, or that the mapping rejects, goes to the DLQ at once with the
//     reason; the rest of its batch flows on.
//
// The DLQ window stops a sync whose records nearly all fail: when a dead
// letter would make threshold% of the last size records dead letters, the
// record is handed back instead, the sync stops (Err wraps ErrStopped) and
// an alert is sent.
//
// A DLQ replay (internal/dlq) carries the header dlq.HeaderReplayFor naming
// one sync; every other sync acks it and counts it as filtered.
//
// Batching: a worker fetches one record (waiting up to IdlePoll), then up
// to BatchSize-1 more within Linger, so a lone record is delivered at once
// and a busy queue fills whole batches.
package deliver
