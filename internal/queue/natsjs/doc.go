// Package natsjs is the queue on NATS JetStream. One adapter serves both
// modes of the broker package: "embedded" (nats-server in this process, file
// store under data_dir) and "nats://…" (an external server or cluster).
// It runs queuetest against both, and works with nats-server 2.9 (the oldest
// tested) through 2.15 (the embedded one): it uses one filter subject per
// consumer and no API newer than 2.9.
//
// # Layout
//
// Two file-backed streams, created or updated idempotently by Open:
//
//   - SFBRIDGE_IN, subjects "in.>": the records. Interest retention: a message
//     is kept while some consumer whose filter matches it has not acked or
//     terminated it, and removed after. The store holds the backlog and no
//     more, with no age limit that could evict a record nobody has delivered
//     (invariant 6). The price: a message published when no consumer matches
//     is not kept, so the engine creates the syncs' consumers before starting
//     the sources, and a consumer left behind by a deleted sync holds messages
//     until it is deleted (ConsumerNames shows it). MaxAge and MaxBytes are
//     optional safety limits; a full stream refuses publishes (discard new)
//     so that sources stop advancing instead of losing older records.
//   - SFBRIDGE_DLQ, subjects "dlq.>": dead letters, limits retention with no
//     limits, so an entry stays until replayed or dropped.
//
// Config.Namespace prefixes stream names ("<ns>_SFBRIDGE_IN") and subjects
// ("<ns>.in.>") so that several deployments, or concurrent tests, share one
// server; callers always use the logical subjects.
//
// # Publishing
//
// Publish sends every message asynchronously (at most PublishWindow
// unconfirmed per call), then waits for each message's own store
// confirmation, so one slow or failed message is reported by index in a
// queue.BatchError rather than failing or hiding the batch. The message ID
// goes into Nats-Msg-Id; JetStream answers a duplicate within the window
// with a success flagged duplicate, which counts as stored.
//
// The deduplication window (Config.Duplicates) defaults to 2 minutes,
// JetStream's own default. What it must catch is a re-publish after a crash
// between publishing and saving the checkpoint: the restarted process
// re-reads from the checkpoint within seconds of starting, and a
// supervisor restarts it within seconds (systemd's RestartSec, Kubernetes'
// first CrashLoopBackOff delay of 10s). A duplicate outside the window is
// delivered again and is harmless (invariant 5: upserts are idempotent and
// the version guard, invariant 4, sees the version it already stored); it
// costs an API call's share, not correctness. The window is not free: the
// server keeps the ID of every message published within it in memory,
// about 125 bytes each, so its memory is the publish rate times the window
// (at 10,000 records/s, 2 minutes is about 140 MiB; 5 minutes was 350). A
// deployment restarted by a slower supervisor can lengthen it. After a
// restart of the server, IDs of messages already removed by interest
// retention are forgotten too.
//
// "Stored" is the server's meaning: with one replica, the message was
// written to the stream's file (the OS has it; a crash of this process,
// embedded server included, keeps it; the server fsyncs every sync_interval,
// 2 minutes by default, so a power loss can lose the last interval). With
// Replicas > 1, a quorum of servers has it.
//
// # Consuming
//
// Each sync has a durable pull consumer: explicit acks, deliver all, one
// filter subject, AckWait (default 60s: a batch of Salesforce calls takes
// seconds; a Bulk API job calls InProgress), MaxAckPending = MaxInFlight
// (default 1000). Two JetStream traps are avoided on purpose:
//
//   - No BackOff list: it overrides AckWait for every redelivery. Retry delays
//     are per message, with Nack(delay) (JetStream's NAK with a delay).
//   - No MaxDeliver (-1, unlimited): at MaxDeliver JetStream silently stops
//     delivering a message and keeps it, and it has no DLQ of its own. The
//     deliver loop dead-letters at max_attempts, then acks.
//
// Fetch issues one pull request for n messages, held open by the server for
// maxWait. Attempt is the broker's NumDelivered for the message and consumer,
// kept in the consumer's state on disk, so it survives restarts. It counts
// every delivery, including one abandoned by a cancelled Fetch. Seen on
// nats-server 2.9.10 and not on 2.15: a redelivery that coincides with a pull
// request expiring can go astray; the message then comes back after another
// ack wait, or twice at once with one of the two reporting attempt 1. Tests
// therefore keep one long pull request open instead of polling with short
// ones; deployments should prefer 2.10 or later for the external server.
//
// # Acknowledgements
//
// Ack, Nack, InProgress and Term send the JetStream ack protocol to the
// delivery's reply subject. By default they are not awaited: a lost ack means
// one redelivery after AckWait, which the sync absorbs (idempotent upsert,
// version guard, DLQ entries deduplicated by ID), so confirmation is not
// needed for correctness, and it costs a round trip per message (on the
// 2-core test machine, embedded fetch-and-ack runs at about 74k records/s
// unconfirmed and 25k confirmed, external at 47k and 7k; docs/benchmarks.md). ConfirmAcks=true waits for the server's reply,
// for a caller that must know the ack was processed. Either way a delivery is
// settled once: a second Ack, Nack or Term returns queue.ErrSettled; a failed
// one (dead context, closed connection) leaves it unsettled.
//
// # Dead letters
//
// DLQ.Put publishes synchronously with the entry's ID for deduplication (a
// crash between Put and the original's ack does not make two entries). List
// reads one entry per request (the stream message API with next-by-subject,
// 2.9-compatible); it serves people paging through a DLQ, not bulk export.
// Delete removes the message from the stream without overwriting it.
package natsjs
