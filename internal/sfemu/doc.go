// Package sfemu is a Salesforce API emulator: an http.Handler backed by an
// in-memory org, faithful to ../shared/salesforce-api.md so that real
// Salesforce clients (jsforce, the sf CLI, go-salesforce, our own
// internal/salesforce) cannot tell it from an org. docs/emulator.md lists
// what is emulated and every choice made where the fact sheet is unverified.
//
// # Structure
//
//   - Schema (schema.go, schema_yaml.go, default_schema.yaml): objects and
//     fields, loaded from YAML (ParseSchema, LoadSchema) or DefaultSchema().
//     Field.Required() = !Nillable && Createable && !DefaultedOnCreate.
//
//   - Org (org.go, store.go, session.go): one org's state. Records live in
//     per-object tables guarded by one lock; unique, external-ID and idLookup
//     fields are indexed. Ids are real 18-character Ids (ids.go: To18,
//     NormalizeID, Org.NewID(prefix)). All randomness (pod characters, token
//     bodies) comes from Options.Seed; all time from Options.Now.
//
//   - The DML pipeline (dml.go, dml_fields.go, coerce.go): the ONE path every
//     API writes through. Callers build a DML{Op, Object, ExtIDField,
//     AllOrNone, Rows} and get one Result per row, in order:
//
//     results := org.Apply(&DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Counselor_Id__c", Rows: rows})
//
//     Inside a transaction that spans several calls (Composite allOrNone),
//     use org.Write(func(tx *Tx) error { res := tx.Apply(req); ... }); a
//     non-nil error from the function rolls back everything it wrote.
//     Row.Fields takes decoded JSON values (string, json.Number, bool, nil,
//     map[string]any{"Ext__c": v} for a relationship reference) or CSV text;
//     Row.Err fails a row the caller already found bad (it still counts for
//     AllOrNone).
//
//   - SOQL (soql_lexer.go, soql_parser.go, soql_plan.go, soql_eval.go):
//     ParseSOQL -> plan against the schema -> evaluate under a read lock.
//     Org.Query(soql, all) returns flat rows (QueryResult.Columns, Rows) for callers
//     such as Bulk query jobs; the REST handler nests them per §6.2.
//
// # HTTP
//
// Emulator (emulator.go, router.go, call.go) routes with http.ServeMux
// patterns grouped per path; each path group dispatches by method and
// answers 405 in Salesforce's JSON shape. ServeHTTP first normalises the
// request: ?_HttpMethod= override, one trailing slash and any extra leading slashes removed, gzip request
// bodies decoded. Routes are registered with
//
//	e.handle("GET /services/data/{version}/sobjects/{object}/{id}", "sobject.read", accessAPI, e.sobjectRead)
//
// where the endpoint name ("sobject.read") is the key for per-endpoint call
// counters. Access levels:
//
//   - accessAPI: a /services/data/{version}/… route. Checks the version
//     (404 unknown, 410 retired), then the bearer session (401
//     INVALID_AUTH_HEADER / INVALID_SESSION_ID), runs the Before hooks, then
//     the daily API limit (403 REQUEST_LIMIT_EXCEEDED), counts the call, runs
//     the handler, the After hooks, and writes the response with
//     Sforce-Limit-Info.
//   - accessSession: bearer session only (e.g. /services/oauth2/userinfo).
//   - accessPublic: nothing (versions list, OAuth token, admin endpoints).
//
// A handler is func(c *Call). It reads c.Req, c.Version, c.Session, and
// writes its answer into the Call (c.JSON, c.Errors, c.NoContent, c.Body);
// the response is buffered so After hooks can inspect or replace it
// (c.Status, c.ResponseBody, c.Reset) before it is written.
//
// # Extension points (for OAuth, Bulk 2.0, faults, admin, TLS, CLI)
//
//   - New routes: in your own file, func init() { extend(func(e *Emulator) {
//     e.handle(...) }) }. Extensions run at the end of New, after the core
//     routes, so they can use e.Org().
//   - Sessions: org.NewSession(userID, ttl) mints a "00D…!…" token;
//     org.Session(token) looks one up (expired ones are not found);
//     org.RevokeSession, org.ExpireSessions. org.DefaultUser() is the org's
//     user; org.ID() the 18-char org id; c.BaseURL() the scheme and host the
//     client used (instance_url, identity URLs).
//   - Per-request hook: e.Use(CallHook{Before, After}). Before runs after
//     authentication and before the call is counted; returning true means it
//     answered (e.g. 503 HTML, 403 ConcurrentRequests) and the handler is
//     skipped. After always runs when Before ran; c.Records says how many
//     records the handler processed (per-record latency). Wrap the Emulator
//     in another http.Handler for faults below HTTP (refused connections).
//   - Per-record hook: org.SetRecordHook(func(RecordInfo) *RecordError) is
//     called for every insert/update/upsert/delete row after validation and
//     before the write; a non-nil error fails that row (UNABLE_TO_LOCK_ROW,
//     a validation rule). It runs under the org lock: do not block in it.
//   - Limits and counters: org.SetAPILimit(max), org.SetAPIUsage(used),
//     org.APIUsage(); org.Counters() (calls by endpoint, records written by
//     object and op); org.Dump(object, includeDeleted), org.ObjectCounts();
//     org.Reset() (records, cursors, counters; sessions are kept).
//
// Subrequests of Composite are served through the same mux with the parent
// Call in the request context: no second authentication, no second count,
// and the parent's transaction.
package sfemu
