// Package s3src is the s3 source: an application drops files of events
// into an S3 bucket (or an S3-compatible store), and sfbridge publishes
// every event in them, then marks each object processed. The application
// never waits on Salesforce and never fails because Salesforce is down. It
// behaves as the files source does, on a bucket and prefix instead of a
// folder.
//
// # Which objects are read, and when
//
// Every object under prefix is read, except objects under
// processed_prefix or quarantine_prefix (skipped even when they lie inside
// prefix, as with the defaults and an empty prefix: the listing jumps past
// them) and "folder" placeholders (keys ending in '/'). Objects are found
// two ways:
//
//   - Listing, at start and then every `every` (default 30s), in key order.
//     A listing asks ListObjectsV2 to start after the last key up to which
//     every object is processed (kept in the state store), so it reads only
//     new keys. Start-after alone misses a key that arrives out of order —
//     lower than one already processed (in/2024-05-01/b.json processed,
//     then in/2024-04-30/z.json written) — and an object overwritten under
//     a processed key. So every 10th listing (and the first after start,
//     and every triggered one) is a full listing of the prefix that checks
//     each object against its mark, and finds those. Name objects so that
//     keys grow (a timestamp first) and they are found within one
//     interval; otherwise within ten.
//   - S3 event notifications (optional, sqs_queue_url): S3 sends
//     ObjectCreated events to an SQS queue (directly, or through SNS), and
//     the source long-polls it, so a new object is read within a second of
//     being written, whatever the listing interval. The message is deleted
//     only once every object it names is processed and marked; until then
//     it comes back after the queue's visibility timeout (set it longer
//     than reading your largest object takes). S3's s3:TestEvent, events
//     other than ObjectCreated:*, objects of other buckets or outside the
//     prefix are deleted without reading anything; a message that cannot
//     be read at all is logged and deleted (the listing finds its objects
//     anyway). Listing goes on beside notifications, so nothing depends on
//     their delivery. Give the bucket's notification a prefix filter
//     (prefix), so that sfbridge's own writes under processed_prefix and
//     quarantine_prefix are not sent (they would be ignored).
//
// # What happens to an object
//
// Format and compression come from format and compression (default auto:
// by the key, .ndjson or .jsonl, .json, .csv, each optionally .gz; see
// event.Detect). The object is read as a stream (GetObject into
// event.Reader: memory is one batch, whatever the object's size) and its
// events are published in batches of 500 events or 8 MiB, each confirmed
// by the broker before the next. Each event becomes a record on "in.<source>.<type>" (see
// event.Spec.Record) whose metadata says where it came from: "object"
// ("s3://bucket/key") and "line" (NDJSON, CSV) or "index" (JSON). The
// record's time, and its version when events carry no time_field, is the
// object's LastModified, so reading an object again gives the same records.
//
// Bad input never stops the line (DESIGN.md invariant 7):
//
//   - A bad event (not JSON, not UTF-8, over max_event_bytes, a missing or
//     mistyped id, type or time, a CSV row with missing or extra columns)
//     goes to the DLQ, reason invalid_event, under the source's name, with
//     its location ("s3://bucket/in/a.ndjson, line 3 (byte 120): …"), the
//     headers Sfbridge-Input, Sfbridge-Location, Sfbridge-Bucket,
//     Sfbridge-Key and Sfbridge-Etag, and its bytes. The events around it
//     are published.
//   - An object that cannot be read at all — empty, binary, not gzip though
//     named .gz, a CSV header that is not one, not a single event that
//     parses, a key whose format cannot be told — is copied to
//     quarantine_prefix + key, with an object quarantine_prefix + key +
//     ".error" saying why ("source:", "object:", "etag:",
//     "quarantined_as:", "location:", "reason:", "time:" lines), and
//     deleted. Fix it and put it back under prefix.
//
// A read that breaks (the network, S3 answering 5xx, a body cut off) is no
// fault of the object: nothing is quarantined or dead-lettered, the object
// is retried.
//
// # Marking processed (mark)
//
// Once every event of an object is confirmed by the broker and every bad
// item is in the DLQ — never before (invariant 1) — the object is marked:
//
//   - state (default): the object stays; its checkpoint in the state store
//     says it is processed, for its ETag. Cheapest in S3 requests. The
//     state holds one small entry per object; a full listing forgets the
//     entries of objects no longer in the bucket, so expire processed
//     objects with a lifecycle rule to keep both small.
//   - move: CopyObject to processed_prefix + key, then DeleteObject. Only
//     unprocessed objects remain under prefix. Objects over 5 GB cannot be
//     copied in one request and are not supported.
//   - tag: PutObjectTagging adds sfbridge-processed=<RFC 3339 time>,
//     keeping the object's other tags (at most 10 in all: an object that
//     has 10 already cannot be marked; use state or move). Lifecycle rules
//     can then expire processed objects by tag. The tag is the mark, and
//     S3 drops tags when an object is overwritten, so new content is read
//     again. Finding out whether an object is tagged costs a
//     GetObjectTagging request, so the source also keeps a state entry per
//     tagged object as a cache: only objects the state does not know cost
//     that extra request (new ones, or all once after the state was lost).
//
// An object overwritten under the same key (another ETag) is read again
// from the start, under every mark; events the broker still remembers (the
// same id, type and time) are dropped, and the delivery's version guard
// makes older copies harmless (invariant 4). Notifications see an
// overwrite at once; listings at the next full listing.
//
// # Restarts and crashes
//
// While an object is read, its checkpoint is kept in the state store under
// "s3/<source>/object/<sha256 of the key>" (`sfbridge state get`; the value
// holds the key in clear): the object's ETag and how many items (events
// and bad items, in object order) are settled. It is saved after every
// batch, only once the broker confirmed the batch and the DLQ stored its
// bad items. An object half-published when sfbridge stopped or crashed is
// finished on the next start: the settled items are read and skipped,
// nothing confirmed is published again. A crash between a confirmed batch
// and its checkpoint publishes that batch again with the same message IDs:
// the broker drops them (invariant 5). The listing's start-after key is
// kept under "s3/<source>/listing"; it moves past an object only once that
// object and every key before it are done. Checkpoints are written
// compare-and-set: when two sfbridge processes read the same object, one
// goes on and the other leaves it.
//
// # Failures
//
// A listing that fails (S3 unreachable, throttled) and a failure of the
// queue, the DLQ or the state store end the run; it is retried with backoff
// (1s doubling to 1m, with jitter), or at the next interval if sooner. An
// object that fails on its own (GetObject denied, a copy refused) is
// logged and retried by the next run while the others go on. Start fails
// for what configuration must fix — no such bucket, access denied, wrong
// region, no credentials — and only logs when S3 cannot be reached.
//
// Stop lets the object in hand finish its current batch (publish,
// checkpoint) and returns; the rest is read on the next start. When Stop's
// context ends first, the batch in hand is abandoned unsaved (published
// again on the next start; the broker drops what it stored).
//
// Trigger (sfbridge trigger, the admin API) runs a full listing now; it
// takes no collection. Stats counts objects done, events published, bad
// items dead-lettered, objects quarantined, bytes read, listings, failures
// and notifications. The log never holds an event's content, only keys,
// counts, locations and reasons; never the credentials.
//
// # Connecting
//
// With access_key_id and secret_access_key the source uses them; without,
// the AWS default chain (environment, shared profile, web identity, ECS or
// EC2 role). region comes from the config, else the environment or
// profile; with an endpoint (MinIO, Ceph, LocalStack) and no region,
// us-east-1 is used for signing. force_path_style addresses the bucket in
// the path, as most S3-compatible stores need. With an endpoint, checksums
// are sent and checked only where S3 requires them (many compatible stores
// reject the newer defaults). The SQS client goes to the queue URL's
// region (sqs.<region>.amazonaws.com), or to its host when that is not AWS
// (ElasticMQ, LocalStack).
//
// # IAM permissions
//
// On the bucket (arn:aws:s3:::bucket) and its objects (arn:aws:s3:::bucket/*):
//
//   - always: s3:ListBucket, s3:GetObject; and, for quarantining an
//     unreadable object, s3:PutObject and s3:DeleteObject on
//     quarantine_prefix* and prefix*.
//   - mark: move: s3:PutObject on processed_prefix*, s3:DeleteObject on
//     prefix*.
//   - mark: tag: s3:GetObjectTagging and s3:PutObjectTagging.
//   - with sqs_queue_url: sqs:ReceiveMessage and sqs:DeleteMessage on the
//     queue (and, for SSE-KMS buckets or queues, kms:Decrypt).
package s3src
