package record

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrIncomparable is returned by Version.Compare for versions of different
// kinds (or an unset version): no order between them is known.
var ErrIncomparable = errors.New("versions are not comparable")

// VersionKind says what a Version measures.
type VersionKind string

// Version kinds. Versions compare only within one kind.
const (
	// VersionLSN is a Postgres commit LSN; Seq orders changes within the
	// transaction.
	VersionLSN VersionKind = "lsn"
	// VersionTime is a row timestamp (e.g. updated_at) at microsecond
	// precision; Seq breaks ties within a microsecond.
	VersionTime VersionKind = "time"
	// VersionEvent is an event's own time at microsecond precision; Seq
	// breaks ties (e.g. the event's sequence number).
	VersionEvent VersionKind = "event"
)

// Version orders the changes of one key (DESIGN.md invariant 4: an older
// version never overwrites a newer one). The zero Version is unset.
type Version struct {
	kind   VersionKind
	lsn    uint64
	micros int64
	seq    uint64
}

// LSNVersion is the version of a change committed at lsn; seq is the
// change's position within its transaction.
func LSNVersion(lsn, seq uint64) Version {
	return Version{kind: VersionLSN, lsn: lsn, seq: seq}
}

// TimeVersion is the version of a row last changed at t (truncated to the
// microsecond, Postgres' precision); tie breaks equal times.
func TimeVersion(t time.Time, tie uint64) Version {
	return Version{kind: VersionTime, micros: t.UnixMicro(), seq: tie}
}

// EventVersion is the version of an event that happened at t (truncated to
// the microsecond); seq breaks equal times.
func EventVersion(t time.Time, seq uint64) Version {
	return Version{kind: VersionEvent, micros: t.UnixMicro(), seq: seq}
}

// Kind returns the version's kind, "" when unset.
func (v Version) Kind() VersionKind { return v.kind }

// LSN returns the commit LSN of a VersionLSN, else 0.
func (v Version) LSN() uint64 { return v.lsn }

// Time returns the time of a VersionTime or VersionEvent (UTC), else the zero
// time.
func (v Version) Time() time.Time {
	if v.kind != VersionTime && v.kind != VersionEvent {
		return time.Time{}
	}
	return time.UnixMicro(v.micros).UTC()
}

// Seq returns the tie-breaker.
func (v Version) Seq() uint64 { return v.seq }

// IsZero reports whether v is unset.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
// Versions of different kinds, or an unset one, give ErrIncomparable: the
// caller decides (the version guard delivers and counts it).
func (v Version) Compare(w Version) (int, error) {
	if v.kind == "" || w.kind == "" || v.kind != w.kind {
		return 0, fmt.Errorf("%w: %s and %s", ErrIncomparable, v, w)
	}
	return cmp.Or(cmp.Compare(v.lsn, w.lsn), cmp.Compare(v.micros, w.micros), cmp.Compare(v.seq, w.seq)), nil
}

// String renders v for logs: "lsn:16/B374D848+2", "time:2024-05-01T10:00:00.123456Z",
// "unset".
func (v Version) String() string {
	var s string
	switch v.kind {
	case "":
		return "unset"
	case VersionLSN:
		s = "lsn:" + FormatLSN(v.lsn)
	case VersionTime, VersionEvent:
		s = string(v.kind) + ":" + v.Time().Format(time.RFC3339Nano)
	default:
		s = string(v.kind) + ":?"
	}
	if v.seq != 0 {
		s += "+" + strconv.FormatUint(v.seq, 10)
	}
	return s
}

// Validate checks that v is set and in range.
func (v Version) Validate() error {
	switch v.kind {
	case "":
		return errors.New("version: required")
	case VersionLSN:
		if v.lsn == 0 {
			return errors.New("version: lsn 0/0 is not a valid LSN")
		}
	case VersionTime, VersionEvent:
		if y := v.Time().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("version: time year %d is outside 0–9999", y)
		}
	default:
		return fmt.Errorf("version: unknown kind %q", v.kind)
	}
	return nil
}

// FormatLSN renders an LSN the way Postgres does: "16/B374D848".
func FormatLSN(lsn uint64) string {
	return fmt.Sprintf("%X/%X", lsn>>32, uint32(lsn))
}

// ParseLSN parses Postgres' "16/B374D848" form.
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("lsn %q: want two hex numbers of at most 8 digits, as 16/B374D848", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("lsn %q: not hexadecimal", s)
	}
	return h<<32 | l, nil
}

// versionWire is the envelope form of a Version.
type versionWire struct {
	Kind VersionKind `json:"kind"`
	LSN  string      `json:"lsn,omitempty"`
	Time string      `json:"time,omitempty"`
	Seq  uint64      `json:"seq,omitempty"`
}

func (v Version) wire() versionWire {
	w := versionWire{Kind: v.kind, Seq: v.seq}
	switch v.kind {
	case VersionLSN:
		w.LSN = FormatLSN(v.lsn)
	case VersionTime, VersionEvent:
		w.Time = v.Time().Format(time.RFC3339Nano)
	}
	return w
}

func versionFromWire(w versionWire) (Version, error) {
	switch w.Kind {
	case VersionLSN:
		if w.Time != "" {
			return Version{}, errors.New("version: an lsn version has no time")
		}
		lsn, err := ParseLSN(w.LSN)
		if err != nil {
			return Version{}, fmt.Errorf("version.lsn: %w", err)
		}
		v := LSNVersion(lsn, w.Seq)
		return v, v.Validate()
	case VersionTime, VersionEvent:
		if w.LSN != "" {
			return Version{}, fmt.Errorf("version: a %s version has no lsn", w.Kind)
		}
		t, err := time.Parse(time.RFC3339Nano, w.Time)
		if err != nil {
			return Version{}, fmt.Errorf("version.time: %w", err)
		}
		if t.Nanosecond()%1000 != 0 {
			return Version{}, fmt.Errorf("version.time: %q is more precise than a microsecond", w.Time)
		}
		v := Version{kind: w.Kind, micros: t.UnixMicro(), seq: w.Seq}
		return v, v.Validate()
	case "":
		return Version{}, errors.New("version.kind: required")
	default:
		return Version{}, fmt.Errorf("version.kind: unknown %q (want lsn, time or event)", w.Kind)
	}
}
