// Package pgpoll is the postgres_poll source: it reads the rows of
// PostgreSQL tables changed since the last run, on a schedule (every: or a
// cron schedule:) and on demand (Trigger), and publishes each as a record.
// docs/sources.md explains it for users; the contract in short:
//
//   - Keyset pagination on (cursor, key): each page is the next batch_size
//     rows with (cursor, key) > the previous page's last row, compared as
//     row values in SQL at the column's full precision (values travel as
//     PostgreSQL's own text forms and are cast back to the column types, so
//     nothing is truncated), ordered by cursor then key. Ties on the cursor
//     across page boundaries are neither lost nor repeated. Memory is one
//     page; a run has no time limit.
//   - Lag: a run reads rows whose cursor is at most the database's now()
//     minus lag (timestamp cursors; for integer cursors it reads the largest
//     committed value, waits lag, then reads up to it), so a transaction
//     that commits within lag of writing its cursor is not skipped. A
//     longer transaction can be; overlap re-reads a window below the
//     watermark to cover it, and only CDC (postgres_cdc) closes the gap.
//   - The watermark (cursor and key of the last row) is saved in the state
//     store at "pgpoll/<source>/<schema.table>", page by page, only after
//     the broker confirmed every record of the page (DESIGN.md invariant 1),
//     with compare-and-set so a watermark moved by `sfbridge state` during
//     a run is not overwritten.
//   - Records: Source the source's name, Collection "schema.table", Key the
//     key columns, Version the cursor (record.TimeVersion; an integer
//     cursor as that many microseconds, see cursorVersion), ID from
//     record.DeriveID (re-reading a row gives the same ID, and the broker
//     drops the duplicate), Op upsert or, for soft-deleted rows, delete,
//     Payload every column read (see payloadValue for the JSON mapping),
//     Position the row's watermark (Position, framed "pgpoll" v1).
//   - Never harms the source: every query runs in a READ ONLY transaction
//     held for one page, with statement_timeout set locally, through a pool
//     of at most pool_size connections that closes idle ones after a
//     minute; identifiers are quoted; the DSN is used as given (TLS options
//     included).
//   - Start checks each table (it exists, every configured column exists,
//     key columns are NOT NULL, the cursor is a timestamp, timestamptz or
//     integer, the where filter runs) and fails naming the table and
//     column. A row that cannot become a record (too large for the queue,
//     a cursor out of range) is logged and passed (invariant 7). When PostgreSQL cannot
//     be reached, runs fail, are logged and retried with backoff; the
//     source keeps running. One run at a time per table.
//   - Flow control: with Options.Backpressure set, each page waits for it
//     after its transaction ended and before its publish; Stop ends the
//     wait and leaves the page to the next run (its watermark unsaved).
package pgpoll
