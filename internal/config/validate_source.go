package config

import (
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

func (v *validator) sources() {
	if len(v.c.Sources) == 0 {
		v.add("sources", "list at least one source (types: %s)", list(SourceTypes))
		return
	}
	names := make([]string, len(v.c.Sources))
	for i := range v.c.Sources {
		s := &v.c.Sources[i]
		p := index("sources", i)
		names[i] = s.Name
		v.identName(p+".name", s.Name)
		if !enum(v, p+".type", s.Type, SourceTypes) {
			continue
		}
		v.onlyOwnSettings(p, s)
		switch s.Type {
		case SourcePostgresPoll:
			v.postgresPoll(p, s.PostgresPoll)
		case SourcePostgresCDC:
			v.postgresCDC(p, s.PostgresCDC)
		case SourceFiles:
			v.files(p, s.Files)
		case SourceS3:
			v.s3(p, s.S3)
		case SourceHTTP:
			v.http(p, s.HTTP)
		}
	}
	v.unique("sources", names)
}

// onlyOwnSettings catches a Source built in code with the settings of
// another type (YAML cannot express that: keys are checked per type).
func (v *validator) onlyOwnSettings(p string, s *Source) {
	set := map[SourceType]bool{
		SourcePostgresPoll: s.PostgresPoll != nil,
		SourcePostgresCDC:  s.PostgresCDC != nil,
		SourceFiles:        s.Files != nil,
		SourceS3:           s.S3 != nil,
		SourceHTTP:         s.HTTP != nil,
	}
	for _, t := range SourceTypes {
		if t != s.Type && set[t] {
			v.add(p, "has %s settings but type %s", t, s.Type)
		}
	}
	s.settings() // make sure the own settings exist
}

func (v *validator) dsn(p string, dsn Secret) {
	if dsn.IsZero() {
		v.required(p, "(a postgres:// URL or key=value connection string)")
		return
	}
	s := strings.TrimSpace(dsn.Reveal())
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		if _, err := url.Parse(s); err != nil {
			v.add(p, "the postgres:// URL does not parse")
		}
		return
	}
	if !strings.Contains(s, "=") {
		v.add(p, "not a postgres:// URL or a key=value connection string")
	}
}

// column checks a Postgres column name (quoted by the source, so any
// printable name up to 63 bytes without a double quote or dot).
func (v *validator) column(p, col string) bool {
	switch {
	case col == "":
		v.required(p, "(a column name)")
	case len(col) > 63:
		v.add(p, "%s is longer than Postgres's 63-byte limit", v.show(p, col))
	case strings.ContainsAny(col, "\".\x00") || hasControl(col) || strings.TrimSpace(col) != col:
		v.add(p, "%s is not a column name (no quotes, dots, control characters or surrounding spaces)", v.show(p, col))
	default:
		return true
	}
	return false
}

