package sfemu_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

type queryPage struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

func seedQueryContacts(t *testing.T, s *sfemutest.Server, n int) {
	t.Helper()
	for start := 0; start < n; start += 200 {
		var records []obj
		for i := start; i < min(n, start+200); i++ {
			records = append(records, rec("Contact", obj{"LastName": fmt.Sprintf("C%04d", i), "Counselor_Id__c": fmt.Sprint(i)}))
		}
		r := s.Do(t, "POST", v+"/composite/sobjects", obj{"records": records})
		require.Equal(t, 200, r.Status, "%s", r.Body)
	}
}

func TestQueryPaging(t *testing.T) {
	t.Parallel()
	s := setup(t)
	seedQueryContacts(t, s, 450)
	h := http.Header{"Authorization": {"Bearer " + s.Token}, "Sforce-Query-Options": {"batchSize=200"}}
	// go-salesforce escapes with + (QueryEscape), jsforce with %20.
	r := s.DoWith(t, "GET", "/services/data/v58.0/query/?q="+url.QueryEscape("SELECT Id, LastName FROM Contact ORDER BY LastName"), nil, h)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	var page queryPage
	r.JSON(t, &page)
	require.Equal(t, 450, page.TotalSize)
	require.False(t, page.Done)
	require.Len(t, page.Records, 200)
	require.Regexp(t, `^/services/data/v58\.0/query/01g[0-9A-Za-z]{15}-200$`, page.NextRecordsURL, "same version; one-segment locator")
	var names []string
	var last string
	for {
		for _, rec := range page.Records {
			names = append(names, rec["LastName"].(string))
		}
		if page.Done {
			require.Empty(t, page.NextRecordsURL)
			break
		}
		last = page.NextRecordsURL
		r = s.DoWith(t, "GET", last, nil, h)
		require.Equal(t, 200, r.Status, "%s", r.Body)
		page = queryPage{}
		r.JSON(t, &page)
		require.Equal(t, 450, page.TotalSize)
	}
	require.Len(t, names, 450)
	require.Equal(t, "C0000", names[0])
	require.Equal(t, "C0449", names[449])
	require.Equal(t, int64(1), s.Org().Counters().Calls["query"])
	require.Equal(t, int64(2), s.Org().Counters().Calls["query.more"])

	// The last page released the cursor.
	require.True(t, strings.HasSuffix(last, "-400"))
	requireError(t, s.Do(t, "GET", last, nil), 400, sfemu.CodeInvalidQueryLocator, "invalid query locator")
	requireError(t, s.Do(t, "GET", v+"/query/garbage", nil), 400, sfemu.CodeInvalidQueryLocator, "invalid query locator")

	// The default page is 2,000 records.
	s.Do(t, "GET", v+"/query?q=SELECT%20Id%20FROM%20Contact", nil).JSON(t, &page)
	require.True(t, page.Done)
	require.Len(t, page.Records, 450)
}

func TestQueryShapes(t *testing.T) {
	t.Parallel()
	s := setup(t)
	create(t, s, "Account", obj{"Name": "Acme", "Org_Id__c": "A-1", "Industry": "Banking"})
	create(t, s, "Contact", obj{"FirstName": "Ann", "LastName": "Smith", "Account": obj{"Org_Id__c": "A-1"}, "Hours_Available__c": 3})
	gone := create(t, s, "Contact", obj{"LastName": "Gone"})
	create(t, s, "Contact", obj{"LastName": "Orphan"})
	require.Equal(t, 204, s.Do(t, "DELETE", v+"/sobjects/Contact/"+gone, nil).Status)
	q := func(soql string) string { return v + "/query?q=" + url.QueryEscape(soql) }

	golden(t, s, "query_parent_fields", s.Do(t, "GET",
		q("SELECT Id, Name, Account.Name, Account.Org_Id__c, Account.Owner.Username, Hours_Available__c FROM Contact WHERE IsDeleted = false ORDER BY LastName DESC"), nil))
	golden(t, s, "query_count", s.Do(t, "GET", q("SELECT COUNT() FROM Contact"), nil))
	golden(t, s, "query_aggregate", s.Do(t, "GET", q("SELECT COUNT(Id), COUNT(AccountId) withAccount FROM Contact"), nil))
	var all queryPage
	s.Do(t, "GET", v+"/queryAll?q="+url.QueryEscape("SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true"), nil).JSON(t, &all)
	require.Equal(t, 1, all.TotalSize)
	require.Equal(t, gone, all.Records[0]["Id"])

	golden(t, s, "query_malformed", s.Do(t, "GET", q("SELECT Id FROM Contact WHERE"), nil))
	golden(t, s, "query_invalid_field", s.Do(t, "GET", q("SELECT Id, Nope__c FROM Contact"), nil))
	golden(t, s, "query_invalid_type", s.Do(t, "GET", q("SELECT Id FROM ScratchOrgInfo limit 1"), nil))
	requireError(t, s.Do(t, "GET", v+"/query", nil), 400, sfemu.CodeMalformedQuery, "A query string has to be specified")
}
