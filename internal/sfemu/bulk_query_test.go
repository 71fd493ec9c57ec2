package sfemu_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// bulkQueryJob creates a query job and waits until it has finished.
func bulkQueryJob(t *testing.T, e *bulkEnv, spec jsonMap) string {
	t.Helper()
	r := e.Do(t, http.MethodPost, bulkV+"/jobs/query", spec)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var job jsonMap
	r.JSON(t, &job)
	require.Equal(t, "UploadComplete", job["state"])
	id := job["id"].(string)
	require.Equal(t, "JobComplete", e.wait("query", id)["state"])
	return id
}

// seedContacts inserts n Contacts C-0000… with every fifth one deleted.
func seedContacts(t *testing.T, e *bulkEnv, n int) {
	t.Helper()
	rows := make([]sfemu.Row, n)
	for i := range rows {
		rows[i] = sfemu.Row{Fields: map[string]any{
			"LastName": fmt.Sprintf("Name %d, \"q\"", i), "Counselor_Id__c": fmt.Sprintf("C-%04d", i),
			"Hours_Available__c": float64(i) / 4, "DoNotCall": i%2 == 0, "Last_Active_At__c": "2026-01-02T03:04:05Z",
		}}
	}
	res := e.apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Contact", Rows: rows})
	var del []sfemu.Row
	for i := 0; i < n; i += 5 {
		del = append(del, sfemu.Row{ID: res[i].ID})
	}
	e.apply(&sfemu.DML{Op: sfemu.OpDelete, Rows: del})
}

