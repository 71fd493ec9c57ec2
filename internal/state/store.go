package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors every Store returns (wrapped with the key; test with errors.Is).
var (
	// ErrNotFound: the key has no value.
	ErrNotFound = errors.New("state: key not found")
	// ErrConflict: a compare-and-set lost — the key exists (Create) or its
	// revision is not the expected one (Update, Delete).
	ErrConflict = errors.New("state: revision conflict")
	// ErrInvalidKey: the key is empty or too long.
	ErrInvalidKey = errors.New("state: invalid key")
)

// MaxKeyLen is the longest key, in bytes, every Store accepts.
const MaxKeyLen = 512

// Entry is a key's current value.
type Entry struct {
	Key   string
	Value []byte
	// Revision identifies this write; pass it to Update or Delete for
	// compare-and-set. It is never zero.
	Revision uint64
	// Updated is when the backend stored this revision (UTC).
	Updated time.Time
}

// Store is a durable key-value store with compare-and-set.
type Store interface {
	// Get returns the key's current entry, or ErrNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// Put writes value whatever the key holds and returns the new revision.
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	// Create writes value only if the key has no value (never written or
	// deleted); otherwise ErrConflict.
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	// Update writes value only if the key's revision is still expected
	// (> 0); otherwise ErrConflict (also when the key was deleted).
	Update(ctx context.Context, key string, value []byte, expected uint64) (uint64, error)
	// Delete removes the key. With expected > 0 it removes it only at that
	// revision, else ErrConflict. Deleting a key without value and with
	// expected 0 succeeds.
	Delete(ctx context.Context, key string, expected uint64) error
	// List returns the entries whose keys start with prefix ("" for all),
	// sorted by key.
	List(ctx context.Context, prefix string) ([]Entry, error)
}

// ValidateKey checks key against the rules every Store shares.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	return nil
}
