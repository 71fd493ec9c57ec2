package config

import (
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SourceType names a kind of source.
type SourceType string

// The source types.
const (
	SourcePostgresPoll SourceType = "postgres_poll"
	SourcePostgresCDC  SourceType = "postgres_cdc"
	SourceFiles        SourceType = "files"
	SourceS3           SourceType = "s3"
	SourceHTTP         SourceType = "http"
)

// SourceTypes lists every source type.
var SourceTypes = []SourceType{SourcePostgresPoll, SourcePostgresCDC, SourceFiles, SourceS3, SourceHTTP}

// Source is one entry of `sources`. In YAML its keys are flat (name, type and
// the keys of its type); here exactly one of the type pointers is set, the
// one matching Type. A key of another type is an error naming the type it
// belongs to.
type Source struct {
	Name string     `yaml:"name"`
	Type SourceType `yaml:"type"`

	PostgresPoll *PostgresPoll `yaml:"-"`
	PostgresCDC  *PostgresCDC  `yaml:"-"`
	Files        *Files        `yaml:"-"`
	S3           *S3           `yaml:"-"`
	HTTP         *HTTP         `yaml:"-"`
}

// settings returns the type-specific struct (a pointer) for the source's
// type, allocating it; nil for an unknown type.
func (s *Source) settings() any {
	switch s.Type {
	case SourcePostgresPoll:
		if s.PostgresPoll == nil {
			s.PostgresPoll = &PostgresPoll{}
		}
		return s.PostgresPoll
	case SourcePostgresCDC:
		if s.PostgresCDC == nil {
			s.PostgresCDC = &PostgresCDC{}
		}
		return s.PostgresCDC
	case SourceFiles:
		if s.Files == nil {
			s.Files = &Files{}
		}
		return s.Files
	case SourceS3:
		if s.S3 == nil {
			s.S3 = &S3{}
		}
		return s.S3
	case SourceHTTP:
		if s.HTTP == nil {
			s.HTTP = &HTTP{}
		}
		return s.HTTP
	}
	return nil
}

// sourceStructs maps each type to its settings struct type.
var sourceStructs = map[SourceType]reflect.Type{
	SourcePostgresPoll: reflect.TypeFor[PostgresPoll](),
	SourcePostgresCDC:  reflect.TypeFor[PostgresCDC](),
	SourceFiles:        reflect.TypeFor[Files](),
	SourceS3:           reflect.TypeFor[S3](),
	SourceHTTP:         reflect.TypeFor[HTTP](),
}

func (s *Source) unmarshalNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n.Line, "expected a mapping (name, type, …), got %s", kindName(n))
		return
	}
	pairs := d.pairs(n, path)
	common := fieldsOf(reflect.TypeFor[Source]())
	// name and type first: the type decides which other keys exist.
	for _, p := range pairs {
		if f, ok := common[p.key.Value]; ok {
			kp := join(path, p.key.Value)
			d.lines[kp] = p.key.Line
			d.value(p.value, reflect.ValueOf(s).Elem().FieldByIndex(f.index), kp)
		}
	}
	settings := s.settings()
	if settings == nil {
		return // a missing or unknown type is reported by Validate
	}
	v := reflect.ValueOf(settings).Elem()
	own := fieldsOf(v.Type())
	for _, p := range pairs {
		key := p.key.Value
		if _, ok := common[key]; ok {
			continue
		}
		kp := join(path, key)
		f, ok := own[key]
		if !ok {
			if others := typesWithKey(key); len(others) > 0 {
				d.add(kp, p.key.Line, "not a key of a %s source (it belongs to %s)", s.Type, strings.Join(others, ", "))
			} else {
				known := append(keysOf(v.Type()), "name", "type")
				sort.Strings(known)
				d.add(kp, p.key.Line, "unknown key for a %s source%s", s.Type, suggest(key, known))
			}
			continue
		}
		d.lines[kp] = p.key.Line
		d.value(p.value, v.FieldByIndex(f.index), kp)
	}
}

// typesWithKey lists the source types that have a key.
func typesWithKey(key string) []string {
	var out []string
	for _, t := range SourceTypes {
		if _, ok := fieldsOf(sourceStructs[t])[key]; ok {
			out = append(out, string(t))
		}
	}
	return out
}

