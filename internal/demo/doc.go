// Package demo sets up what `sfbridge demo` shows: a demo schema in a local
// PostgreSQL with sample organisations and counselors, a trickle of changes
// (updates, new rows, soft deletes), the Salesforce emulator on a loopback
// port, and a ready config that syncs organisations into Account and
// counselors into Contact (with the Account lookup by the parent's external
// ID). Nothing here is faked: the daemon that runs on it is the real one.
package demo
