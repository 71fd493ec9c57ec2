package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/state"
)

// guard is the version guard of DESIGN.md invariant 4: per sync and
// external ID it keeps, in the state store, the newest version delivered to
// Salesforce (key "version/<sync>/<external id>"). A record older than the
// stored version is superseded: acked and counted, never written. After a
// successful write the record's version is stored with compare-and-set, so
// of two processes storing versions of one key the newer one stays.
type guard struct {
	st     state.Store
	prefix string
}

func newGuard(st state.Store, sync string) *guard {
	return &guard{st: st, prefix: "version/" + sync + "/"}
}

// maxKeyPart bounds the external ID put in a state key; longer ones are
// hashed (external IDs are at most 255 characters in Salesforce, and state
// keys at most state.MaxKeyLen bytes).
const maxKeyPart = 300

func (g *guard) key(extID string) string {
	if len(extID) > maxKeyPart {
		sum := sha256.Sum256([]byte(extID))
		return g.prefix + "sha256:" + hex.EncodeToString(sum[:])
	}
	return g.prefix + extID
}

// stored is a key's entry in the guard.
type stored struct {
	found   bool
	version record.Version // zero when the stored value cannot be read
	rev     uint64
}

// load reads the stored version of extID.
func (g *guard) load(ctx context.Context, extID string) (stored, error) {
	e, err := g.st.Get(ctx, g.key(extID))
	if errors.Is(err, state.ErrNotFound) {
		return stored{}, nil
	}
	if err != nil {
		return stored{}, err
	}
	v, _ := decodeVersion(e.Value) // unreadable: compares with nothing, so the record is delivered
	return stored{found: true, version: v, rev: e.Revision}, nil
}

// errNewerStored says another writer stored a newer version of the key
// while this one was being written.
var errNewerStored = errors.New("a newer version was stored meanwhile")

// save stores v for extID once the record was written, given what load
// returned. It retries compare-and-set conflicts by reading again. It
// returns errNewerStored when the stored version is newer than v (only
// another process writing the same key at the same moment can cause that).
func (g *guard) save(ctx context.Context, extID string, prev stored, v record.Version, now time.Time) error {
	value, err := encodeVersion(v, now)
	if err != nil {
		return err
	}
	key := g.key(extID)
	for range 10 {
		if prev.found {
			if c, err := v.Compare(prev.version); err == nil {
				if c < 0 {
					return errNewerStored
				}
				if c == 0 {
					return nil // already there (a redelivery)
				}
			}
			_, err = g.st.Update(ctx, key, value, prev.rev)
		} else {
			_, err = g.st.Create(ctx, key, value)
		}
		if !errors.Is(err, state.ErrConflict) {
			return err
		}
		if prev, err = g.load(ctx, extID); err != nil {
			return err
		}
	}
	return fmt.Errorf("version guard: %s: too many concurrent writers", key)
}

// versionDoc is a stored version (format 1).
type versionDoc struct {
	V       int                `json:"v"`
	Kind    record.VersionKind `json:"kind"`
	LSN     string             `json:"lsn,omitempty"`
	Time    string             `json:"time,omitempty"`
	Seq     uint64             `json:"seq,omitempty"`
	Written time.Time          `json:"written"`
}

// encodeVersion writes the stored version: the bytes json.Marshal writes
// for the versionDoc (TestVersionEncodingMatchesJSON), without reflection,
// as it runs once per delivered record.
func encodeVersion(v record.Version, now time.Time) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	written := now.UTC()
	if y := written.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("version guard: write time %s is outside years 0–9999", written)
	}
	b := make([]byte, 0, 112)
	b = append(b, `{"v":1,"kind":"`...)
	b = append(b, v.Kind()...) // lsn, time or event: nothing to escape
	b = append(b, '"')
	switch v.Kind() {
	case record.VersionLSN:
		b = append(b, `,"lsn":"`...)
		b = append(b, record.FormatLSN(v.LSN())...)
	default:
		b = append(b, `,"time":"`...)
		b = v.Time().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, '"')
	if v.Seq() != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, v.Seq(), 10)
	}
	b = append(b, `,"written":"`...)
	b = written.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), nil
}

func decodeVersion(b []byte) (record.Version, error) {
	var d versionDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return record.Version{}, err
	}
	if d.V != 1 {
		return record.Version{}, fmt.Errorf("stored version format %d is not supported", d.V)
	}
	switch d.Kind {
	case record.VersionLSN:
		lsn, err := record.ParseLSN(d.LSN)
		if err != nil {
			return record.Version{}, err
		}
		return record.LSNVersion(lsn, d.Seq), nil
	case record.VersionTime, record.VersionEvent:
		t, err := time.Parse(time.RFC3339Nano, d.Time)
		if err != nil {
			return record.Version{}, err
		}
		if d.Kind == record.VersionTime {
			return record.TimeVersion(t, d.Seq), nil
		}
		return record.EventVersion(t, d.Seq), nil
	}
	return record.Version{}, fmt.Errorf("stored version kind %q is not known", d.Kind)
}