// PostgresPoll reads changed rows of tables on a schedule (used from issue 5).
type PostgresPoll struct {
	// DSN is a libpq connection string or postgres:// URL.
	DSN Secret `yaml:"dsn"`
	// Every runs the poll at this interval (exclusive with Schedule).
	Every time.Duration `yaml:"every"`
	// Schedule runs the poll on a cron schedule (5 fields, or @hourly …).
	Schedule string `yaml:"schedule"`
	// BatchSize is the rows read per page.
	BatchSize int `yaml:"batch_size"`
	// Lag holds back rows newer than now() - lag until the next run, so a
	// transaction that commits late is not skipped.
	Lag time.Duration `yaml:"lag"`
	// Overlap makes each run first re-read the rows whose cursor lies
	// within Overlap below the watermark (timestamp cursors only), so a
	// transaction that commits later than Lag is still read if it commits
	// within Lag + Overlap. Zero turns it off.
	Overlap time.Duration `yaml:"overlap"`
	// StatementTimeout bounds every query.
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	// PoolSize is the most connections the source opens.
	PoolSize int         `yaml:"pool_size"`
	Tables   []PollTable `yaml:"tables"`
}

// PollTable is one table a postgres_poll source reads.
type PollTable struct {
	// Table is "schema.table" (a bare name means public.name).
	Table string `yaml:"table"`
	// Key is the primary key column(s).
	Key StringList `yaml:"key"`
	// Cursor is the change-tracking column (timestamp or bigint).
	Cursor string `yaml:"cursor"`
	// Columns limits the columns read (default all).
	Columns []string `yaml:"columns"`
	// Where is an extra SQL filter, ANDed to the poll query.
	Where string `yaml:"where"`
	// SoftDelete turns rows marked deleted into deletes.
	SoftDelete *SoftDelete `yaml:"soft_delete"`
	// Lag, Overlap and BatchSize override the source's.
	Lag       time.Duration `yaml:"lag"`
	Overlap   time.Duration `yaml:"overlap"`
	BatchSize int           `yaml:"batch_size"`
}

// SoftDelete names the column that marks a row deleted: with Value, a row is
// deleted when the column equals it; without, when the column is not null.
type SoftDelete struct {
	Column string `yaml:"column"`
	Value  string `yaml:"value"`
}

// PostgresCDC streams changes by logical replication (pgoutput). Accepted
// now; no issue implements it yet.
type PostgresCDC struct {
	DSN Secret `yaml:"dsn"`
	// Slot is the replication slot (default sfbridge_<source name>).
	Slot string `yaml:"slot"`
	// Publication is the publication (default sfbridge_<source name>).
	Publication string `yaml:"publication"`
	// Snapshot is "initial" (copy the tables first) or "never".
	Snapshot Snapshot `yaml:"snapshot"`
	// Heartbeat keeps the slot advancing on an idle database.
	Heartbeat time.Duration `yaml:"heartbeat"`
	Tables    []CDCTable    `yaml:"tables"`
}

// Snapshot says whether a CDC source copies its tables before streaming.
type Snapshot string

// Snapshot modes.
const (
	SnapshotInitial Snapshot = "initial"
	SnapshotNever   Snapshot = "never"
)

// Snapshots lists every snapshot mode.
var Snapshots = []Snapshot{SnapshotInitial, SnapshotNever}

// CDCTable is one table a postgres_cdc source streams.
type CDCTable struct {
	Table string `yaml:"table"`
	// Key overrides the table's replica identity.
	Key        StringList  `yaml:"key"`
	Columns    []string    `yaml:"columns"`
	SoftDelete *SoftDelete `yaml:"soft_delete"`
}

// EventFields names the fields of an event that carry its identity (files,
// s3 and http sources). Names may be dotted paths into nested objects.
type EventFields struct {
	IDField   string `yaml:"id_field"`
	TypeField string `yaml:"type_field"`
	TimeField string `yaml:"time_field"`
	// KeyField identifies the Salesforce-side entity for ordering and
	// coalescing (default: the id field).
	KeyField string `yaml:"key_field"`
	// MaxEventBytes rejects larger events.
	MaxEventBytes ByteSize `yaml:"max_event_bytes"`
}

