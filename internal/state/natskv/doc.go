// Package natskv implements state.Store on a NATS JetStream key-value bucket,
// in the same JetStream as the queue (embedded or external), so every
// sfbridge process on a cluster shares one store.
//
// The bucket is named <prefix>SFBRIDGE_STATE, kept in file storage with one
// revision per key, and created on first Open (idempotently: processes
// starting together all end up on the same bucket). Revisions are the
// stream's sequence numbers; compare-and-set uses JetStream's expected
// last-subject-sequence, enforced by the server. Works with nats-server 2.9
// and later.
//
// NATS keys allow only [-/_=.a-zA-Z0-9] with non-empty dot-separated tokens,
// so keys are mapped reversibly (see key.go): '/' separates tokens, bytes
// outside [A-Za-z0-9_-] become =XX, an empty segment becomes "=". For
// example "pgpoll/platform_db/public.counselors" is stored as
// "pgpoll.platform_db.public=2Ecounselors". List filters by whole '/'
// segments on the server and by the rest of the prefix here.
package natskv
