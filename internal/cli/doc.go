// Package cli is sfbridge's command line: one file per command, output to
// injected writers, deterministic exit codes.
//
// Exit codes (DESIGN.md §4):
//
//	0  ok
//	1  runtime failure
//	2  invalid config or input
//	3  a dependency unreachable (NATS, PostgreSQL, Salesforce)
//
// A command says which code applies by returning an error wrapped with
// Invalid or Unreachable; any other error exits 1.
package cli
