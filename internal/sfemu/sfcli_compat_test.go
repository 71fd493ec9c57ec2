package sfemu_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQueryColumns covers GET /query?q=…&columns=true, which `sf data
// query` calls to lay out what it prints.
func TestQueryColumns(t *testing.T) {
	t.Parallel()
	s := setup(t)
	tests := []struct {
		name, soql string
	}{
		{"query_columns_fields", "SELECT Id, Name, Email, HasOptedOutOfEmail, Hours_Available__c, Birthdate, Counselor_Id__c FROM Contact"},
		{"query_columns_relationships", "SELECT LastName, Account.Name, ReportsTo.Email, Account.Parent.Org_Id__c, Account.Org_Id__c FROM Contact"},
		{"query_columns_aggregate", "SELECT COUNT(Id), COUNT(Email) mails FROM Contact"},
		{"query_columns_count", "SELECT COUNT() FROM Contact"},
		{"query_columns_invalid_type", "SELECT Id FROM ScratchOrgInfo limit 1"},
		{"query_columns_invalid_field", "SELECT Nope__c FROM Contact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			golden(t, s, tt.name, s.Do(t, "GET", v+"/query?q="+url.QueryEscape(tt.soql)+"&columns=true", nil))
		})
	}
}

func TestQueryColumnsAlsoOnQueryAll(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "GET", v+"/queryAll/?columns=true&q="+url.QueryEscape("SELECT Id FROM Account"), nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var cols struct {
		ColumnMetadata []struct{ ColumnName string }
		EntityName     string
		IDSelected     bool `json:"idSelected"`
	}
	r.JSON(t, &cols)
	require.Equal(t, "Account", cols.EntityName)
	require.True(t, cols.IDSelected)
	require.Len(t, cols.ColumnMetadata, 1)
	require.Equal(t, "Id", cols.ColumnMetadata[0].ColumnName)

	requireError(t, s.Do(t, "GET", v+"/query?columns=true", nil), http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
}

// TestQueryRouteStillQueries checks that wrapping the query routes for
// columns=true leaves queries as they were: records, and counted under the
// same endpoint names.
func TestQueryRouteStillQueries(t *testing.T) {
	t.Parallel()
	s := setup(t)
	create(t, s, "Contact", obj{"LastName": "Solo"})
	before := s.Emulator.Org().Counters().Calls
	for _, path := range []string{"/query?columns=false&q=", "/query?q=", "/queryAll?q="} {
		r := s.Do(t, "GET", v+path+url.QueryEscape("SELECT LastName FROM Contact"), nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", path, r.Body)
		var page queryPage
		r.JSON(t, &page)
		require.Equal(t, 1, page.TotalSize, path)
		require.Equal(t, "Solo", page.Records[0]["LastName"], path)
	}
	after := s.Emulator.Org().Counters().Calls
	require.Equal(t, before["query"]+2, after["query"])
	require.Equal(t, before["query_all"]+1, after["query_all"])
}

// TestLeadingDoubleSlash: the sf CLI keeps --instance-url as given with a
// trailing slash and so asks for //services/data/…; an org serves it.
func TestLeadingDoubleSlash(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "GET", "//services/data", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = s.Do(t, "GET", "//services/data/v62.0/query?q="+url.QueryEscape("SELECT Name FROM Organization"), nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var page queryPage
	r.JSON(t, &page)
	require.Equal(t, 1, page.TotalSize)
	r = s.Do(t, "GET", "///services/data/v62.0/limits/", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
}