// Format is an event file format.
type Format string

// File formats.
const (
	FormatAuto   Format = "auto"
	FormatNDJSON Format = "ndjson"
	FormatJSON   Format = "json"
	FormatCSV    Format = "csv"
)

// Formats lists every format.
var Formats = []Format{FormatAuto, FormatNDJSON, FormatJSON, FormatCSV}

// Compression is an event file compression.
type Compression string

// Compressions.
const (
	CompressionAuto Compression = "auto"
	CompressionNone Compression = "none"
	CompressionGzip Compression = "gzip"
)

// Compressions lists every compression.
var Compressions = []Compression{CompressionAuto, CompressionNone, CompressionGzip}

// FileFormat says how event files are parsed ("auto" goes by extension:
// .ndjson/.jsonl, .json, .csv, each optionally .gz).
type FileFormat struct {
	Format      Format      `yaml:"format"`
	Compression Compression `yaml:"compression"`
}

// FileAfter is what happens to a processed file.
type FileAfter string

// What happens to processed files.
const (
	AfterMove   FileAfter = "move"
	AfterDelete FileAfter = "delete"
)

// FileAfters lists every choice.
var FileAfters = []FileAfter{AfterMove, AfterDelete}

// Files watches a folder for event files (used from issue 6).
type Files struct {
	Path string `yaml:"path"`
	// Pattern selects file names (a glob, default "*").
	Pattern string `yaml:"pattern"`
	// Settle is how long a file must stay unchanged before it is read
	// (files renamed into place are read at once).
	Settle time.Duration `yaml:"settle"`
	// Rescan lists the folder at this interval besides watching it.
	Rescan time.Duration `yaml:"rescan"`
	// After is "move" (to ProcessedDir) or "delete".
	After         FileAfter `yaml:"after"`
	ProcessedDir  string    `yaml:"processed_dir"`
	QuarantineDir string    `yaml:"quarantine_dir"`
	FileFormat    `yaml:",inline"`
	EventFields   `yaml:",inline"`
}

// S3Mark is how an s3 source remembers a processed object.
type S3Mark string

// S3 marking modes.
const (
	MarkState S3Mark = "state"
	MarkMove  S3Mark = "move"
	MarkTag   S3Mark = "tag"
)

// S3Marks lists every mode.
var S3Marks = []S3Mark{MarkState, MarkMove, MarkTag}

// S3 reads event files from a bucket (used from issue 6).
type S3 struct {
	Bucket string `yaml:"bucket"`
	Prefix string `yaml:"prefix"`
	Region string `yaml:"region"`
	// Endpoint points at an S3-compatible store.
	Endpoint       string `yaml:"endpoint"`
	ForcePathStyle bool   `yaml:"force_path_style"`
	// AccessKeyID and SecretAccessKey are static credentials; without
	// them the AWS default chain (environment, profile, role) is used.
	AccessKeyID     Secret `yaml:"access_key_id"`
	SecretAccessKey Secret `yaml:"secret_access_key"`
	// SQSQueueURL receives S3 event notifications (optional; listing
	// finds new objects without it).
	SQSQueueURL string `yaml:"sqs_queue_url"`
	// Every lists the bucket at this interval.
	Every time.Duration `yaml:"every"`
	// Mark is "state", "move" (to ProcessedPrefix) or "tag".
	Mark             S3Mark `yaml:"mark"`
	ProcessedPrefix  string `yaml:"processed_prefix"`
	QuarantinePrefix string `yaml:"quarantine_prefix"`
	FileFormat       `yaml:",inline"`
	EventFields      `yaml:",inline"`
}

// HTTP accepts events by POST /v1/events (used from issue 6).
type HTTP struct {
	Listen string `yaml:"listen"`
	// Token is the bearer token clients must send.
	Token        Secret   `yaml:"token"`
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// MaxInFlight bounds the requests handled at once (beyond: 503 with
	// Retry-After); memory is bounded by it times max_body_bytes.
	MaxInFlight int `yaml:"max_in_flight"`
	// PublishTimeout bounds the wait for the broker to confirm a request's
	// events before answering 503.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	EventFields    `yaml:",inline"`
}
