package sfemu

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// queryOrg holds accounts A-1 "Acme" (Industry Banking, 50 employees) and
// A-2 "Beta" (no industry), and contacts:
//
//	C-1 Ann  Smith   ann@x.org   Acme  Hours 10  active 2025-01-15T09:00Z  birth 1990-05-01
//	C-2 Bob  smith%  (no email)  Beta  Hours 2.5 active 2025-01-10T00:00Z
//	C-3 -    O'Hara  o@x.org     -     -         -                         birth 1985-12-31
//	C-4 Dee  Deleted             Acme  (deleted)
func queryOrg(t *testing.T) *Org {
	t.Helper()
	o := newTestOrg(t)
	must(t, o, &DML{Op: OpInsert, Object: "Account", Rows: []Row{
		{Fields: f{"Name": "Acme", "Org_Id__c": "A-1", "Industry": "Banking", "NumberOfEmployees": 50}},
		{Fields: f{"Name": "Beta", "Org_Id__c": "A-2"}},
	}})
	res := must(t, o, &DML{Op: OpInsert, Object: "Contact", Rows: []Row{
		{Fields: f{"FirstName": "Ann", "LastName": "Smith", "Counselor_Id__c": "C-1", "Email": "ann@x.org", "Account": f{"Org_Id__c": "A-1"},
			"Hours_Available__c": 10, "Last_Active_At__c": "2025-01-15T09:00:00Z", "Birthdate": "1990-05-01"}},
		{Fields: f{"FirstName": "Bob", "LastName": "smith%", "Counselor_Id__c": "C-2", "Account": f{"Org_Id__c": "A-2"},
			"Hours_Available__c": 2.5, "Last_Active_At__c": "2025-01-10T00:00:00Z"}},
		{Fields: f{"LastName": "O'Hara", "Counselor_Id__c": "C-3", "Email": "o@x.org", "Birthdate": "1985-12-31"}},
		{Fields: f{"FirstName": "Dee", "LastName": "Deleted", "Counselor_Id__c": "C-4", "Account": f{"Org_Id__c": "A-1"}}},
	}})
	must(t, o, &DML{Op: OpDelete, Rows: []Row{{ID: res[3].ID}}})
	return o
}

