package sync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

// emulatorClient is a Salesforce client of a fresh emulator org (the
// default schema: docs/emulator.md).
func emulatorClient(t *testing.T) *salesforce.Client {
	t.Helper()
	srv := sfemutest.Start(t, sfemu.Options{})
	c, err := salesforce.New(salesforce.Config{
		InstanceURL: srv.URL,
		Auth:        salesforce.Auth{Flow: salesforce.FlowAccessToken, AccessToken: srv.Token},
	})
	require.NoError(t, err)
	return c
}

// contactSync maps counselors onto Contact; it passes Check.
func contactSync() config.Sync {
	return config.Sync{
		Name:       "counselors",
		From:       "db.public.counselors",
		Object:     "Contact",
		ExternalID: "Counselor_Id__c",
		Nulls:      config.NullsWrite,
		Deletes:    config.DeletesDelete,
		Fields: config.Fields{
			{Name: "Counselor_Id__c", Expr: "row.id"},
			{Name: "LastName", Expr: "row.last_name"},
			{Name: "Email", Expr: "lower(row.email)"},
			{Name: "HasOptedOutOfEmail", Expr: "row.opt_out == 1"},
			{Name: "Description", Expr: "row.opt_out == 1"}, // true/false into text is fine
			{Name: "Hours_Available__c", Expr: "round(row.hours, 2)"},
			{Name: "Last_Active_At__c", Expr: "parseTime(row.seen)"},
			{Name: "Birthdate", Expr: "formatDate(row.born)"},
			{Name: "Languages__c", Expr: `split(row.languages, ",")`},
			{Name: "Title", Expr: "len(row.title) > 0 ? row.title : nil"},
			{Name: "Account", ParentExternalID: "Org_Id__c", Expr: "row.org_id"},
		},
	}
}

