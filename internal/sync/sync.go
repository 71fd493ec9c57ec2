package sync

import (
	"fmt"
	"path"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/source"
)

// Sync is one compiled sync: a filter and a mapping from the records of one
// source onto one Salesforce object. It is immutable and safe for concurrent
// use.
type Sync struct {
	cfg     config.Sync
	path    string           // YAML path of the sync ("syncs[1]"), "" when built by New
	line    func(string) int // line of a YAML path, nil when unknown
	source  string
	glob    string // collection glob, "" for every collection
	subject string
	ordered bool // one table of a postgres_poll source: see InStreamOrder
	when    *vm.Program
	fields  []field
	ext     int   // index of the external ID field in fields
	uses    names // the names the expressions use: env builds only those
}

// field is one compiled entry of `fields`.
type field struct {
	name      string // Salesforce field, or relationship name for a lookup
	parentExt string // the parent's external ID field (lookups only)
	idField   string // the lookup's Id field (AccountId, Parent__c), cleared under nulls: write
	src       string // the expression as written
	path      string // YAML path ("syncs[0].fields.Email", or "fields.Email" under New)
	prog      *vm.Program
	typ       reflect.Type // static result type; nil or interface when unknown
}

// New compiles one sync from its config (already validated by
// internal/config). src is the source the sync reads from (its `from`);
// nil is allowed for a sync built in code without one. It does no I/O.
// Problems are returned as *config.Problems whose paths are relative to the
// sync ("when", "fields.Email"); Compile reports full paths with lines.
func New(cfg config.Sync, src *config.Source) (*Sync, error) {
	return newSync(cfg, src, "", nil)
}

