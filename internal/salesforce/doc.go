// Package salesforce is the only code in sfbridge that talks to Salesforce:
// OAuth logins, describe, limits, SOQL query, sObject Collections and Bulk
// API 2.0 ingest, plus Sink, which writes batches of rows by external ID. It
// works unchanged against a real org and against internal/sfemu. The wire
// facts it follows are in the project's salesforce-api.md fact sheet.
//
// Contract:
//
//   - Every call takes a context and goes through one pipeline (client.go):
//     budget check → shared token → concurrency slot → request → read
//     Sforce-Limit-Info → classify the outcome. A 401 INVALID_SESSION_ID
//     makes the client fetch one new token — one token request however many
//     goroutines saw the expiry (single flight) — and replay the call once.
//   - Every error response becomes an *APIError (array envelope, OAuth
//     envelope or a non-JSON body such as an HTML 503 page), every per-record
//     error a *RecordError, and both are wrapped with their failure kind
//     (internal/failure): classify.go is the one table that decides, per
//     error code, retry / throttle / re-auth / permanent / fatal. Classify
//     reads the verdict back from any error the package returns.
//   - Per-record outcomes are reported per record, in the caller's order
//     (Result); a partly failed batch is never reported as a success
//     (DESIGN.md invariant 2). Request-level failures (network, 5xx, limits,
//     a Bulk job that failed or was aborted before reaching a row: *JobError)
//     are not *RecordError, so the delivery loop can tell an outage from a
//     record's fault (invariant 3).
//   - Bulk API 2.0 results come back unordered, so rows are matched back by
//     their key column (external ID, or Id for deletes) as the results echo
//     it, never by position; a row found in no result set gets an error,
//     never a silent success (invariant 6).
//   - API budget: once the org's remaining daily allowance falls below the
//     configured reserve (default 20%), calls fail fast with *BudgetError
//     (throttle class, with a suggested wait) instead of spending it; one
//     probe per wait window learns whether usage has recovered.
//   - Concurrency: at most MaxConcurrency requests in flight (default 10),
//     halved when Salesforce reports the concurrent-request limit and grown
//     back by one per window of successes (AIMD).
//   - Upserts are by external ID only (invariant 5). Within one request or
//     Bulk job a key appears at most once; later duplicates go to a later
//     request, so the newest change is written last.
//   - Secrets (client secret, password, private key, refresh and access
//     tokens) never appear in logs or error strings.
//
// Values a row may hold: nil (null), string, bool, integers, floats (finite),
// json.Number, time.Time (datetime, sent as UTC with milliseconds), Date,
// []byte (base64), []string (multi-select picklist, joined with ";"), and a
// relationship by a parent's external ID written either as
// "Account": map[string]any{"Org_Id__c": "X"} or as the column
// "Account.Org_Id__c". An empty string means null, as it does in Salesforce.
package salesforce
