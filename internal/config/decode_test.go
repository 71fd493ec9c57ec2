package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// doc builds a config: a salesforce section (lines 1–4), then extra from
// line 5, then a default source and sync unless extra has its own.
func doc(extra string) []byte {
	s := `version: 1
salesforce:
  login_url: https://acme.my.salesforce.com
  auth: {flow: client_credentials, client_id: id, client_secret: s}
` + extra
	if !strings.Contains("\n"+extra, "\nsources:") {
		s += "sources:\n  - {name: ingest, type: http, token: t}\n"
	}
	if !strings.Contains("\n"+extra, "\nsyncs:") {
		s += "syncs:\n  - {name: logins, from: ingest, object: Contact, external_id: X__c, fields: {X__c: event.id}}\n"
	}
	return []byte(s)
}

const allowedTop = "(allowed: admin, alerts, data_dir, delivery, log, nats, queue, salesforce, sources, syncs, version)"

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra string // from line 5
		want  []string
	}{
		{"unknown top-level key", "colour: blue\n", []string{"colour: unknown key " + allowedTop + " (line 5)"}},
		{"unknown nested key with suggestion", "delivery: {batch_sise: 10}\n", []string{"delivery.batch_sise: unknown key (did you mean batch_size?) (line 5)"}},
		{"wrong type: mapping for int", "delivery: {batch_size: {a: 1}}\n", []string{"delivery.batch_size: expected a whole number, got a mapping (line 5)"}},
		{"wrong type: string for int", "delivery:\n  max_attempts: ten\n", []string{`delivery.max_attempts: expected a whole number, got "ten" (line 6)`}},
		{"wrong type: float for int", "delivery:\n  max_attempts: 2.5\n", []string{`delivery.max_attempts: expected a whole number, got "2.5" (line 6)`}},
		{"wrong type: list for string", "data_dir: [a, b]\n", []string{"data_dir: expected a string, got a list (line 5)"}},
		{"wrong type: scalar for mapping", "delivery: fast\n", []string{"delivery: expected a mapping (key: value), got a string (line 5)"}},
		{"wrong type: scalar for list", "alerts: webhook\n", []string{"alerts: expected a list, got a string (line 5)"}},
		{"wrong type: bool", "sources: [{name: ingest, type: s3, bucket: bkt, force_path_style: yes}]\n", []string{
			`sources[0].force_path_style: expected true or false, got "yes" (line 5)`,
		}},
		{"bad duration", "delivery: {linger: 100}\n", []string{"delivery.linger: expected a duration like 30s, 5m or 1h30m, got \"100\" (a unit is required) (line 5)"}},
		{"bad duration word", "delivery: {backoff: {initial: soon}}\n", []string{`delivery.backoff.initial: expected a duration like 30s, 5m or 1h30m, got "soon" (line 5)`}},
		{"bad percentage", "delivery: {dlq_window: {threshold: lots}}\n", []string{`delivery.dlq_window.threshold: expected a percentage like 20%, got "lots" (line 5)`}},
		{"duplicate key", "admin:\n  listen: 127.0.0.1:9000\n  listen: 127.0.0.1:9001\n", []string{"admin.listen: duplicate key (first on line 6) (line 7)"}},
		{"duplicate top-level key", "salesforce: {}\n", []string{"salesforce: duplicate key (first on line 2) (line 5)"}},
		{"non-string key", "admin:\n  [a]: b\n", []string{"admin: keys must be plain strings, got a list (line 6)"}},
		{"lookup with two entries", "syncs:\n  - {name: s, from: ingest, object: Contact, external_id: X__c, fields: {X__c: e.id, Account: {A__c: e.a, B__c: e.b}}}\n", []string{
			"syncs[0].fields.Account: a lookup has exactly one entry, {ParentExternalId__c: expression}; got 2 (line 6)",
		}},
		{"field null", "syncs:\n  - name: s\n    from: ingest\n    object: Contact\n    external_id: X__c\n    fields:\n      X__c: e.id\n      Email:\n", []string{
			"syncs[0].fields.Email: no expression (write nil to set the field to null) (line 12)",
		}},
		{"field list", "syncs:\n  - {name: s, from: ingest, object: Contact, external_id: X__c, fields: {X__c: e.id, Email: [a]}}\n", []string{
			"syncs[0].fields.Email: expected an expression or a lookup {ParentExternalId__c: expression}, got a list (line 6)",
		}},
		{"fields not a mapping", "syncs:\n  - {name: s, from: ingest, object: Contact, external_id: X__c, fields: [X__c]}\n", []string{
			"syncs[0].fields: expected a mapping of Salesforce field to expression, got a list (line 6)",
		}},
		{"source not a mapping", "sources: [ingest]\n", []string{
			"sources[0]: expected a mapping (name, type, …), got a string (line 5)",
			`syncs[0].from: no source named "ingest" (no sources are defined) (line 7)`,
		}},
		{"nats list", "nats: [nats://a:4222, 'ftp://b']\n", []string{"nats: server 2: scheme must be nats, tls, ws or wss (or write \"embedded\") (line 5)"}},
		{"merge cycle", "delivery: &d\n  <<: *d\n", []string{"delivery: alias *d refers to itself (line 6)"}},
		{"merge of a scalar", "delivery:\n  <<: fast\n", []string{"delivery: << must merge a mapping or a list of mappings, got a string (line 6)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(doc(tt.extra), Options{})
			require.Error(t, err)
			require.Equal(t, strings.Join(tt.want, "\n"), err.Error())
		})
	}
}