func TestCheckPassesAGoodSync(t *testing.T) {
	t.Parallel()
	c := emulatorClient(t)
	problems, err := mustNew(t, contactSync()).Check(t.Context(), c)
	require.NoError(t, err)
	require.Empty(t, problems)

	// A custom object with a custom lookup (Contact__r → Contact__c).
	problems, err = mustNew(t, config.Sync{
		Name: "volunteers", From: "db", Object: "Volunteer__c", ExternalID: "Volunteer_Id__c",
		Nulls: config.NullsWrite, Deletes: config.DeletesIgnore,
		Fields: config.Fields{
			{Name: "Volunteer_Id__c", Expr: "row.id"},
			{Name: "Hours__c", Expr: "row.hours * 1.5"},
			{Name: "Active__c", Expr: "row.active"},
			{Name: "Contact__r", ParentExternalID: "Counselor_Id__c", Expr: "row.counselor_id"},
		},
	}).Check(t.Context(), c)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestCheckNamesEveryProblem(t *testing.T) {
	t.Parallel()
	c := emulatorClient(t)
	set := func(name, expr string) func(*config.Sync) {
		return func(s *config.Sync) { s.Fields = append(s.Fields, config.Field{Name: name, Expr: expr}) }
	}
	lookup := func(rel, parentExt, expr string) func(*config.Sync) {
		return func(s *config.Sync) {
			s.Fields = append(s.Fields, config.Field{Name: rel, ParentExternalID: parentExt, Expr: expr})
		}
	}
	tests := []struct {
		name string
		edit func(*config.Sync)
		want []config.Problem
	}{
		{"no such object", func(s *config.Sync) { s.Object = "Nope__c" }, []config.Problem{
			{Path: "object", Message: "the org has no object Nope__c"},
		}},
		{"no such field", set("Nope__c", "row.x"), []config.Problem{
			{Path: "fields.Nope__c", Message: "Contact has no field Nope__c"},
		}},
		{"a near name is suggested", set("Counselor_Id", "row.x"), []config.Problem{
			{Path: "fields.Counselor_Id", Message: "Contact has no field Counselor_Id (did you mean Counselor_Id__c?)"},
		}},
		{"a relationship set as a field", set("Account", "row.x"), []config.Problem{
			{Path: "fields.Account", Message: "Contact has no field Account (Account is a relationship: write a lookup {ParentExternalId__c: expression}, or map AccountId)"},
		}},
		{"read-only field", set("Name", "row.x"), []config.Problem{
			{Path: "fields.Name", Message: "Contact.Name is read-only (neither createable nor updateable)"},
		}},
		{"system field", set("CreatedDate", "row.x"), []config.Problem{
			{Path: "fields.CreatedDate", Message: "Contact.CreatedDate is read-only (neither createable nor updateable)"},
		}},
		{"external ID is no field", func(s *config.Sync) { s.ExternalID, s.Fields[0].Name = "Nope__c", "Nope__c" }, []config.Problem{
			{Path: "external_id", Message: "Contact has no field Nope__c (external ID fields of Contact: Email, Counselor_Id__c)"},
			{Path: "fields.Nope__c", Message: "Contact has no field Nope__c"},
		}},
		{"external ID is not one", func(s *config.Sync) {
			s.ExternalID = "Department"
			s.Fields = append(s.Fields, config.Field{Name: "Department", Expr: "row.dept"})
		}, []config.Problem{
			{Path: "external_id", Message: "Contact.Department is not an External ID field, so upserts cannot match on it (mark it External ID in Setup, or use one of Email, Counselor_Id__c)"},
		}},
		{"external ID of the wrong type", func(s *config.Sync) { s.Fields[0].Expr = "row.id > 0" }, []config.Problem{
			{Path: "fields.Counselor_Id__c", Message: "`row.id > 0` gives true/false; an external ID is text or a number"},
		}},
		{"required field not mapped", func(s *config.Sync) { s.Fields = s.Fields[:1] }, []config.Problem{
			{Path: "fields", Message: "LastName is required to create a Contact and not mapped"},
		}},
		{"true/false into a number", set("Hours_Available__c", "row.x > 1"), []config.Problem{
			{Path: "fields.Hours_Available__c", Message: "`row.x > 1` gives true/false, but Contact.Hours_Available__c is a double field (a value of this type cannot be stored there)"},
		}},
		{"a number into a checkbox", set("DoNotCall", "len(row.x)"), []config.Problem{
			{Path: "fields.DoNotCall", Message: "`len(row.x)` gives a number, but Contact.DoNotCall is a boolean field (a value of this type cannot be stored there)"},
		}},
		{"a time into a date", set("Birthdate", "parseTime(row.born)"), []config.Problem{
			{Path: "fields.Birthdate", Message: "`parseTime(row.born)` gives a time, but Contact.Birthdate is a date field (use formatDate to send a date)"},
		}},
		{"a list into text", set("Title", `split(row.x, ",")`), []config.Problem{
			{Path: "fields.Title", Message: "`split(row.x, \",\")` gives a list, but Contact.Title is a string field (a value of this type cannot be stored there)"},
		}},
		{"lookup through the Id field", lookup("AccountId", "Org_Id__c", "row.org"), []config.Problem{
			{Path: "fields.AccountId", Message: "Contact.AccountId is the lookup's Id field; a lookup by external ID goes through its relationship name, Account"},
		}},
		{"lookup on a plain field", lookup("Phone", "Org_Id__c", "row.org"), []config.Problem{
			{Path: "fields.Phone", Message: "Contact.Phone is a phone field, not a relationship; a lookup {Org_Id__c: …} needs a relationship name (relationships of Contact: Account, ReportsTo, Owner, CreatedBy, LastModifiedBy)"},
		}},
		{"no such relationship", lookup("Boss", "Ext__c", "row.boss"), []config.Problem{
			{Path: "fields.Boss", Message: "Contact has no relationship Boss (relationships of Contact: Account, ReportsTo, Owner, CreatedBy, LastModifiedBy)"},
		}},
		{"parent has no such field", lookup("ReportsTo", "Nope__c", "row.boss"), []config.Problem{
			{Path: "fields.ReportsTo.Nope__c", Message: "the parent Contact has no field Nope__c (external ID fields of Contact: Email, Counselor_Id__c)"},
		}},
		{"parent field is not an external ID", func(s *config.Sync) {
			s.Fields[len(s.Fields)-1].ParentExternalID = "Name"
		}, []config.Problem{
			{Path: "fields.Account.Name", Message: "Account.Name is not an External ID field, so the lookup cannot find the parent by it (external ID fields of Account: Org_Id__c)"},
		}},
		{"lookup value of the wrong type", func(s *config.Sync) {
			s.Fields[len(s.Fields)-1].Expr = "row.org > 1"
		}, []config.Problem{
			{Path: "fields.Account.Org_Id__c", Message: "`row.org > 1` gives true/false; a parent's external ID is text or a number"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := contactSync()
			tt.edit(&cfg)
			problems, err := mustNew(t, cfg).Check(t.Context(), c)
			require.NoError(t, err)
			require.Equal(t, tt.want, problems)
		})
	}
}

func TestCheckObjectLevelProblems(t *testing.T) {
	t.Parallel()
	c := emulatorClient(t)
	// A polymorphic lookup and a task: Task.Who is Contact or Lead.
	problems, err := mustNew(t, config.Sync{
		Name: "tasks", From: "db", Object: "Task", ExternalID: "Subject",
		Nulls: config.NullsSkip, Deletes: config.DeletesIgnore,
		Fields: config.Fields{
			{Name: "Subject", Expr: "row.id"},
			{Name: "Who", ParentExternalID: "Email", Expr: "row.email"},
		},
	}).Check(t.Context(), c)
	require.NoError(t, err)
	require.Equal(t, []config.Problem{
		{Path: "external_id", Message: "Task.Subject is not an External ID field, so upserts cannot match on it (mark it External ID in Setup)"},
		{Path: "fields.Who", Message: "Task.WhoId is polymorphic (Contact, Lead); a lookup by external ID needs a relationship to one object"},
	}, problems)

	// An object this user cannot write.
	problems, err = mustNew(t, config.Sync{
		Name: "orgs", From: "db", Object: "Organization", ExternalID: "Name",
		Nulls: config.NullsSkip, Deletes: config.DeletesDelete,
		Fields: config.Fields{{Name: "Name", Expr: "row.name"}},
	}).Check(t.Context(), c)
	require.NoError(t, err)
	require.Equal(t, []config.Problem{
		{Path: "object", Message: "Organization is read-only for this user (neither createable nor updateable)"},
		{Path: "deletes", Message: "Organization is not deletable for this user (deletes: delete)"},
		{Path: "external_id", Message: "Organization.Name is not an External ID field, so upserts cannot match on it (mark it External ID in Setup)"},
	}, problems)
}

func TestCheckGivesLinesFromCompile(t *testing.T) {
	t.Parallel()
	c := emulatorClient(t)
	y := `version: 1
data_dir: /tmp/x
salesforce:
  login_url: https://example.my.salesforce.com
  auth: {flow: client_credentials, client_id: id, client_secret: secret}
sources:
  - {name: db, type: postgres_poll, dsn: postgres://localhost/x, every: 30s, tables: [{table: public.c, cursor: u, key: id}]}
syncs:
  - name: c
    from: db
    object: Contact
    external_id: Counselor_Id__c
    fields:
      Counselor_Id__c: row.id
      LastName: row.name
      Nope__c: row.x
`
	cfg, err := config.Parse([]byte(y), config.Options{})
	require.NoError(t, err)
	syncs, err := Compile(cfg)
	require.NoError(t, err)
	problems, err := syncs[0].Check(t.Context(), c)
	require.NoError(t, err)
	require.Equal(t, []config.Problem{{Path: "syncs[0].fields.Nope__c", Line: 16, Message: "Contact has no field Nope__c"}}, problems)
}

// failingDescriber fails every describe, as an unreachable org does.
type failingDescriber struct{ err error }

func (f failingDescriber) Describe(context.Context, string) (*salesforce.SObject, error) {
	return nil, f.err
}

func TestCheckReturnsDescribeFailures(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection refused")
	_, err := mustNew(t, contactSync()).Check(context.Background(), failingDescriber{boom})
	require.ErrorIs(t, err, boom)
	require.True(t, strings.HasPrefix(err.Error(), "describe Contact: "), err.Error())
}
