package sfemu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLexSOQL(t *testing.T) {
	t.Parallel()
	toks, err := lexSOQL(`SELECT Id FROM X WHERE a='it\'s \\ \n\%' AND b>=-1.5 AND c=2024-01-31 AND d<2024-01-31T10:00:00.000+02:00 AND e = LAST_N_DAYS:3`)
	require.Nil(t, err)
	var kinds []tokKind
	var texts []string
	for _, tk := range toks {
		kinds = append(kinds, tk.kind)
		texts = append(texts, tk.text)
	}
	require.Equal(t, []string{"SELECT", "Id", "FROM", "X", "WHERE", "a", "=", `'it\'s \\ \n\%'`, "AND", "b", ">=", "-1.5",
		"AND", "c", "=", "2024-01-31", "AND", "d", "<", "2024-01-31T10:00:00.000+02:00", "AND", "e", "=", "LAST_N_DAYS", ":", "3", "<EOF>"}, texts)
	require.Equal(t, tokString, kinds[7])
	require.Equal(t, "it's \\ \n"+likePercent, toks[7].val)
	require.Equal(t, tokNumber, kinds[11])
	require.Equal(t, tokDate, kinds[15])
	require.Equal(t, tokDatetime, kinds[19])
}

func TestParseSOQL(t *testing.T) {
	t.Parallel()
	q, err := parseSOQL("select Id, Account.Owner.Name, COUNT(Id) c FROM Contact where (A = 1 OR B != null) AND NOT C IN ('x','y') AND D NOT IN (1) AND E LIKE 'a%' order by Name desc nulls first, Id LIMIT 10 OFFSET 5")
	require.Nil(t, err)
	require.Equal(t, "Contact", q.from)
	require.Len(t, q.items, 3)
	require.Equal(t, []string{"Account", "Owner", "Name"}, q.items[1].path.parts)
	require.True(t, q.items[2].count)
	require.Equal(t, "c", q.items[2].alias)
	require.Equal(t, 10, q.limit)
	require.Equal(t, 5, q.offset)
	require.Equal(t, []orderItem{
		{path: fieldPath{parts: []string{"Name"}, pos: q.orderBy[0].path.pos}, desc: true, nullsLast: false},
		{path: fieldPath{parts: []string{"Id"}, pos: q.orderBy[1].path.pos}, desc: false, nullsLast: false},
	}, q.orderBy)
	and := q.where.(*boolExpr)
	require.True(t, and.and)
	require.Len(t, and.args, 4)
	require.False(t, and.args[0].(*boolExpr).and)
	require.IsType(t, &notExpr{}, and.args[1])
	require.True(t, and.args[2].(*inExpr).not)
	require.Equal(t, "LIKE", and.args[3].(*cmpExpr).op)
}

func TestParseSOQLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ q, code, msg string }{
		{"SELECT FROM Account", CodeMalformedQuery, "unexpected token: 'Account'"},
		{"SELECT Id FROM", CodeMalformedQuery, "unexpected token: <EOF>"},
		{"SELECT Id FROM Account WHERE", CodeMalformedQuery, "unexpected token: <EOF>"},
		{"SELECT Id FROM Account WHERE A = 1 AND B = 2 OR C = 3", CodeMalformedQuery, "unexpected token: 'OR'"},
		{"SELECT Id FROM Account WHERE A = 'x", CodeMalformedQuery, "mismatched character '<EOF>'"},
		{"SELECT Id FROM Account WHERE A = 'a\\qb'", CodeMalformedQuery, "Illegal character sequence '\\q'"},
		{"SELECT Id FROM Account GROUP BY Name", CodeMalformedQuery, "GROUP BY is not supported"},
		{"SELECT Id, (SELECT Id FROM Contacts) FROM Account", CodeMalformedQuery, "subqueries are not supported"},
		{"SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", CodeMalformedQuery, "semi-joins are not supported"},
		{"SELECT Id FROM Account LIMIT x", CodeMalformedQuery, "unexpected token: 'x'"},
		{"SELECT Id FROM Account OFFSET 2001", CodeNumberOutsideRange, "Maximum SOQL offset allowed is 2000"},
		{"SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS", CodeMalformedQuery, "unexpected token: <EOF>"},
		{"SELECT Id FROM Account WHERE A ! 1", CodeMalformedQuery, "unexpected token: '!'"},
		{"SELECT Id FROM Account WHERE A = 12abc", CodeMalformedQuery, "unexpected token: '12a'"},
		{"SELECT Id FROM Account ORDER BY Name NULLS", CodeMalformedQuery, "unexpected token: <EOF>"},
		{"SELECT Id FROM Account Acct", CodeMalformedQuery, "unexpected token: 'Acct'"},
		{"SELECT Id FROM Account WHERE A INCLUDES ('x')", CodeMalformedQuery, "INCLUDES is not supported"},
	}
	for _, tt := range tests {
		_, err := parseSOQL(tt.q)
		require.NotNil(t, err, tt.q)
		require.Equal(t, tt.code, err.code, tt.q)
		require.Contains(t, err.Error(), tt.msg, tt.q)
		require.Contains(t, err.Error(), "ERROR at Row:1:Column:", tt.q)
	}
}

func TestSOQLErrorShowsWhere(t *testing.T) {
	t.Parallel()
	_, err := parseSOQL("SELECT Id\nFROM Account WHERE Name = = 'x'")
	require.NotNil(t, err)
	require.Equal(t, "\nFROM Account WHERE Name = = 'x'\n                          ^\nERROR at Row:2:Column:27\nunexpected token: '='", err.Error())
}

// FuzzParseSOQL checks that no input makes the lexer, parser, planner or
// evaluator panic, and that errors always carry a Salesforce code.
func FuzzParseSOQL(f *testing.F) {
	for _, s := range []string{
		"SELECT Id, Name FROM Account",
		"SELECT Id, Account.Org_Id__c FROM Contact WHERE LastName LIKE 'Sm%' AND (Email = null OR Email != 'a@b.c') ORDER BY LastName DESC NULLS LAST LIMIT 5 OFFSET 1",
		"SELECT COUNT() FROM Case WHERE CreatedDate = LAST_N_DAYS:30",
		"SELECT COUNT(Id) n FROM Lead WHERE Status NOT IN ('a','b')",
		"SELECT Id FROM Task WHERE Who.Name = 'x' AND What.Name != null",
		"SELECT Id FROM Opportunity WHERE Amount >= -1.5 AND CloseDate < 2024-01-31 AND NOT IsDeleted = true",
		"SELECT Id FROM Contact WHERE Last_Active_At__c > 2024-01-31T10:00:00Z",
		"select id from contact where name = 'it\\'s'",
		"SELECT",
		"'",
	} {
		f.Add(s)
	}
	o := New(Options{Seed: 1, Now: func() time.Time { return testNow }}).Org()
	if r := o.Apply(&DML{Op: OpInsert, Object: "Account", Rows: []Row{{Fields: map[string]any{"Name": "Acme", "Org_Id__c": "A-1"}}}}); !r[0].Success {
		f.Fatal(r[0].Errors)
	}
	f.Fuzz(func(t *testing.T, s string) {
		res, err := o.Query(s, true)
		if err != nil {
			var qe *QueryError
			require.True(t, errors.As(err, &qe))
			require.NotEmpty(t, qe.Code)
			require.True(t, strings.HasPrefix(qe.Code, "MALFORMED_QUERY") || strings.Contains(
				"INVALID_FIELD INVALID_TYPE INVALID_QUERY_FILTER_OPERATOR NUMBER_OUTSIDE_VALID_RANGE", qe.Code), qe.Code)
			return
		}
		require.NotNil(t, res)
	})
}