func TestDecodeValues(t *testing.T) {
	t.Parallel()
	c, err := Parse(doc(`
delivery:
  linger: 1m30s
  max_attempts: 1_000
  dlq_window: {size: 50, threshold: 12.5%}
  max_backlog: 0
queue:
  dedup_window: 30s
sources:
  - {name: ingest, type: http, token: t, max_body_bytes: 2 MB, max_event_bytes: 512KiB}
  - name: db
    type: postgres_poll
    dsn: host=db
    tables:
      - {table: public.a, key: [org_id, id], cursor: updated_at, soft_delete: {column: deleted, value: "true"}}
      - {table: public.b, key: id, cursor: seq}
nats: [nats://a:4222, nats://b:4222]
syncs:
  - name: logins
    from: ingest
    object: Contact
    external_id: X__c
    fields:
      X__c: event.id
      Score: 3
      Active: true
      Account: {Org_Id__c: event.org}
`), Options{})
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, c.Delivery.Linger)
	require.Equal(t, 1000, c.Delivery.MaxAttempts)
	require.Equal(t, DLQWindow{Size: 50, Threshold: 12.5}, c.Delivery.DLQWindow)
	require.InDelta(t, 0.125, c.Delivery.DLQWindow.Threshold.Fraction(), 1e-9)
	require.Zero(t, c.Delivery.MaxBacklog, "an explicit 0 turns flow control off")
	require.Equal(t, 30*time.Second, c.Queue.DedupWindow)
	require.Equal(t, ByteSize(2_000_000), c.Sources[0].HTTP.MaxBodyBytes)
	require.Equal(t, ByteSize(512<<10), c.Sources[0].HTTP.MaxEventBytes)
	pg := c.Sources[1].PostgresPoll
	require.Equal(t, StringList{"org_id", "id"}, pg.Tables[0].Key)
	require.Equal(t, &SoftDelete{Column: "deleted", Value: "true"}, pg.Tables[0].SoftDelete)
	require.Equal(t, StringList{"id"}, pg.Tables[1].Key)
	require.False(t, c.NATS.Embedded())
	require.Equal(t, "nats://a:4222,nats://b:4222", c.NATS.URL.Reveal())
	require.Len(t, c.NATS.Servers(), 2)
	require.Equal(t, Fields{
		{Name: "X__c", Expr: "event.id"},
		{Name: "Score", Expr: "3"},
		{Name: "Active", Expr: "true"},
		{Name: "Account", Expr: "event.org", ParentExternalID: "Org_Id__c"},
	}, c.Syncs[0].Fields)
	require.True(t, c.Syncs[0].Fields[3].IsLookup())
	require.Equal(t, "config ok: 2 sources (http, postgres_poll), 1 sync, nats external (2 servers), salesforce client_credentials", c.Summary())
}