// readPages fetches every results page and returns the rows (header
// checked on every page) and the page sizes.
func readPages(t *testing.T, e *bulkEnv, id, maxRecords string, comma rune) ([][]string, []int) {
	t.Helper()
	var rows [][]string
	var sizes []int
	var header []string
	locator := ""
	for page := 0; ; page++ {
		require.Less(t, page, 100)
		u := bulkV + "/jobs/query/" + id + "/results/?maxRecords=" + maxRecords
		if locator != "" {
			u += "&locator=" + locator
		}
		r := e.DoWith(t, http.MethodGet, u, nil, http.Header{"Authorization": {"Bearer " + e.Token}, "Accept": {"text/csv"}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Equal(t, "text/csv", r.Header.Get("Content-Type"))
		cr := csv.NewReader(strings.NewReader(string(r.Body)))
		cr.Comma = comma
		recs, err := cr.ReadAll()
		require.NoError(t, err)
		if header == nil {
			header = recs[0]
		}
		require.Equal(t, header, recs[0], "header on every page")
		require.Equal(t, fmt.Sprint(len(recs)-1), r.Header.Get("Sforce-NumberOfRecords"))
		rows = append(rows, recs[1:]...)
		sizes = append(sizes, len(recs)-1)
		locator = r.Header.Get("Sforce-Locator")
		require.NotEmpty(t, locator)
		if locator == "null" {
			return append([][]string{header}, rows...), sizes
		}
	}
}

func TestBulkQueryPaging(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	seedContacts(t, e, 2500)
	id := bulkQueryJob(t, e, jsonMap{"operation": "query", "query": "SELECT Id, LastName, Counselor_Id__c FROM Contact ORDER BY Counselor_Id__c"})
	info := e.info("query", id)
	require.Equal(t, "V2Query", info["jobType"])
	require.Equal(t, "2000", fmt.Sprint(info["numberRecordsProcessed"]))

	rows, sizes := readPages(t, e, id, "700", ',')
	require.Equal(t, []int{700, 700, 600}, sizes)
	require.Equal(t, []string{"Id", "LastName", "Counselor_Id__c"}, rows[0])
	require.Len(t, rows, 2001)
	require.Equal(t, []string{"Name 1, \"q\"", "C-0001"}, rows[1][1:])
	require.Equal(t, "C-2499", rows[2000][2])

	rows, sizes = readPages(t, e, id, "", ',')
	require.Equal(t, []int{2000}, sizes, "one page by default")
	require.Len(t, rows, 2001)
}

func TestBulkQueryAllFormatsAndWhere(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	seedContacts(t, e, 20)
	id := bulkQueryJob(t, e, jsonMap{
		"operation": "queryAll", "columnDelimiter": "PIPE", "lineEnding": "CRLF",
		"query": "SELECT Counselor_Id__c, Hours_Available__c, DoNotCall, Last_Active_At__c, AccountId, IsDeleted FROM Contact WHERE Counselor_Id__c IN ('C-0000', 'C-0003') ORDER BY Counselor_Id__c",
	})
	r := e.Do(t, http.MethodGet, bulkV+"/jobs/query/"+id+"/results", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "null", r.Header.Get("Sforce-Locator"))
	require.Equal(t, "2", r.Header.Get("Sforce-NumberOfRecords"))
	golden(t, e.Server, "bulk_query_results", r)
	require.Equal(t, "\"Counselor_Id__c\"|\"Hours_Available__c\"|\"DoNotCall\"|\"Last_Active_At__c\"|\"AccountId\"|\"IsDeleted\"\r\n"+
		"\"C-0000\"|\"0\"|\"true\"|\"2026-01-02T03:04:05.000Z\"|\"\"|\"true\"\r\n"+
		"\"C-0003\"|\"0.75\"|\"false\"|\"2026-01-02T03:04:05.000Z\"|\"\"|\"false\"\r\n", string(r.Body))
}

func TestBulkQueryJobLifecycle(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	seedContacts(t, e, 3)
	r := e.Do(t, http.MethodPost, bulkV+"/jobs/query", jsonMap{"operation": "query", "query": "SELECT Id FROM Contact"})
	require.Equal(t, http.StatusOK, r.Status)
	golden(t, e.Server, "bulk_query_create", r)
	var job jsonMap
	r.JSON(t, &job)
	id := job["id"].(string)
	e.wait("query", id)
	golden(t, e.Server, "bulk_query_info", e.Do(t, http.MethodGet, bulkV+"/jobs/query/"+id, nil))

	r = e.Do(t, http.MethodGet, "/services/data/v62.0/jobs/query/"+id+"/results", nil)
	require.Equal(t, http.StatusConflict, r.Status, "another API version than the job's")
	r = e.Do(t, http.MethodGet, bulkV+"/jobs/query/"+id+"/results?locator=!!", nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	r = e.Do(t, http.MethodGet, bulkV+"/jobs/query/"+id+"/results?maxRecords=0", nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	r = e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id, nil)
	require.Equal(t, http.StatusNotFound, r.Status, "a query job is not an ingest job")

	r = e.patch("query", id, "Aborted")
	require.Equal(t, http.StatusBadRequest, r.Status)
	golden(t, e.Server, "bulk_query_abort_completed", r)
	require.Equal(t, http.StatusNoContent, e.Do(t, http.MethodDelete, bulkV+"/jobs/query/"+id, nil).Status)
	require.Equal(t, http.StatusNotFound, e.Do(t, http.MethodGet, bulkV+"/jobs/query/"+id+"/results", nil).Status)
}

func TestBulkQueryCreateErrors(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	tests := []struct {
		name  string
		query string
		op    string
		code  string
	}{
		{"malformed", "SELECT FROM Contact", "query", "MALFORMED_QUERY"},
		{"unknown field", "SELECT Nope__c FROM Contact", "query", "INVALID_FIELD"},
		{"unknown object", "SELECT Id FROM Nope__c", "query", "INVALID_TYPE"},
		{"count", "SELECT COUNT() FROM Contact", "query", "API_ERROR"},
		{"offset", "SELECT Id FROM Contact LIMIT 5 OFFSET 2", "query", "API_ERROR"},
		{"bad operation", "SELECT Id FROM Contact", "select", "INVALIDJOB"},
		{"no query", "", "query", "INVALIDJOB"},
	}
	for _, tc := range tests {
		r := e.Do(t, http.MethodPost, bulkV+"/jobs/query", jsonMap{"operation": tc.op, "query": tc.query})
		require.Equal(t, http.StatusBadRequest, r.Status, tc.name)
		code, _ := errorBody(t, r)
		require.Equal(t, tc.code, code, tc.name)
	}
	r := e.Do(t, http.MethodPost, "/services/data/v46.0/jobs/query", jsonMap{"query": "SELECT Id FROM Contact"})
	require.Equal(t, http.StatusNotFound, r.Status, "query jobs start at v47.0")
}
