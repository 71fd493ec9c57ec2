package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Position is where a source is in its input, owned by the source and opaque
// to everything else. The source saves it as its checkpoint once the broker
// confirmed the record (DESIGN.md invariant 1) and resumes after it.
//
// Sources keep a small typed struct and frame it with MarshalPosition:
//
//	{"kind":"pgpoll","v":1,"pos":{...the struct...}}
//
// so a position read back by the wrong source, or written by a newer build,
// is rejected with a clear error instead of being misread.
type Position []byte

// String renders p for logs: the text when printable, else hex.
func (p Position) String() string {
	if utf8.Valid(p) && bytes.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return string(p)
	}
	return fmt.Sprintf("%x", []byte(p))
}

type positionFrame struct {
	Kind string          `json:"kind"`
	V    int             `json:"v"`
	Pos  json.RawMessage `json:"pos"`
}

// MarshalPosition frames body, a source's position struct, with the
// source's kind (e.g. "pgpoll") and the struct's format version (≥ 1).
func MarshalPosition(kind string, version int, body any) (Position, error) {
	if kind == "" {
		return nil, errors.New("position: kind is required")
	}
	if version < 1 {
		return nil, fmt.Errorf("position: %s version %d: must be ≥ 1", kind, version)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("position: %s: %w", kind, err)
	}
	out, err := json.Marshal(positionFrame{Kind: kind, V: version, Pos: raw})
	if err != nil {
		return nil, fmt.Errorf("position: %s: %w", kind, err)
	}
	return out, nil
}

// Header returns the kind and format version of a framed position without
// decoding its body, so a source can migrate positions of older versions.
func (p Position) Header() (kind string, version int, err error) {
	f, err := p.frame()
	if err != nil {
		return "", 0, err
	}
	return f.Kind, f.V, nil
}

// UnmarshalPosition decodes a position framed by MarshalPosition into body
// (a pointer). The kind and version must match exactly; unknown fields in the
// body are errors.
func UnmarshalPosition(p Position, kind string, version int, body any) error {
	f, err := p.frame()
	if err != nil {
		return err
	}
	if f.Kind != kind {
		return fmt.Errorf("position: written by a %q source, not %q", f.Kind, kind)
	}
	if f.V != version {
		return fmt.Errorf("position: %s format version %d is not supported (this build reads version %d)", kind, f.V, version)
	}
	if err := unmarshalStrict(f.Pos, body); err != nil {
		return fmt.Errorf("position: %s v%d body: %w", kind, version, err)
	}
	return nil
}

func (p Position) frame() (positionFrame, error) {
	var f positionFrame
	if len(p) == 0 {
		return f, errors.New("position: empty")
	}
	if err := unmarshalStrict(p, &f); err != nil {
		return f, fmt.Errorf("position: not a framed position (%w): %s", err, truncate(p.String(), 80))
	}
	if f.Kind == "" || f.V < 1 || len(f.Pos) == 0 {
		return f, fmt.Errorf("position: frame needs kind, v ≥ 1 and pos, got kind=%q v=%s", f.Kind, strconv.Itoa(f.V))
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
