// Package event reads application events — JSON objects or CSV rows — from
// the bytes a files, s3 or http source receives, and turns each into a
// record.Record.
//
// A Reader streams one input (a file, an object, a request body) in one of
// three formats:
//
//   - NDJSON: one JSON object per line; blank lines are skipped, a trailing
//     CR is dropped.
//   - JSON: one object (one event) or an array of objects.
//   - CSV: a header row naming the columns, then one event per row; every
//     value is a string (a sync's mapping converts them).
//
// Open adds gzip decompression in front of any of them.
//
// Bad input never stops the line (DESIGN.md invariant 7), and every problem
// says where it is:
//
//   - *ItemError: one event is bad (a line that is not JSON, a row with the
//     wrong number of columns, an event over max_event_bytes, a missing or
//     mistyped id, type or time). The Reader goes on with the next one; the
//     source dead-letters the item with its reason and raw bytes.
//   - *InputError: the input as a whole cannot be read (empty, binary, not
//     gzip, a CSV header that is not one, or not a single event could be
//     parsed). The Reader stops; a files or s3 source quarantines the input
//     with the reason, an http source answers 400.
//
// An input whose syntax breaks after some good events (a JSON array cut off
// in the middle) keeps those events; the break is an ItemError at its byte
// offset. Only an input of which not one event parsed is an InputError, so
// nothing good is held back for the sake of one bad part.
//
// Identity (Spec, from a source's event fields): the id, type, time and key
// of an event come from named fields, which may be dotted paths into nested
// objects ("meta.id"). The id and key are strings or integers; the type a
// non-empty string; the time an RFC 3339 string or a number of Unix seconds
// (milliseconds when larger than 10^11). The record's version is the event's
// time (record.EventVersion), so an older event never overwrites a newer one
// (invariant 4), and its message ID depends only on the source, the event's
// type and id and its time, so an event sent twice is the same record
// (invariant 5).
package event
