// Package web is sfbridge's admin HTTP server: the dashboard, a JSON status
// API, Prometheus metrics, the manual trigger of sources, and the health
// probes.
//
// Everything but /healthz and /readyz requires the admin token: as
// "Authorization: Bearer <token>" (compared in constant time) or, for a
// browser, the session cookie that GET /login?token=<token> sets before it
// redirects to the dashboard. When the config sets no token, the server
// makes a random one at start; the daemon prints the dashboard URL with it.
// The token never appears in a log line or a page.
//
// The server knows nothing of the engine: it reads a Provider.
package web
