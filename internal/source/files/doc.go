// Package files is the files source: an application drops files of events
// into a folder, and sfbridge publishes every event in them, then moves
// each file out of the way. The application never waits on Salesforce and
// never fails because Salesforce is down.
//
// # Which files are taken, and when
//
// Only files directly in the folder (path) are read: not subfolders, not
// symbolic links, devices or FIFOs. A file is taken when its name matches
// pattern (a glob on the name, default "*"), does not start with '.' and
// does not end in ".tmp" or ".part" (any case): write under such a name
// and rename when done. processed_dir and quarantine_dir are never read,
// even when they are inside the folder (the default).
//
// The folder is watched with inotify and also listed every rescan interval
// (default 30s), so a file is found even when the watch missed it: files
// already there when sfbridge starts, events lost to a full kernel queue,
// folders on filesystems that do not report changes (NFS). When inotify is
// not available (too many watches: raise fs.inotify.max_user_watches) the
// source says so in its log and relies on the listing alone; Stats.Watching
// tells. When the folder is removed, moved or unmounted, the source logs it
// once, lists the path every rescan interval and watches it again once it is
// back.
//
// Only complete files are taken:
//
//   - A file renamed into the folder (mv, rename(2): IN_MOVED_TO) is taken
//     at once. This is the recommended way to deliver a file: write it
//     elsewhere on the same filesystem, or under a hidden or .tmp name,
//     then rename it.
//   - A file written in place is taken once it was closed after its last
//     write (IN_CLOSE_WRITE) and then stayed unchanged (same size,
//     modification time and inode) for settle (default 2s). A file a writer
//     keeps open is not taken, however long it pauses.
//   - A file found by a listing (no event seen for it) is taken once it
//     stayed unchanged for settle, looked at twice settle apart. So is a
//     file whose events were lost (settle alone decides then).
//
// Ready files are taken one at a time, oldest first: by modification time,
// then by name.
//
// # What happens to a file
//
// Format and compression come from format and compression (default auto:
// by the name, .ndjson or .jsonl, .json, .csv, each optionally .gz; see
// event.Detect). The file is read as a stream (event.Reader) and its events
// are published in batches of 500 events or 1 MiB, each confirmed by the
// broker before the next; the next batch is read while the broker confirms
// one, so memory is two batches whatever the file's size. Each event becomes a record on "in.<source>.<type>" (see
// event.Spec.Record) whose metadata says where it came from: "file" (the
// name) and "line" (NDJSON, CSV: 1-based, the CSV header is line 1) or
// "index" (JSON: the 0-based element of an array, 0 for a single object).
// The record's time, and its version when the events carry no time_field,
// is the file's modification time, so reading a file again gives the same
// records.
//
// Bad input never stops the line (DESIGN.md invariant 7):
//
//   - A bad event (a line that is not JSON or not valid UTF-8, a line over
//     max_event_bytes, a missing or mistyped id, type or time, a CSV row
//     with missing or extra columns, a JSON array cut off after good
//     elements) goes to the DLQ, reason invalid_event, under the source's
//     name, with its location ("file a.ndjson, line 3 (byte 120): …"), the
//     headers Sfbridge-File (the name), Sfbridge-Folder, Sfbridge-Input and
//     Sfbridge-Location, and its bytes as read. The events around it are
//     published. `sfbridge dlq list` shows them; fix the events at their
//     origin and send them again.
//   - A file that cannot be read at all — empty, binary (a NUL byte),
//     not gzip though named .gz, a CSV header that is not one, not a
//     single event that parses, a name whose format cannot be told, or no
//     permission to open it — is moved to quarantine_dir (default
//     <path>/quarantine), with "<name>.error" next to it (below). Nothing
//     of it is published. Fix the file and move it back into the folder.
//
// A .error file is a few "key: value" lines; quarantined_as appears when
// the quarantine folder had the name already and another was used:
//
//	source: platform_events
//	file: orders.ndjson
//	folder: /var/spool/platform-events
//	location: byte 8
//	reason: binary data: byte 0x00, not text
//	time: 2024-05-01T12:00:00Z
//
// The location is "line N (byte B)" for NDJSON and CSV, "event N (byte B)"
// for an element of a JSON array, "byte B" otherwise, or "the whole file".
//
// Once every event of a file is confirmed by the broker and every bad item
// is in the DLQ — never before (invariant 1) — the file is moved to
// processed_dir (after: move, the default; default folder
// <path>/processed), keeping its name, or deleted (after: delete). When
// processed_dir has a file of that name already, a number goes before the
// extension: orders.ndjson → orders.1.ndjson, orders.ndjson.gz →
// orders.1.ndjson.gz. processed_dir and quarantine_dir must be on the
// folder's filesystem (files are moved by rename; Start checks), and
// nothing cleans them: that is the operator's (a cron job, logrotate).
//
// A file that changes while it is read (a writer appending to it), or is
// replaced under its name, is not moved: what was added would never be
// read. It settles again and is read again from the start.
//
// # Restarts and crashes
//
// While a file is read, its checkpoint is kept in the state store under
// "files/<source>/<file name>" (`sfbridge state get`): the file's size,
// modification time and inode, and how many items (events and bad items,
// in file order) are settled. It is saved after every batch, only once
// the broker confirmed the batch's events and the DLQ stored its bad items,
// and deleted once the file is moved. A file half-published when sfbridge
// stopped or crashed is finished on the next start: the items the
// checkpoint covers are read and skipped, nothing is published twice, even
// long after the broker's deduplication window. A crash between a
// confirmed publish and its checkpoint publishes that one batch again, with
// the same message IDs: the broker drops them (invariant 5). A file that
// changed since its checkpoint (another size, time or inode) is read from
// the start; the broker drops the events it still remembers, and the
// delivery's version guard makes older copies harmless (invariant 4).
// Checkpoints of files no longer in the folder (a crash between the move
// and the deletion of the checkpoint) are removed at start.
//
// # Failures
//
// When the queue, the DLQ or the state store fails (the broker down, full
// or slow to confirm), the file stays where it is and its checkpoint where
// it was; the source logs a warning and pauses every file, retrying with
// backoff (1s doubling to 1m, with jitter). When one file cannot be moved
// or deleted (permissions), that file is retried with backoff and the
// others go on. A file is never moved before every one of its events is
// confirmed.
//
// Stop lets the file in hand finish its current batch (publish, dead-letter,
// save the checkpoint) and returns; the file stays in the folder and is
// finished from its checkpoint on the next start. When Stop's context ends
// first, the batch in hand is abandoned unsaved: it is published again on
// the next start, and the broker drops what it stored.
//
// Flow control (Options.Backpressure) may hold each batch back before it is
// published, while the syncs reading the source are far behind; the wait
// is not a failure, and Stop ends it (the batch is read again on the next
// start).
//
// Trigger (sfbridge trigger, the admin API) lists the folder at once; it
// takes no collection. Stats counts the files done, events published, bad
// items dead-lettered, files quarantined, bytes read and failed attempts.
// The log never holds an event's content, only names, counts, locations
// and reasons.
package files