func TestDecodeAnchorsAndMerge(t *testing.T) {
	t.Parallel()
	c, err := Parse(doc(`x-common: &common
  object: Contact
  external_id: X__c
  nulls: write
  fields: {X__c: event.id}
syncs:
  - <<: *common
    name: a
    from: ingest
  - <<: *common
    name: b
    from: ingest
    nulls: skip
`), Options{})
	require.NoError(t, err)
	require.Len(t, c.Syncs, 2)
	require.Equal(t, "Contact", c.Syncs[1].Object)
	require.Equal(t, NullsWrite, c.Syncs[0].Nulls)
	require.Equal(t, NullsSkip, c.Syncs[1].Nulls, "explicit keys override merged ones")
	require.Equal(t, Fields{{Name: "X__c", Expr: "event.id"}}, c.Syncs[1].Fields)
	require.Equal(t, 15, c.Line("syncs[1].name"))

	// Only top-level x-… keys are free; anywhere else they are unknown.
	_, err = Parse(doc("delivery: {x-note: hi}\n"), Options{})
	require.EqualError(t, err, "delivery.x-note: unknown key (allowed: backoff, batch_size, concurrency, dlq_window, linger, max_attempts, max_backlog, version_guard) (line 5)")
}

func TestDecodeAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x-0: &a0 {listen: 127.0.0.1:1}\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x-%d: &a%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("admin: {<<: *a8}\n")
	_, err := Parse(doc(b.String()), Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "admin: the config expands to more than 200000 values (check its aliases)")
}

func TestDecodeSourceKeysPerType(t *testing.T) {
	t.Parallel()
	_, err := Parse(doc(`sources:
  - name: ingest
    type: http
    token: t
    path: /in
    bucket: b
    dsn: x
    tokn: y
`), Options{})
	require.EqualError(t, err, strings.Join([]string{
		"sources[0].path: not a key of a http source (it belongs to files) (line 9)",
		"sources[0].bucket: not a key of a http source (it belongs to s3) (line 10)",
		"sources[0].dsn: not a key of a http source (it belongs to postgres_poll, postgres_cdc) (line 11)",
		"sources[0].tokn: unknown key for a http source (did you mean token?) (line 12)",
	}, "\n"))
}

func TestDecodeNullMeansDefault(t *testing.T) {
	t.Parallel()
	c, err := Parse(doc("delivery:\n  batch_size:\n  linger: ~\nadmin:\n"), Options{})
	require.NoError(t, err)
	require.Equal(t, 200, c.Delivery.BatchSize)
	require.Equal(t, 100*time.Millisecond, c.Delivery.Linger)
	require.Equal(t, "127.0.0.1:8080", c.Admin.Listen)
}

func TestLine(t *testing.T) {
	t.Parallel()
	c, err := Parse(doc(""), Options{})
	require.NoError(t, err)
	for path, line := range map[string]int{
		"version":                 1,
		"salesforce.auth.flow":    4,
		"sources[0]":              6,
		"sources[0].token":        6,
		"syncs[0].fields.X__c":    8,
		"syncs[0].fields.Missing": 8, // nearest ancestor
		"syncs[0].when":           8, // not written: its sync's line
		"delivery.batch_size":     0, // nothing written above it
	} {
		require.Equal(t, line, c.Line(path), path)
	}
}

func TestPathHelpers(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a", join("", "a"))
	require.Equal(t, "a.b", join("a", "b"))
	require.Equal(t, `a["x.y"]`, join("a", "x.y"))
	for path, want := range map[string]string{
		"a.b":         "a",
		"a[0]":        "a",
		"a[0].b":      "a[0]",
		`a["x.y"]`:    "a",
		`a["x.y"].b`:  `a["x.y"]`,
		"a":           "",
		"syncs[10].f": "syncs[10]",
	} {
		require.Equal(t, want, parent(path), path)
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]ByteSize{
		"0": 0, "1024": 1024, "1KiB": 1024, "1kb": 1000, "10 MiB": 10 << 20, "2MB": 2_000_000, "1GiB": 1 << 30, "5B": 5,
	} {
		got, err := ParseByteSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "1TB", "99999999999GiB"} {
		_, err := ParseByteSize(in)
		require.Error(t, err, in)
	}
	require.Equal(t, "10MiB", ByteSize(10<<20).String())
	require.Equal(t, "1000B", ByteSize(1000).String())
}
