// Package state is sfbridge's small key-value store for checkpoints:
// source watermarks, replication LSNs, file marks and per-key versions. It
// lives beside the queue (a NATS KV bucket in the same JetStream, or SSM
// Parameter Store on AWS), so several sfbridge processes on one cluster share
// it and a checkpoint survives a restart.
//
// Contract of every Store (the statetest suite checks it):
//
//   - Keys are any non-empty string of at most MaxKeyLen bytes (spaces,
//     colons, dots, unicode…); adapters map them to their backend reversibly,
//     and List returns the original keys.
//   - Every write returns the key's new revision. Revisions of one key only
//     grow; Update and Delete with an expected revision are compare-and-set:
//     they fail with ErrConflict when the key moved since, so of several
//     writers racing on one revision exactly one wins.
//   - Create fails with ErrConflict when the key exists; Get returns
//     ErrNotFound for a key never written or deleted.
//   - A successful write is durable (the backend persisted it) and visible to
//     every Store on the same backend, in this process or another.
//
// Checkpoints are saved only after the broker confirmed the records they
// cover (DESIGN.md invariant 1); this package only stores them.
package state
