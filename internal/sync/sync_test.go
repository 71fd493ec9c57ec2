package sync

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/queue"
)

func TestNewReportsEveryProblemWithItsPath(t *testing.T) {
	t.Parallel()
	cfg := syncConfig(
		config.Field{Name: "Email", Expr: "lower(row.email"},
		config.Field{Name: "Title", Expr: "rows.title"},
		config.Field{Name: "Account", ParentExternalID: "Org_Id__c", Expr: "record.nope"},
		config.Field{Name: "Phone", Expr: "now()"},
		config.Field{Name: "odd key", Expr: "substr()"},
	)
	cfg.When = `"yes"`
	_, err := New(cfg, nil)
	var ps *config.Problems
	require.ErrorAs(t, err, &ps)
	got := map[string]string{}
	for _, p := range ps.List {
		got[p.Path] = p.Message
	}
	require.Equal(t, map[string]string{
		"when":                     "`\"yes\"` gives text, not a condition (true or false)",
		"fields.Email":             "`lower(row.email`: unexpected token EOF (column 15)",
		"fields.Title":             "`rows.title`: unknown name rows (column 1)",
		"fields.Account.Org_Id__c": "`record.nope`: record has no field nope (column 8)",
		"fields.Phone":             "`now()`: unknown name now (column 1)",
		`fields["odd key"]`:        "`substr()`: not enough arguments to call substr (column 1)",
	}, got)
}

func TestNewNeedsTheExternalIDMapped(t *testing.T) {
	t.Parallel()
	cfg := syncConfig()
	cfg.Fields = config.Fields{{Name: "LastName", Expr: "row.name"}}
	_, err := New(cfg, nil)
	require.EqualError(t, err, "fields: must map the external ID field Ext__c (upserts match on its value)")

	// A lookup does not count as the external ID.
	cfg.Fields = config.Fields{{Name: "Ext__c", ParentExternalID: "X__c", Expr: "row.id"}}
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, "must map the external ID field Ext__c")
}

func TestNewChecksTheSource(t *testing.T) {
	t.Parallel()
	_, err := New(syncConfig(), &config.Source{Name: "other"})
	require.EqualError(t, err, `from: names source "db" but was given source "other"`)
	cfg := syncConfig()
	cfg.From = "db.[oops"
	_, err = New(cfg, nil)
	require.EqualError(t, err, `from: "[oops" is not a valid glob`)
}

func TestCompileGivesFullPathsAndLines(t *testing.T) {
	t.Parallel()
	y := `version: 1
data_dir: /tmp/x
salesforce:
  login_url: https://example.my.salesforce.com
  auth: {flow: client_credentials, client_id: id, client_secret: secret}
sources:
  - name: db
    type: postgres_poll
    dsn: postgres://localhost/x
    every: 30s
    tables:
      - {table: public.counselors, cursor: updated_at, key: id}
syncs:
  - name: good
    from: db.public.counselors
    object: Contact
    external_id: Ext__c
    fields:
      Ext__c: row.id
  - name: bad
    from: db
    when: row.active and
    object: Contact
    external_id: Ext__c
    fields:
      Ext__c: row.id
      Account: {Org_Id__c: upper(row.org) + 1}
`
	cfg, err := config.Parse([]byte(y), config.Options{Name: "sfbridge.yaml"})
	require.NoError(t, err)
	_, err = Compile(cfg)
	var ps *config.Problems
	require.ErrorAs(t, err, &ps)
	require.Equal(t, "sfbridge.yaml", ps.File)
	require.Equal(t, []config.Problem{
		{Path: "syncs[1].when", Line: 22, Message: "`row.active and`: unexpected token EOF (column 14)"},
		{Path: "syncs[1].fields.Account.Org_Id__c", Line: 27, Message: "`upper(row.org) + 1`: invalid operation: + (mismatched types string and int) (column 16)"},
	}, ps.List)

	cfg.Syncs = cfg.Syncs[:1]
	syncs, err := Compile(cfg)
	require.NoError(t, err)
	require.Len(t, syncs, 1)
	s := syncs[0]
	require.Equal(t, "good", s.Name())
	require.Equal(t, "syncs[0]", s.Path())
	require.Equal(t, "Contact", s.Object())
	require.Equal(t, "Ext__c", s.ExternalID())
	require.Equal(t, "db", s.Source())
	require.Equal(t, "in.db.public.counselors", s.Subject())
	require.Equal(t, config.NullsSkip, s.Config().Nulls)
}

func TestSubject(t *testing.T) {
	t.Parallel()
	tests := []struct{ from, want string }{
		{"db", "in.db.>"},
		{"db.public.counselors", "in.db.public.counselors"},
		{"db.public.*", "in.db.public.>"},
		{"db.public.coun*", "in.db.public.>"},
		{"db.pub*", "in.db.>"},
		{"db.*.counselors", "in.db.>"},
		{"db.public.My Table", "in.db.public.My%20Table"},
		{"db.odd%name.t?", "in.db.odd%25name.>"},
		{"events.active_rescue", "in.events.active_rescue"},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			t.Parallel()
			cfg := syncConfig()
			cfg.From = tt.from
			s := mustNew(t, cfg)
			require.Equal(t, tt.want, s.Subject())
			require.NoError(t, queue.CheckFilter(queue.InRoot, s.Subject()))
			if !strings.HasSuffix(tt.want, ">") {
				require.NoError(t, queue.CheckSubject(queue.InRoot, s.Subject()))
			}
		})
	}
}