// Compile compiles every sync of c, in order. All problems of all syncs
// are returned together as *config.Problems with full YAML paths
// ("syncs[1].fields.Email") and their lines in c's file.
func Compile(c *config.Config) ([]*Sync, error) {
	var all config.Problems
	all.File = c.File()
	out := make([]*Sync, 0, len(c.Syncs))
	for i, sc := range c.Syncs {
		src, _ := c.Source(sc.SourceName())
		s, err := newSync(sc, src, fmt.Sprintf("syncs[%d]", i), c.Line)
		if err != nil {
			var ps *config.Problems
			if pe, ok := err.(*config.Problems); ok {
				ps = pe
			} else {
				return nil, err
			}
			all.List = append(all.List, ps.List...)
			continue
		}
		out = append(out, s)
	}
	if err := all.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func newSync(cfg config.Sync, src *config.Source, prefix string, line func(string) int) (*Sync, error) {
	s := &Sync{cfg: cfg, path: prefix, line: line, source: cfg.SourceName(), glob: cfg.Collections(), ext: -1}
	if s.cfg.Nulls == "" {
		s.cfg.Nulls = config.NullsSkip
	}
	if s.cfg.Deletes == "" {
		s.cfg.Deletes = config.DeletesIgnore
	}
	var ps config.Problems
	add := func(p, format string, args ...any) {
		ps.Add(p, s.lineOf(p), format, args...)
	}
	if s.source == "" {
		add(s.at("from"), "required (a source name, optionally .table or .event_type glob)")
	} else if src != nil && src.Name != s.source {
		add(s.at("from"), "names source %q but was given source %q", s.source, src.Name)
	}
	if s.glob != "" {
		if _, err := path.Match(s.glob, ""); err != nil {
			add(s.at("from"), "%q is not a valid glob", s.glob)
		}
	}
	s.subject = subjectFor(s.source, s.glob)
	s.ordered = src != nil && src.Type == config.SourcePostgresPoll && s.glob != "" && !strings.ContainsAny(s.glob, `*?[\`)
	if strings.TrimSpace(cfg.When) != "" {
		prog, typ, err := compileExpr(cfg.When)
		switch {
		case err != nil:
			add(s.at("when"), "%v", err)
		case typ != nil && typ.Kind() != reflect.Bool && typ.Kind() != reflect.Interface:
			add(s.at("when"), "%s gives %s, not a condition (true or false)", quote(cfg.When), typeName(typ))
		default:
			s.when = prog
		}
	}
	if cfg.Object == "" {
		add(s.at("object"), "required")
	}
	if cfg.ExternalID == "" {
		add(s.at("external_id"), "required")
	}
	for _, fc := range cfg.Fields {
		f := field{name: fc.Name, parentExt: fc.ParentExternalID, src: fc.Expr, path: s.at(fieldPath(fc.Name))}
		exprPath := f.path
		if fc.IsLookup() {
			f.idField = lookupIDField(fc.Name)
			exprPath = f.path + "." + keyPath(fc.ParentExternalID)
		}
		prog, typ, err := compileExpr(fc.Expr)
		if err != nil {
			add(exprPath, "%v", err)
			continue
		}
		f.prog, f.typ = prog, typ
		if !fc.IsLookup() && strings.EqualFold(fc.Name, cfg.ExternalID) {
			if s.ext >= 0 {
				add(f.path, "maps the external ID field %s twice", cfg.ExternalID)
			}
			s.ext = len(s.fields)
		}
		s.fields = append(s.fields, f)
	}
	if cfg.ExternalID != "" && s.ext < 0 && !hasFieldProblem(ps, s.at("fields")) {
		add(s.at("fields"), "must map the external ID field %s (upserts match on its value)", cfg.ExternalID)
	}
	if ps.Len() > 0 {
		return nil, ps.Err()
	}
	s.uses.uses(s.when)
	for _, f := range s.fields {
		s.uses.uses(f.prog)
	}
	return s, nil
}

// hasFieldProblem reports whether a problem was already found under p (a
// field that failed to compile may be the external ID field).
func hasFieldProblem(ps config.Problems, p string) bool {
	for _, pr := range ps.List {
		if strings.HasPrefix(pr.Path, p) {
			return true
		}
	}
	return false
}

// at returns the YAML path of key within the sync.
func (s *Sync) at(key string) string {
	if s.path == "" {
		return key
	}
	return s.path + "." + key
}

func (s *Sync) lineOf(p string) int {
	if s.line == nil {
		return 0
	}
	return s.line(p)
}

// fieldPath is the YAML path of a field under fields, as internal/config
// writes it: fields.Email, or fields["odd key"].
func fieldPath(name string) string {
	k := keyPath(name)
	if strings.HasPrefix(k, "[") {
		return "fields" + k
	}
	return "fields." + k
}

// keyPath renders a mapping key as a path element the way internal/config
// does: plain keys as they are, others quoted in brackets.
func keyPath(key string) string {
	if key != "" && plainKey(key) {
		return key
	}
	return "[" + fmt.Sprintf("%q", key) + "]"
}

func plainKey(k string) bool {
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// lookupIDField is the Id field behind a relationship name, by Salesforce's
// naming rule: Account → AccountId, Parent__r → Parent__c. Check confirms it
// against the describe.
func lookupIDField(rel string) string {
	if base, ok := strings.CutSuffix(rel, "__r"); ok {
		return base + "__c"
	}
	return rel + "Id"
}

// subjectFor is the queue filter of a sync reading collections matching
// glob from source. A glob without metacharacters is one subject; otherwise
// the filter covers the glob's literal leading tokens and Map filters the
// rest (a glob's '*' also matches dots, which one NATS token cannot).
func subjectFor(src, glob string) string {
	if src == "" {
		return ""
	}
	if glob == "" {
		return "in." + source.SubjectToken(src) + ".>"
	}
	if !strings.ContainsAny(glob, `*?[\`) {
		return source.Subject(src, glob)
	}
	var lit []string
	for _, tok := range strings.Split(glob, ".") {
		if strings.ContainsAny(tok, `*?[\`) {
			break
		}
		lit = append(lit, source.SubjectToken(tok))
	}
	subject := "in." + source.SubjectToken(src)
	for _, t := range lit {
		subject += "." + t
	}
	return subject + ".>"
}

// Name is the sync's name.
func (s *Sync) Name() string { return s.cfg.Name }

// InStreamOrder reports whether the sync reads exactly one table of a
// postgres_poll source. Such a source publishes the versions of each row in
// the order of their versions: it reads the current rows in cursor order, so
// a row published again (after a crash, an overlap re-read, a moved
// watermark) is published as it is now, never as an older version. The
// delivery loop's version guard relies on that (deliver.Config.StreamOrder).
// Events (their time is the application's) and globs over several tables
// (two tables' cursors are unrelated) have no such order.
func (s *Sync) InStreamOrder() bool { return s.ordered }

// Subject is the queue filter subject of the sync's consumer:
// "in.<source>.>" or "in.<source>.<collection>" (see subjectFor). Records
// it lets through that the `from` glob does not match are skipped by Map.
func (s *Sync) Subject() string { return s.subject }

// Source is the name of the source the sync reads from.
func (s *Sync) Source() string { return s.source }

// Object is the Salesforce object's API name.
func (s *Sync) Object() string { return s.cfg.Object }

// ExternalID is the external ID field upserts and deletes match on.
func (s *Sync) ExternalID() string { return s.cfg.ExternalID }

// Config returns the sync's config, with the nulls and deletes defaults
// applied.
func (s *Sync) Config() config.Sync { return s.cfg }

// Path is the sync's YAML path ("syncs[1]"), "" when built by New.
func (s *Sync) Path() string { return s.path }
