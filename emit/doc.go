// Package emit sends an application's events to sfbridge, without ever
// making the application wait for sfbridge or Salesforce, or fail when
// they are down.
//
//	c, err := emit.New(emit.Config{SpoolDir: "/var/lib/myapp/events", Sink: sink})
//	…
//	id, err := c.Emit(ctx, emit.Event{Type: "volunteer.login", Key: volunteerID,
//		Data: map[string]any{"volunteer_id": volunteerID}})
//
// Emit validates the event, appends it to a spool on local disk and
// returns once it is there (fsync'ed; concurrent Emits share one fsync, a
// group commit). A background sender delivers the spool in order, in
// batches, to a Sink: NewHTTPSink posts to sfbridge's http source,
// NewFolderSink writes NDJSON files for its files source, and any other
// destination (an S3 bucket) is a small Sink of your own.
//
// # Guarantees
//
//   - Durable: an event Emit returned an id for survives a crash of the
//     application or the machine, and a restart: New re-reads the spool and
//     sends whatever was not acknowledged.
//   - At least once to the destination: an event leaves the spool only
//     after the destination acknowledged it (HTTP 202, a renamed and
//     fsync'ed file), so a crash between delivery and acknowledgement sends
//     it again. sfbridge drops an event whose id (with type and time) it
//     already has, which makes delivery effectively exactly once: resending
//     is always safe.
//   - No event is dropped for an outage: connection errors, timeouts, 5xx,
//     429 and refused credentials (401, 403) keep every event spooled and
//     retry, with exponential backoff and jitter (Config.MinBackoff to
//     Config.MaxBackoff), honouring Retry-After, for as long as it takes.
//     Only the destination's refusal of an event itself (the http source's
//     "rejected" list, an event too large for it) drops the event, which
//     is then reported to Config.OnReject and the logger.
//   - Bounded: the spool holds at most Config.MaxSpoolBytes of unsent
//     events; beyond, Emit returns ErrSpoolFull rather than fill the disk.
//   - Order: events are sent in the order their Emits committed (the
//     destination may still reorder; sfbridge orders by event time).
//
// # Wire format
//
// Each event travels as one flat JSON object, one per line (NDJSON):
//
//	{"id":"01J…","type":"volunteer.login","time":"2024-05-01T12:00:00.123456789Z","key":"v-42","volunteer_id":"v-42"}
//
// id, type and time (UTC, RFC 3339) always; key when set; then every
// field of Event.Data at the top level, which is why Data may not hold id,
// type, time or key. sfbridge's http and files sources read these with
// their default id_field, type_field and time_field; set key_field: key to
// order and coalesce by Event.Key.
//
// # The spool
//
// A directory of append-only segment files of length- and
// CRC-32C-framed records, and a small cursor file saying where the
// acknowledged events end (saved, fsync'ed, before the segments behind it
// are deleted). A record torn by a crash (kill -9, power loss) at the end
// of the spool fails its length or checksum check and is cut off on the
// next New; it belongs to an Emit that never returned. One Client at a
// time holds a spool directory (a file lock, released by the kernel
// however the process ends); a second New on it fails with ErrSpoolInUse.
//
// The package imports only the standard library.
package emit
