package s3src

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/state"
)

// KeyPrefix starts every state key of this source type. The layout:
//
//	s3/<source>/listing                  the listing's start-after key (Listing)
//	s3/<source>/object/<sha256 of key>   one object's checkpoint and mark (Checkpoint)
//
// The object's key is hashed because S3 keys (up to 1024 bytes) can be
// longer than a state key; the Checkpoint holds it in clear.
const KeyPrefix = "s3/"

// Position framing of the state values: record.MarshalPosition(kind,
// version, …).
const (
	CheckpointKind = "s3.object"
	ListingKind    = "s3.listing"
	FormatVersion  = 1
)

// ListingKey is the state key of a source's Listing.
func ListingKey(source string) string { return KeyPrefix + source + "/listing" }

// ObjectKey is the state key of an object's Checkpoint.
func ObjectKey(source, key string) string {
	sum := sha256.Sum256([]byte(key))
	return objectPrefix(source) + hex.EncodeToString(sum[:])
}

func objectPrefix(source string) string { return KeyPrefix + source + "/object/" }

// Checkpoint is what the source remembers of one object: how far its
// reading got, and (mark: state, tag) that it is processed. It is saved
// only after the broker confirmed every event it covers (DESIGN.md
// invariant 1), so an object read again after a crash resumes after the
// last confirmed batch.
type Checkpoint struct {
	// Key is the object's key.
	Key string `json:"key"`
	// ETag identifies the object's content the checkpoint is about; an
	// object overwritten since (another ETag) is read from the start.
	ETag string `json:"etag"`
	// Items counts the results read and settled, in read order: events
	// confirmed by the broker and bad items stored in the DLQ. A new read
	// skips this many.
	Items int64 `json:"items"`
	// Events counts the events among them.
	Events int64 `json:"events"`
	// Complete: every item is settled; only the mark may be missing.
	Complete bool `json:"complete"`
	// Marked: the object is processed (mark: state), or tagged (mark: tag;
	// the tag is the mark, this is a cache of it). mark: move deletes the
	// checkpoint once the object is moved.
	Marked bool `json:"marked"`
	// Updated is when the checkpoint was written.
	Updated time.Time `json:"updated"`
}

// Marshal frames c as a state value.
func (c Checkpoint) Marshal() ([]byte, error) {
	return record.MarshalPosition(CheckpointKind, FormatVersion, c)
}

// ParseCheckpoint decodes a value written by Checkpoint.Marshal.
func ParseCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := record.UnmarshalPosition(b, CheckpointKind, FormatVersion, &c); err != nil {
		return Checkpoint{}, err
	}
	switch {
	case c.Key == "":
		return Checkpoint{}, errors.New("s3 checkpoint: key: required")
	case c.ETag == "":
		return Checkpoint{}, errors.New("s3 checkpoint: etag: required")
	case c.Items < 0 || c.Events < 0 || c.Events > c.Items:
		return Checkpoint{}, fmt.Errorf("s3 checkpoint: items %d, events %d: not counts of settled items", c.Items, c.Events)
	}
	return c, nil
}

// Listing is where incremental listings start: after the highest key up to
// which every object was processed.
type Listing struct {
	// Prefix is the prefix listed; a Listing of another prefix is ignored
	// (the config changed).
	Prefix string `json:"prefix"`
	// After is ListObjectsV2's StartAfter.
	After string `json:"after"`
}

// Marshal frames l as a state value.
func (l Listing) Marshal() ([]byte, error) {
	return record.MarshalPosition(ListingKind, FormatVersion, l)
}

// ParseListing decodes a value written by Listing.Marshal.
func ParseListing(b []byte) (Listing, error) {
	var l Listing
	err := record.UnmarshalPosition(b, ListingKind, FormatVersion, &l)
	return l, err
}

// checkpoint is a Checkpoint with its state revision (0: not stored).
type checkpoint struct {
	Checkpoint
	rev uint64
}

