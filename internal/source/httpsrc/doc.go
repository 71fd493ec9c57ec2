// Package httpsrc is the http source: an application posts its events to
// sfbridge over HTTP and gets its answer as soon as they are durably queued.
// The application never waits on Salesforce and never fails because
// Salesforce is down: the handler only validates and queues.
//
// # The protocol, for application developers
//
// One endpoint, on the source's listen address:
//
//	POST /v1/events
//	Authorization: Bearer <token>
//	Content-Type: application/json | application/x-ndjson | application/jsonl
//	Content-Encoding: gzip            (optional)
//
// The body is one JSON object (one event) or an array of objects with
// application/json, or one object per line with application/x-ndjson or
// application/jsonl (blank lines are skipped). Each event carries its
// identity in the fields the source's configuration names (id_field,
// type_field, time_field, default "id", "type", "time"): the id a string or
// an integer, the type a non-empty string, the time an RFC 3339 string or
// Unix seconds. The event's type becomes the record's collection (queue
// subject "in.<source>.<type>", which syncs route on), the whole object its
// payload.
//
// Answers (every one carries an X-Request-Id header, the id the records'
// metadata and sfbridge's log use for the request):
//
//   - 202 Accepted: the request is settled. Body
//     {"accepted":N,"duplicates":D,"rejected":[{"index":I,"id":"…","reason":"…"}]}.
//     The accepted events are stored by the broker (DESIGN.md invariant 1:
//     the 202 goes out only after the broker confirmed them, all in one
//     publish). "rejected" lists, in order, the events refused for good
//     (index: the 0-based position of the event in the request — array
//     element, or line not counting blank lines; id when it could be read;
//     reason: what is wrong — not JSON, not valid UTF-8, not an object, a
//     missing or mistyped id, type or time, larger than max_event_bytes).
//     They are not queued and not dead-lettered: the client owns them, and
//     sending them again unchanged is refused again. "duplicates" counts
//     the events that repeat an earlier event of the same request (same
//     type, id and time, hence the same record): queued once. A JSON array
//     whose syntax breaks after some good events keeps them; the break is
//     one rejected entry at the index where it happened, and nothing after
//     it was read. So does a JSON body with more than whitespace after its
//     object.
//   - 400 Bad Request: the body as a whole is not events — not JSON at all,
//     empty, a single object cut short, a corrupt gzip stream, or more
//     events rejected than a response lists (10000 by default). Body
//     {"error":"<reason, with its byte offset>","rejected":[]}. Nothing was
//     queued.
//   - 401 Unauthorized: no Authorization header, another scheme, or a wrong
//     token; with WWW-Authenticate: Bearer realm="sfbridge". Checked before
//     the body is read.
//   - 405 Method Not Allowed: anything but POST (Allow: POST).
//   - 408 Request Timeout: the body did not arrive within the read timeout
//     (one minute). Nothing was queued.
//   - 413 Content Too Large: the body is over max_body_bytes, as sent or
//     once decompressed ({"error":"request body over max_body_bytes
//     (10MiB)"}). Nothing was queued; split the batch.
//   - 415 Unsupported Media Type: another Content-Type, a charset other than
//     UTF-8, or a Content-Encoding other than gzip.
//   - 503 Service Unavailable, with Retry-After in seconds: the queue could
//     not take the events (the broker failed, is unreachable, or did not
//     confirm within the publish timeout, 5s by default), the source is
//     stopping, or too many requests are in flight (64 by default;
//     Retry-After: 1). Resend the whole request after Retry-After seconds.
//
// Every error body is {"error":"…"}; none repeats the token or the events.
//
// # Resending is safe
//
// A client that got no answer, a 503, or a 408 resends the whole request,
// unchanged, for as long as it takes. Nothing is doubled: each event's
// record has a deterministic message ID (from the source's name, the
// event's type, id and time), so the broker drops a resent event it already
// stored within its deduplication window (queue.dedup_window, 2 minutes by default; invariant
// 5), and past that window the delivery's version guard makes the second
// copy harmless (invariant 4: a version already delivered does not
// overwrite; upserts by external ID write the same values again). Events
// should therefore carry a time: without a time_field the version is the
// time of receipt, and a resent event is a new version (still harmless:
// the same values are written).
//
// The emit package is a client that keeps this protocol (spooling,
// batching, retries).
//
// # Example
//
//	curl -sS -X POST http://127.0.0.1:8081/v1/events \
//	  -H "Authorization: Bearer $SFBRIDGE_EVENTS_TOKEN" \
//	  -H 'Content-Type: application/x-ndjson' \
//	  --data-binary $'{"id":"r-1","type":"active_rescue","time":"2024-05-01T12:00:00Z","counselor":42}\n{"id":"r-2","type":"active_rescue","time":"2024-05-01T12:00:05Z"}\n'
//
//	{"accepted":2,"duplicates":0,"rejected":[]}
//
// # The records
//
// Each accepted event becomes a record.Record (see event.Spec.Record) on
// "in.<source>.<type>" with metadata "event_id", "request" (the request id),
// "index" (the event's position in the request) and "remote" (the client's
// IP address, from the connection: proxy headers are not trusted). GET
// /healthz answers 200 "ok" without authentication.
//
// # Operation
//
// The token is compared in constant time (SHA-256 digests, so its length
// does not show either) and never logged. Each request is logged on one
// line at debug level (request id, client, status, counts, bytes,
// duration), at warn when it ended in a 5xx; bodies never are. Memory is
// bounded: at most MaxInFlight requests are handled at once, each reading
// at most max_body_bytes. Stop closes the listener, answers 503 to
// requests that arrive on open connections, and lets requests in flight
// finish (their 202 only after the broker's confirmation) until its context
// ends; then their publishes are abandoned and their clients resend.
package httpsrc
