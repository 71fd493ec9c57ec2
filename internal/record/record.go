package record

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"
)

// Op is the kind of change a Record carries.
type Op string

// Ops. A source that knows whether the item is new uses insert or update;
// one that cannot tell (polls by cursor, snapshots, events) uses upsert. The
// syncs upsert by external ID in every case but delete.
const (
	OpInsert Op = "insert"
	OpUpdate Op = "update"
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
)

// Valid reports whether o is one of the four ops.
func (o Op) Valid() bool {
	switch o {
	case OpInsert, OpUpdate, OpUpsert, OpDelete:
		return true
	}
	return false
}

// Record is one change of one keyed item, as a source read it.
type Record struct {
	// ID is the deterministic message ID, from DeriveID.
	ID string
	// Source is the configured source name, e.g. "platform_db".
	Source string
	// Collection is the table or event stream within the source, e.g.
	// "public.counselors".
	Collection string
	// Op is the kind of change.
	Op Op
	// Key is the item's key in the source.
	Key Key
	// Version orders the changes of this key.
	Version Version
	// Position is the source's checkpoint for this record (opaque).
	Position Position
	// Time is when the source read the change.
	Time time.Time
	// Payload holds the item's fields. Nil is allowed only for deletes.
	Payload map[string]any
	// Metadata holds source details (e.g. "file", "line", "txid").
	Metadata map[string]string
}

// maxIDLen bounds IDs so they fit a Nats-Msg-Id header and an SQS
// deduplication ID (128 characters).
const maxIDLen = 128

// Validate reports every problem with r, each naming its field.
func (r Record) Validate() error {
	_, err := r.validate()
	return err
}

// validate is Validate that also returns the normalized payload (see
// normalize), for Encode; nil when r has none.
func (r Record) validate() (any, error) {
	var (
		errs    []error
		payload any
	)
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkID(r.ID))
	add(checkText("source", r.Source))
	add(checkText("collection", r.Collection))
	if !r.Op.Valid() {
		add(fmt.Errorf("op: %q is not insert, update, upsert or delete", r.Op))
	}
	_, err := r.Key.Canonical()
	add(err)
	add(r.Version.Validate())
	if r.Time.IsZero() {
		add(errors.New("time: required"))
	} else if y := r.Time.UTC().Year(); y < 0 || y > 9999 {
		add(fmt.Errorf("time: year %d is outside 0–9999", y))
	}
	if r.Payload == nil && r.Op != OpDelete && r.Op.Valid() {
		add(fmt.Errorf("payload: required for %s", r.Op))
	}
	if r.Payload != nil {
		var err error
		payload, err = normalize("payload", r.Payload, 0)
		add(err)
	}
	for k, v := range r.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			add(fmt.Errorf("metadata: %q is not valid UTF-8", k))
		}
	}
	return payload, errors.Join(errs...)
}

func checkID(id string) error {
	if id == "" {
		return errors.New("id: required (use DeriveID)")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("id: %d bytes, longer than %d", len(id), maxIDLen)
	}
	for i := range len(id) {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("id: byte %d is not printable ASCII", i)
		}
	}
	return nil
}

func checkText(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s: required", field)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	return nil
}

// LogValue renders the record's identity for slog — never its payload,
// which may hold personal data.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", r.ID),
		slog.String("source", r.Source),
		slog.String("collection", r.Collection),
		slog.String("op", string(r.Op)),
		slog.String("key", r.Key.String()),
		slog.String("version", r.Version.String()),
	)
}

var _ slog.LogValuer = Record{}