// errBusy: the checkpoint moved under us — another process reads the same
// object. It finishes it; this one leaves it.
var errBusy = errors.New("another process is reading this object (its checkpoint changed)")

// loadCheckpoint returns key's checkpoint; a zero one (rev 0) when there is
// none. A value that does not decode is logged and treated as none, so the
// object is read again from the start (duplicates are dropped by ID).
func (s *Source) loadCheckpoint(ctx context.Context, key string) (checkpoint, error) {
	skey := ObjectKey(s.name, key)
	e, err := s.state.Get(ctx, skey)
	if errors.Is(err, state.ErrNotFound) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, sinkErr(fmt.Errorf("state: read the checkpoint of %s: %w", s.uri(key), err))
	}
	return s.decodeCheckpoint(key, e), nil
}

func (s *Source) decodeCheckpoint(key string, e state.Entry) checkpoint {
	c, err := ParseCheckpoint(e.Value)
	if err != nil || c.Key != key {
		if err == nil {
			err = fmt.Errorf("it is about key %q", c.Key)
		}
		s.log.Warn("s3: ignoring an unreadable checkpoint; the object is read from the start", "key", key, "state_key", e.Key, "err", err)
		return checkpoint{rev: e.Revision}
	}
	return checkpoint{Checkpoint: c, rev: e.Revision}
}

// saveCheckpoint writes c (compare-and-set on its revision) and updates its
// revision. errBusy when another writer moved it.
func (s *Source) saveCheckpoint(ctx context.Context, c *checkpoint) error {
	c.Updated = s.now().UTC()
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	skey := ObjectKey(s.name, c.Key)
	var rev uint64
	if c.rev == 0 {
		rev, err = s.state.Create(ctx, skey, b)
	} else {
		rev, err = s.state.Update(ctx, skey, b, c.rev)
	}
	if errors.Is(err, state.ErrConflict) {
		return errBusy
	}
	if err != nil {
		return sinkErr(fmt.Errorf("state: save the checkpoint of %s: %w", s.uri(c.Key), err))
	}
	c.rev = rev
	return nil
}

// dropCheckpoint deletes c's checkpoint if it is stored (the object is
// gone: moved, quarantined or deleted).
func (s *Source) dropCheckpoint(ctx context.Context, key string, rev uint64) error {
	if rev == 0 {
		return nil
	}
	err := s.state.Delete(ctx, ObjectKey(s.name, key), rev)
	if err != nil && !errors.Is(err, state.ErrConflict) && !errors.Is(err, state.ErrNotFound) {
		return sinkErr(fmt.Errorf("state: delete the checkpoint of %s: %w", s.uri(key), err))
	}
	return nil
}

// loadListing returns the saved start-after key, "" when there is none or
// it was saved for another prefix.
func (s *Source) loadListing(ctx context.Context) (string, error) {
	e, err := s.state.Get(ctx, ListingKey(s.name))
	if errors.Is(err, state.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", sinkErr(fmt.Errorf("state: read the listing position: %w", err))
	}
	l, err := ParseListing(e.Value)
	if err != nil {
		s.log.Warn("s3: ignoring an unreadable listing position; listing from the start", "state_key", e.Key, "err", err)
		return "", nil
	}
	if l.Prefix != s.cfg.Prefix {
		return "", nil
	}
	return l.After, nil
}

// saveListing saves the start-after key.
func (s *Source) saveListing(ctx context.Context, after string) error {
	b, err := Listing{Prefix: s.cfg.Prefix, After: after}.Marshal()
	if err != nil {
		return err
	}
	if _, err := s.state.Put(ctx, ListingKey(s.name), b); err != nil {
		return sinkErr(fmt.Errorf("state: save the listing position: %w", err))
	}
	return nil
}

// sinkError is a failure of the queue, the DLQ or the state store: not the
// object's fault, and every other object would fail the same way, so the
// run stops and retries later.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

func sinkErr(err error) error { return &sinkError{err: err} }