// table checks "schema.table".
func (v *validator) table(p, t string) bool {
	if t == "" {
		v.required(p, "(schema.table)")
		return false
	}
	schema, table, ok := strings.Cut(t, ".")
	if !ok || strings.Contains(table, ".") {
		v.add(p, "expected schema.table, got %s", v.show(p, t))
		return false
	}
	return v.column(p, schema) && v.column(p, table)
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func (v *validator) columns(p string, cols []string) {
	seen := map[string]bool{}
	for j, c := range cols {
		cp := index(p, j)
		if v.column(cp, c) && seen[c] {
			v.add(cp, "%s is listed twice", v.show(cp, c))
		}
		seen[c] = true
	}
}

func (v *validator) softDelete(p string, sd *SoftDelete) {
	if sd != nil {
		v.column(p+".column", sd.Column)
	}
}

func (v *validator) postgresPoll(p string, pg *PostgresPoll) {
	v.dsn(p+".dsn", pg.DSN)
	switch {
	case pg.Schedule != "" && (pg.Every != 0 || v.c.present(p+".every")):
		v.add(p+".schedule", "every and schedule are exclusive; keep one")
	case pg.Schedule != "":
		v.cron(p+".schedule", pg.Schedule)
	default:
		v.durationMin(p+".every", pg.Every, time.Second)
	}
	v.intRange(p+".batch_size", pg.BatchSize, 1, 100_000, "")
	v.durationMin(p+".lag", pg.Lag, 0)
	v.durationMin(p+".overlap", pg.Overlap, 0)
	v.durationMin(p+".statement_timeout", pg.StatementTimeout, 0)
	v.intRange(p+".pool_size", pg.PoolSize, 1, 100, "")
	if len(pg.Tables) == 0 {
		v.add(p+".tables", "list at least one table ({table: schema.table, key: id, cursor: updated_at})")
	}
	seen := map[string]string{}
	for j, t := range pg.Tables {
		tp := index(p+".tables", j)
		if v.table(tp+".table", t.Table) {
			if other, dup := seen[t.Table]; dup {
				v.add(tp+".table", "%s is already read by %s", v.show(tp+".table", t.Table), other)
			}
			seen[t.Table] = tp
		}
		if len(t.Key) == 0 {
			v.required(tp+".key", "(the primary key column, or a list of them)")
		}
		v.columns(tp+".key", t.Key)
		v.column(tp+".cursor", t.Cursor)
		v.columns(tp+".columns", t.Columns)
		v.softDelete(tp+".soft_delete", t.SoftDelete)
		if len(t.Columns) > 0 {
			need := append(append([]string{}, t.Key...), t.Cursor)
			if t.SoftDelete != nil {
				need = append(need, t.SoftDelete.Column)
			}
			for _, n := range need {
				if n != "" && !oneOf(n, t.Columns) {
					v.add(tp+".columns", "must include %s (a key, cursor or soft-delete column)", v.show(tp+".columns", n))
				}
			}
		}
		if strings.TrimSpace(t.Where) == "" && v.c.present(tp+".where") {
			v.add(tp+".where", "empty filter; remove the key or write a condition")
		}
		// A value equal to the source's (usually inherited) is reported
		// there, once.
		if t.Lag != pg.Lag {
			v.durationMin(tp+".lag", t.Lag, 0)
		}
		if t.Overlap != pg.Overlap {
			v.durationMin(tp+".overlap", t.Overlap, 0)
		}
		if t.BatchSize != pg.BatchSize {
			v.intRange(tp+".batch_size", t.BatchSize, 1, 100_000, "")
		}
	}
}

func (v *validator) cron(p, spec string) {
	if strings.HasPrefix(strings.TrimSpace(spec), "@every") {
		v.add(p, "use every: instead of @every")
		return
	}
	if fields := strings.Fields(spec); len(fields) > 0 && !strings.HasPrefix(fields[0], "@") && !strings.HasPrefix(fields[0], "CRON_TZ=") && !strings.HasPrefix(fields[0], "TZ=") && len(fields) != 5 {
		v.add(p, "a cron schedule has 5 fields (minute hour day-of-month month day-of-week), got %d in %s", len(fields), v.show(p, spec))
		return
	}
	if _, err := cron.ParseStandard(spec); err != nil {
		if _, ref := v.c.refs[p]; ref {
			v.add(p, "%s is not a cron schedule", v.show(p, spec))
			return
		}
		v.add(p, "not a cron schedule: %s", err)
	}
}

var slotPattern = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

func (v *validator) postgresCDC(p string, cdc *PostgresCDC) {
	v.dsn(p+".dsn", cdc.DSN)
	if !slotPattern.MatchString(cdc.Slot) {
		v.add(p+".slot", "a replication slot name has 1 to 63 lower-case letters, digits or _, got %s", v.show(p+".slot", cdc.Slot))
	}
	v.column(p+".publication", cdc.Publication)
	enum(v, p+".snapshot", cdc.Snapshot, Snapshots)
	v.durationMin(p+".heartbeat", cdc.Heartbeat, time.Second)
	if len(cdc.Tables) == 0 {
		v.add(p+".tables", "list at least one table ({table: schema.table})")
	}
	seen := map[string]string{}
	for j, t := range cdc.Tables {
		tp := index(p+".tables", j)
		if v.table(tp+".table", t.Table) {
			if other, dup := seen[t.Table]; dup {
				v.add(tp+".table", "%s is already streamed by %s", v.show(tp+".table", t.Table), other)
			}
			seen[t.Table] = tp
		}
		v.columns(tp+".key", t.Key)
		v.columns(tp+".columns", t.Columns)
		v.softDelete(tp+".soft_delete", t.SoftDelete)
	}
}

func (v *validator) eventFields(p string, e EventFields) {
	for _, f := range []struct{ key, val string }{
		{"id_field", e.IDField}, {"type_field", e.TypeField}, {"time_field", e.TimeField}, {"key_field", e.KeyField},
	} {
		if f.key == "key_field" && f.val == e.IDField {
			continue // inherited from id_field, reported there
		}
		if strings.TrimSpace(f.val) == "" {
			v.required(p+"."+f.key, "(a field name, may be a dotted path)")
		}
	}
	if e.MaxEventBytes < 1 || e.MaxEventBytes > 64<<20 {
		v.add(p+".max_event_bytes", "must be from 1B to 64MiB, got %s", e.MaxEventBytes)
	}
}

func (v *validator) fileFormat(p string, f FileFormat) {
	enum(v, p+".format", f.Format, Formats)
	enum(v, p+".compression", f.Compression, Compressions)
}

func (v *validator) files(p string, f *Files) {
	if f.Path == "" {
		v.required(p+".path", "(the folder to watch)")
	}
	if _, err := filepath.Match(f.Pattern, ""); err != nil || f.Pattern == "" {
		v.add(p+".pattern", "not a file name glob (like *.ndjson), got %s", v.show(p+".pattern", f.Pattern))
	}
	v.durationMin(p+".settle", f.Settle, 0)
	v.durationMin(p+".rescan", f.Rescan, time.Second)
	enum(v, p+".after", f.After, FileAfters)
	if f.Path == "" {
		v.fileFormat(p, f.FileFormat)
		v.eventFields(p, f.EventFields)
		return // the folders default to subfolders of path
	}
	clean := filepath.Clean(f.Path)
	if f.After == AfterMove {
		if f.ProcessedDir == "" {
			v.required(p+".processed_dir", "with after: move")
		} else if filepath.Clean(f.ProcessedDir) == clean {
			v.add(p+".processed_dir", "must differ from path")
		}
	}
	if f.QuarantineDir == "" {
		v.required(p+".quarantine_dir", "")
	} else if filepath.Clean(f.QuarantineDir) == clean {
		v.add(p+".quarantine_dir", "must differ from path")
	}
	v.fileFormat(p, f.FileFormat)
	v.eventFields(p, f.EventFields)
}

var (
	bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionPattern = regexp.MustCompile(`^[a-z0-9-]+$`)
)

func (v *validator) s3(p string, s *S3) {
	if s.Bucket == "" {
		v.required(p+".bucket", "")
	} else if !bucketPattern.MatchString(s.Bucket) {
		v.add(p+".bucket", "%s is not an S3 bucket name (3 to 63 lower-case letters, digits, dots or hyphens)", v.show(p+".bucket", s.Bucket))
	}
	if s.Region != "" && !regionPattern.MatchString(s.Region) {
		v.add(p+".region", "%s is not an AWS region name (like eu-west-1)", v.show(p+".region", s.Region))
	}
	if s.Endpoint != "" {
		v.httpURL(p+".endpoint", s.Endpoint, true)
	}
	if s.SQSQueueURL != "" {
		v.httpURL(p+".sqs_queue_url", s.SQSQueueURL, true)
	}
	if s.AccessKeyID.IsZero() != s.SecretAccessKey.IsZero() {
		missing := "secret_access_key"
		if s.AccessKeyID.IsZero() {
			missing = "access_key_id"
		}
		v.required(p+"."+missing, "with the other of access_key_id and secret_access_key (or leave both out to use the AWS default credentials)")
	}
	v.durationMin(p+".every", s.Every, time.Second)
	if enum(v, p+".mark", s.Mark, S3Marks) && s.Mark == MarkMove && s.ProcessedPrefix == "" {
		v.required(p+".processed_prefix", "with mark: move")
	}
	if s.QuarantinePrefix == "" {
		v.required(p+".quarantine_prefix", "")
	}
	if s.ProcessedPrefix != "" && s.ProcessedPrefix == s.Prefix {
		v.add(p+".processed_prefix", "must differ from prefix")
	}
	v.fileFormat(p, s.FileFormat)
	v.eventFields(p, s.EventFields)
}

func (v *validator) http(p string, h *HTTP) {
	v.listen(p+".listen", h.Listen)
	if h.Token.IsZero() {
		v.required(p+".token", "(clients send it as Authorization: Bearer <token>)")
	}
	v.eventFields(p, h.EventFields)
	if h.MaxBodyBytes < h.MaxEventBytes {
		v.add(p+".max_body_bytes", "must be at least max_event_bytes (%s), got %s", h.MaxEventBytes, h.MaxBodyBytes)
	}
	if h.MaxInFlight < 1 || h.MaxInFlight > 10000 {
		v.add(p+".max_in_flight", "must be from 1 to 10000, got %d", h.MaxInFlight)
	}
	if h.PublishTimeout < 100*time.Millisecond || h.PublishTimeout > 5*time.Minute {
		v.add(p+".publish_timeout", "must be from 100ms to 5m, got %s", h.PublishTimeout)
	}
}

// globMatches reports whether glob is valid and whether it matches name.
func globMatches(glob, name string) (ok, valid bool) {
	m, err := path.Match(glob, name)
	return m, err == nil
}
