// Package failure classifies errors into the three kinds the delivery path
// acts on (DESIGN.md §2, invariants 2 and 3):
//
//   - retryable: the default for any error. The record is retried with
//     backoff until it runs out of attempts, then dead-lettered.
//   - permanent: retrying cannot help (a validation error, a malformed
//     record). The record goes to the DLQ at once.
//   - fatal: the pipeline cannot go on (revoked credentials, a broken
//     configuration). The sync stops and alerts.
//
// A kind is attached by wrapping: Permanent(err), Fatal(err), Retryable(err).
// WithRetryAfter(err, d) attaches a delay the server asked for (HTTP
// Retry-After, Salesforce limits). Wrappers keep the message of the error they
// wrap and work through fmt.Errorf("%w") and errors.Join chains.
//
// Reading a chain: on each path from the outermost error inward the outermost
// marker wins (the layer nearest the decision knows most); where errors.Join
// splits the chain, the most severe kind (fatal > permanent > retryable) and
// the longest retry-after win. Every function is nil-safe: wrapping nil gives
// nil, and KindOf(nil) is KindRetryable.
package failure