func TestSOQLEvaluation(t *testing.T) {
	t.Parallel()
	o := queryOrg(t)
	tests := []struct {
		q    string
		all  bool
		want []string // Counselor_Id__c of the rows, in order
	}{
		{"SELECT Counselor_Id__c FROM Contact", false, []string{"C-1", "C-2", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact", true, []string{"C-1", "C-2", "C-3", "C-4"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE IsDeleted = true", true, []string{"C-4"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE LastName = 'SMITH'", false, []string{"C-1"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE LastName != 'smith'", false, []string{"C-2", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE LastName LIKE 'sm%'", false, []string{"C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE LastName LIKE 'smith\\%'", false, []string{"C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE LastName LIKE 'O_Hara'", false, []string{"C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE LastName = 'O\\'Hara'", false, []string{"C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Email = null", false, []string{"C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Email != null", false, []string{"C-1", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Email != 'ann@x.org'", false, []string{"C-2", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Counselor_Id__c IN ('c-1', 'C-3', 'nope')", false, []string{"C-1", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Counselor_Id__c NOT IN ('C-1')", false, []string{"C-2", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Hours_Available__c > 2.5", false, []string{"C-1"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Hours_Available__c >= 2.5", false, []string{"C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Hours_Available__c < 100", false, []string{"C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Birthdate < 1990-01-01", false, []string{"C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Last_Active_At__c >= 2025-01-12T00:00:00Z", false, []string{"C-1"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Last_Active_At__c = TODAY", false, []string{"C-1"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Last_Active_At__c = LAST_N_DAYS:7", false, []string{"C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Last_Active_At__c < LAST_N_DAYS:2", false, []string{"C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Last_Active_At__c = N_DAYS_AGO:5", false, []string{"C-2"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE CreatedDate = TODAY AND NOT (Email = null)", false, []string{"C-1", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Account.Org_Id__c = 'A-1'", true, []string{"C-1", "C-4"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Account.Industry = null", false, []string{"C-2", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE Contact.LastName = 'Smith'", false, []string{"C-1"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE (LastName = 'Smith' OR Email = null) AND Counselor_Id__c != 'C-2'", false, []string{"C-1"}},
		{"SELECT Counselor_Id__c FROM Contact WHERE AccountId != null AND Account.NumberOfEmployees > 10", false, []string{"C-1"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY LastName", false, []string{"C-3", "C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY Email", false, []string{"C-2", "C-1", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY Email NULLS LAST", false, []string{"C-1", "C-3", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY Email DESC", false, []string{"C-3", "C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY Account.Name DESC, LastName", false, []string{"C-2", "C-1", "C-3"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY Hours_Available__c DESC NULLS FIRST", false, []string{"C-3", "C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY Counselor_Id__c LIMIT 2", false, []string{"C-1", "C-2"}},
		{"SELECT Counselor_Id__c FROM Contact ORDER BY Counselor_Id__c LIMIT 2 OFFSET 2", false, []string{"C-3"}},
		{"SELECT Counselor_Id__c FROM Contact OFFSET 5", false, nil},
	}
	for _, tt := range tests {
		res, err := o.Query(tt.q, tt.all)
		require.NoError(t, err, tt.q)
		var got []string
		for _, row := range res.Rows {
			got = append(got, row[0].(string))
		}
		require.Equal(t, tt.want, got, tt.q)
		require.Equal(t, len(tt.want), res.TotalSize, tt.q)
	}
}

func TestSOQLColumnsAndIDs(t *testing.T) {
	t.Parallel()
	o := queryOrg(t)
	res, err := o.Query("select id, account.org_id__c, ACCOUNT.Owner.Username, Name FROM contact WHERE LastName = 'Smith'", false)
	require.NoError(t, err)
	require.Equal(t, []string{"Id", "Account.Org_Id__c", "Account.Owner.Username", "Name"}, res.Columns)
	require.Equal(t, "A-1", res.Rows[0][1])
	require.Equal(t, "admin@sfbridge.example", res.Rows[0][2])
	require.Equal(t, "Ann Smith", res.Rows[0][3])
	id := res.Rows[0][0].(string)
	for _, lit := range []string{id, id[:15], "'" + id + "'"} {
		q := "SELECT Id FROM Contact WHERE Id = " + lit
		if lit[0] != '\'' {
			q = "SELECT Id FROM Contact WHERE Id = '" + lit + "'"
		}
		r, err := o.Query(q, false)
		require.NoError(t, err, q)
		require.Equal(t, 1, r.TotalSize, q)
	}

	count, err := o.Query("SELECT COUNT() FROM Contact WHERE Email != null", false)
	require.NoError(t, err)
	require.Equal(t, 2, count.TotalSize)
	require.Empty(t, count.Rows)
	agg, err := o.Query("SELECT COUNT(Email), COUNT(Id) total FROM Contact", true)
	require.NoError(t, err)
	require.Equal(t, []string{"expr0", "total"}, agg.Columns)
	require.Equal(t, [][]any{{2, 4}}, agg.Rows)
}

func TestSOQLPlanErrors(t *testing.T) {
	t.Parallel()
	o := queryOrg(t)
	tests := []struct{ q, code, msg string }{
		{"SELECT Id FROM ScratchOrgInfo limit 1", CodeInvalidType, "sObject type 'ScratchOrgInfo' is not supported."},
		{"SELECT Idd FROM Account", CodeInvalidField, "No such column 'Idd' on entity 'Account'."},
		{"SELECT Acount.Name FROM Contact", CodeInvalidField, "Didn't understand relationship 'Acount' in field path."},
		{"SELECT Account.Nope FROM Contact", CodeInvalidField, "No such column 'Nope' on entity 'Account'."},
		{"SELECT Id, id FROM Contact", CodeMalformedQuery, "duplicate field selected: Id"},
		{"SELECT COUNT(), Id FROM Contact", CodeMalformedQuery, "COUNT() cannot be used with other fields"},
		{"SELECT Name, COUNT(Id) FROM Contact", CodeMalformedQuery, "Field must be grouped or aggregated: Name"},
		{"SELECT Id FROM Contact WHERE LastName = 5", CodeInvalidQueryFilter, "value of filter criterion for field 'LastName' must be of type string and should be enclosed in quotes"},
		{"SELECT Id FROM Contact WHERE Hours_Available__c = '5'", CodeInvalidQueryFilter, "must be of type double and should not be enclosed in quotes"},
		{"SELECT Id FROM Contact WHERE Last_Active_At__c > 2024-01-01", CodeInvalidQueryFilter, "must be of type dateTime"},
		{"SELECT Id FROM Contact WHERE Birthdate > 2024-01-01T00:00:00Z", CodeInvalidQueryFilter, "must be of type date"},
		{"SELECT Id FROM Contact WHERE DoNotCall > true", CodeInvalidQueryFilter, "must be of type boolean"},
		{"SELECT Id FROM Contact WHERE Id = 'abc'", CodeInvalidQueryFilter, "invalid ID field: abc"},
		{"SELECT Id FROM Contact WHERE Hours_Available__c LIKE '1%'", CodeInvalidQueryFilter, "LIKE needs a string field"},
		{"SELECT Id FROM Contact WHERE Email < null", CodeInvalidQueryFilter, "invalid operator on null"},
		{"SELECT Id FROM Contact WHERE Birthdate = 2024-02-31", CodeMalformedQuery, "invalid date or dateTime literal"},
		{"SELECT Id FROM Contact WHERE Account.Owner.CreatedBy.CreatedBy.CreatedBy.CreatedBy.Name = 'x'", CodeMalformedQuery, "more than 5 levels"},
	}
	for _, tt := range tests {
		_, err := o.Query(tt.q, false)
		var qe *QueryError
		require.True(t, errors.As(err, &qe), tt.q)
		require.Equal(t, tt.code, qe.Code, "%s: %s", tt.q, qe.Message)
		require.Contains(t, qe.Message, tt.msg, tt.q)
	}
}
