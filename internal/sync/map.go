package sync

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/failure"
	"github.com/sfbridge/sfbridge/internal/record"
)

// MapError is why Map could not map a record: the record or the mapping is
// wrong. Map returns it wrapped as permanent (internal/failure): retrying
// the same record through the same mapping gives the same error.
type MapError struct {
	// Sync is the sync's name.
	Sync string
	// Path is the YAML path of the expression ("syncs[0].fields.Email",
	// "syncs[0].when"; relative to the sync when it was built by New), or ""
	// for a problem with the record itself.
	Path string
	// Expr is the expression, "" for a problem with the record itself.
	Expr string
	// Err is what went wrong.
	Err error
}

// Error reads "sync counselors: syncs[0].fields.Email = `lower(row.email)`: lower: want text, got a number".
func (e *MapError) Error() string {
	var b strings.Builder
	b.WriteString("sync " + e.Sync + ": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Expr != "" {
			b.WriteString(" = " + quote(e.Expr))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *MapError) Unwrap() error { return e.Err }

func (s *Sync) fail(p, src string, err error) error {
	return failure.Permanent(&MapError{Sync: s.cfg.Name, Path: p, Expr: src, Err: err})
}

// Map turns one raw record into what to do in Salesforce. It is pure: no
// I/O, no clock. An error is permanent (a *MapError wrapped by
// failure.Permanent): the record or the mapping is wrong.
//
// In order: a record of another source, or of a collection the `from` glob
// does not match, is skipped; a delete under `deletes: ignore` is skipped; a
// record for which `when` is false or null is skipped (a delete without a
// payload is not filtered by `when`: only its key is known); a delete gives
// Delete with the external ID; anything else gives Upsert with every field.
func (s *Sync) Map(r record.Record) (Action, error) {
	a := Action{Version: r.Version}
	if r.Source != s.source {
		return skip(a, "record of source %q, not %q", r.Source, s.source), nil
	}
	if s.glob != "" {
		if ok, _ := path.Match(s.glob, r.Collection); !ok {
			return skip(a, "collection %q does not match %q", r.Collection, s.glob), nil
		}
	}
	switch r.Op {
	case record.OpInsert, record.OpUpdate, record.OpUpsert:
		if r.Payload == nil {
			return Action{}, s.fail("", "", fmt.Errorf("record %s: a %s has no payload", r.ID, r.Op))
		}
	case record.OpDelete:
		if s.cfg.Deletes != config.DeletesDelete {
			return skip(a, "delete ignored (deletes: %s)", s.cfg.Deletes), nil
		}
	default:
		return Action{}, s.fail("", "", fmt.Errorf("record %s: unknown op %q", r.ID, r.Op))
	}
	env := s.env(r)
	if s.when != nil && r.Payload != nil {
		v, err := run(s.when, env)
		if err != nil {
			return Action{}, s.fail(s.at("when"), s.cfg.When, err)
		}
		switch b := v.(type) {
		case bool:
			if !b {
				return skip(a, "when is false"), nil
			}
		case nil:
			return skip(a, "when is null"), nil
		default:
			return Action{}, s.fail(s.at("when"), s.cfg.When, fmt.Errorf("gives %s, not true or false", kindOf(v)))
		}
	}
	ext := s.fields[s.ext]
	kv, err := run(ext.prog, env)
	if err != nil {
		return Action{}, s.fail(ext.path, ext.src, err)
	}
	key, sent, err := keyOf(kv)
	if err != nil {
		return Action{}, s.fail(ext.path, ext.src, fmt.Errorf("the external ID %s %v", s.cfg.ExternalID, err))
	}
	a.Key, a.KeyValue = key, sent
	if r.Op == record.OpDelete {
		a.Kind = Delete
		return a, nil
	}
	a.Kind = Upsert
	a.Fields = make(map[string]any, len(s.fields))
	write := s.cfg.Nulls == config.NullsWrite
	for i, f := range s.fields {
		if i == s.ext {
			a.Fields[f.name] = sent
			continue
		}
		v, err := run(f.prog, env)
		if err != nil {
			return Action{}, s.fail(s.exprPath(f), f.src, err)
		}
		if f.parentExt != "" {
			if str, ok := v.(string); v == nil || ok && str == "" {
				if write {
					a.Fields[f.idField] = nil
				}
				continue
			}
			if _, _, err := keyOf(v); err != nil {
				return Action{}, s.fail(s.exprPath(f), f.src, fmt.Errorf("the parent's %s %v", f.parentExt, err))
			}
			a.Fields[f.name] = map[string]any{f.parentExt: v}
			continue
		}
		if v == nil {
			if write {
				a.Fields[f.name] = nil
			}
			continue
		}
		fv, err := fieldValue(v)
		if err != nil {
			return Action{}, s.fail(s.exprPath(f), f.src, err)
		}
		a.Fields[f.name] = fv
	}
	return a, nil
}

// exprPath is the YAML path of a field's expression (under the parent's
// external ID key for a lookup).
func (s *Sync) exprPath(f field) string {
	if f.parentExt != "" {
		return f.path + "." + keyPath(f.parentExt)
	}
	return f.path
}

func skip(a Action, format string, args ...any) Action {
	a.Kind = Skip
	a.Reason = fmt.Sprintf(format, args...)
	return a
}

// env is the environment of the record's expressions:
//
//   - row: the payload (for a delete without one, the record's key fields),
//     numbers converted as described in value.go, key fields added when
//     missing;
//   - event: the same, plus id (the key: its value, or the canonical key
//     text for a key of several fields), type (the collection) and time (the
//     version's time, else when the source read it) where the payload has no
//     such field;
//   - record: source, collection, op, key (name → value), time, version,
//     metadata.
func (s *Sync) env(r record.Record) map[string]any {
	env := make(map[string]any, 3)
	var row, key map[string]any
	if s.uses.row || s.uses.event || s.uses.record {
		row = make(map[string]any, len(r.Payload)+len(r.Key))
		for k, v := range r.Payload {
			row[k] = fromPayload(v)
		}
		key = make(map[string]any, len(r.Key))
		for _, f := range r.Key {
			v := fromPayload(f.Value)
			key[f.Name] = v
			if _, ok := row[f.Name]; !ok {
				row[f.Name] = v
			}
		}
		env["row"] = row
	}
	if s.uses.event {
		event := make(map[string]any, len(row)+3)
		for k, v := range row {
			event[k] = v
		}
		if _, ok := event["id"]; !ok {
			if len(r.Key) == 1 {
				event["id"] = key[r.Key[0].Name]
			} else if text, err := r.Key.Canonical(); err == nil {
				event["id"] = text
			}
		}
		if _, ok := event["type"]; !ok {
			event["type"] = r.Collection
		}
		if _, ok := event["time"]; !ok {
			event["time"] = recordTime(r).Format(time.RFC3339Nano)
		}
		env["event"] = event
	}
	if s.uses.record {
		rec := recordEnv{
			Source:     r.Source,
			Collection: r.Collection,
			Op:         string(r.Op),
			Key:        key,
			Version:    r.Version.String(),
		}
		if len(r.Metadata) > 0 {
			rec.Metadata = make(map[string]any, len(r.Metadata))
			for k, v := range r.Metadata {
				rec.Metadata[k] = v
			}
		}
		if !r.Time.IsZero() {
			rec.Time = r.Time.UTC().Format(time.RFC3339Nano)
		}
		env["record"] = rec
	}
	return env
}
