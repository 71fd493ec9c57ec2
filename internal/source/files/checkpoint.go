package files

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/state"
)

// KeyPrefix starts every state key of this source type; the layout is
// "files/<source>/<file name>".
const KeyPrefix = "files/"

// Position framing of the state values: record.MarshalPosition(kind,
// version, …).
const (
	CheckpointKind    = "files"
	CheckpointVersion = 1
)

// StateKey is the state key of a file's Checkpoint.
func StateKey(source, file string) string { return statePrefix(source) + file }

func statePrefix(source string) string { return KeyPrefix + source + "/" }

// Checkpoint is how far the reading of one file got. It is saved after
// every batch, only once the broker confirmed every event and the DLQ
// stored every bad item it covers (DESIGN.md invariant 1), and deleted once
// the file is moved or deleted. A file read again after a crash skips the
// items it covers, as long as the file is the same one (name, size,
// modification time and inode); a file that changed is read from the
// start.
type Checkpoint struct {
	// File is the file's name in the folder (bytes that are not UTF-8
	// replaced by U+FFFD).
	File string `json:"file"`
	// Size, MTime and Inode identify the file's content the checkpoint is
	// about.
	Size  int64     `json:"size"`
	MTime time.Time `json:"mtime"`
	Inode uint64    `json:"inode"`
	// Items counts the results read and settled, in read order: events
	// confirmed by the broker and bad items stored in the DLQ. A new read
	// skips this many.
	Items int64 `json:"items"`
	// Events counts the events among them.
	Events int64 `json:"events"`
	// Updated is when the checkpoint was written.
	Updated time.Time `json:"updated"`
}

// Marshal frames c as a state value.
func (c Checkpoint) Marshal() ([]byte, error) {
	return record.MarshalPosition(CheckpointKind, CheckpointVersion, c)
}

// ParseCheckpoint decodes a value written by Checkpoint.Marshal and checks
// that it is complete.
func ParseCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := record.UnmarshalPosition(b, CheckpointKind, CheckpointVersion, &c); err != nil {
		return Checkpoint{}, err
	}
	switch {
	case c.File == "":
		return Checkpoint{}, errors.New("files checkpoint: file: required")
	case c.Size < 0:
		return Checkpoint{}, fmt.Errorf("files checkpoint: size %d: must not be negative", c.Size)
	case c.Items < 0 || c.Events < 0 || c.Events > c.Items:
		return Checkpoint{}, fmt.Errorf("files checkpoint: items %d, events %d: not counts of settled items", c.Items, c.Events)
	}
	return c, nil
}

// identity is what tells one content of a file from another.
type identity struct {
	size  int64
	mtime time.Time
	inode uint64
}

func (c Checkpoint) identity() identity {
	return identity{size: c.Size, mtime: c.MTime, inode: c.Inode}
}

func (a identity) equal(b identity) bool {
	return a.size == b.size && a.mtime.Equal(b.mtime) && a.inode == b.inode
}

// checkpoint is a Checkpoint with its file's name as it is in the folder
// (the state key's) and its state revision (0: not stored).
type checkpoint struct {
	Checkpoint
	name string
	rev  uint64
}

// errBusy: the checkpoint changed under us — another process reads the
// same folder, or `sfbridge state` changed it.
var errBusy = errors.New("the checkpoint changed during the read (another sfbridge process on the same folder, or sfbridge state); the file is read again later")

// loadCheckpoint reads a file's checkpoint. A value that does not decode is
// logged and treated as none (the file is read from the start), keeping
// its revision so that it is overwritten.
func (s *Source) loadCheckpoint(ctx context.Context, name string) (checkpoint, error) {
	key := StateKey(s.name, name)
	e, err := s.state.Get(ctx, key)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return checkpoint{name: name}, nil
	case err != nil:
		return checkpoint{}, fmt.Errorf("read checkpoint %s: %w", key, err)
	}
	c, err := ParseCheckpoint(e.Value)
	if err != nil {
		s.log.Warn("files: checkpoint unreadable; the file is read from the start", "file", name, "key", key, "err", err)
		return checkpoint{name: name, rev: e.Revision}, nil
	}
	if c.File != shownName(name) {
		s.log.Warn("files: checkpoint is about another file; the file is read from the start", "file", name, "key", key, "checkpoint_file", c.File)
		return checkpoint{name: name, rev: e.Revision}, nil
	}
	return checkpoint{Checkpoint: c, name: name, rev: e.Revision}, nil
}

// saveCheckpoint writes cp with compare-and-set on the revision read, and
// returns it with its new revision.
func (s *Source) saveCheckpoint(ctx context.Context, cp checkpoint) (checkpoint, error) {
	key := StateKey(s.name, cp.name)
	cp.Updated = s.now().UTC()
	value, err := cp.Marshal()
	if err != nil {
		return cp, err
	}
	var rev uint64
	if cp.rev == 0 {
		rev, err = s.state.Create(ctx, key, value)
	} else {
		rev, err = s.state.Update(ctx, key, value, cp.rev)
	}
	if errors.Is(err, state.ErrConflict) {
		return cp, fmt.Errorf("save checkpoint %s: %w: %w", key, errBusy, err)
	}
	if err != nil {
		return cp, fmt.Errorf("save checkpoint %s: %w", key, err)
	}
	cp.rev = rev
	return cp, nil
}

// deleteCheckpoint removes a file's checkpoint, if there is one.
func (s *Source) deleteCheckpoint(ctx context.Context, name string) error {
	key := StateKey(s.name, name)
	if err := s.state.Delete(ctx, key, 0); err != nil && !errors.Is(err, state.ErrNotFound) {
		return fmt.Errorf("delete checkpoint %s: %w", key, err)
	}
	return nil
}
