// Package engine builds a running sfbridge from a config: the broker, the
// queue and the state store, the Salesforce client and sink, one delivery
// loop per sync, the sources, the alerts and the admin server.
//
// Lifecycle (Caddy's provision → validate → run → cleanup): New compiles
// and checks everything that needs no I/O. Start opens the broker, creates
// every sync's durable consumer BEFORE any source starts (the input stream
// keeps a record only while a consumer wants it: docs/adr/0003), starts the
// delivery loops, then the sources, then the admin server, and only then
// reports ready. Stop reverses it: the sources finish the page in hand and
// save their checkpoints (invariant 1), the delivery loops drain and settle
// what they hold (invariant 2), then the broker closes.
package engine
