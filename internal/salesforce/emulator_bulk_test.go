package salesforce_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

// TestEmulatorBulkFailedAndUnprocessed: a Bulk job is aborted (as an
// admin would in Setup) after its first chunk: rows of that chunk are
// successful or failed, the rest unprocessed.
func TestEmulatorBulkFailedAndUnprocessed(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	srv.SetBulkLatency(150*time.Millisecond, 0)
	c := emuClient(t, srv, nil)
	ctx := testCtx(t)
	rows := make([]map[string]any, 1000) // five chunks of 200
	for i := range rows {
		rows[i] = map[string]any{"Counselor_Id__c": fmt.Sprintf("C-%03d", i), "LastName": fmt.Sprintf("L%d", i)}
	}
	delete(rows[7], "LastName")
	rows[9]["LastName"] = nil

	// Abort the job once its first chunk is written.
	abortCtx, stopAborting := context.WithCancel(ctx)
	aborted := make(chan string, 1)
	go abortWhenStarted(abortCtx, srv, aborted)
	res, err := c.BulkUpsert(ctx, "Contact", "Counselor_Id__c", rows)
	stopAborting()
	require.NoError(t, err)
	select {
	case id := <-aborted:
		t.Logf("aborted job %s", id)
	default:
		t.Fatal("the job finished before it could be aborted")
	}

	var ok, failed, unprocessed int
	for i, r := range res {
		var re *salesforce.RecordError
		var je *salesforce.JobError
		switch {
		case r.Err == nil:
			ok++
			require.NotEmpty(t, r.ID)
			require.True(t, r.Created)
		case errors.As(r.Err, &re):
			failed++
			require.Contains(t, []int{7, 9}, i)
			require.Equal(t, "REQUIRED_FIELD_MISSING", re.Code)
			require.Equal(t, salesforce.ClassPermanent, salesforce.Classify(r.Err).Class)
		case errors.As(r.Err, &je):
			unprocessed++
			require.Equal(t, salesforce.JobAborted, je.State)
			require.Equal(t, salesforce.ClassRetry, salesforce.Classify(r.Err).Class)
			require.False(t, salesforce.IsRecordError(r.Err))
		default:
			t.Fatalf("row %d: unexpected %v", i, r.Err)
		}
	}
	t.Logf("ok %d failed %d unprocessed %d", ok, failed, unprocessed)
	require.Equal(t, 2, failed)
	require.Positive(t, unprocessed)
	require.Positive(t, ok)
	require.Equal(t, len(rows), ok+failed+unprocessed)
	require.Len(t, dump(t, srv, "Contact", "Counselor_Id__c"), ok)
}

func TestEmulatorBulkInvalidColumnFailsJob(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	s := emuSink(t, c, salesforce.SinkConfig{BulkThreshold: 2})
	res, err := s.Write(testCtx(t), "Contact", "Counselor_Id__c", []map[string]any{
		{"Counselor_Id__c": "A", "LastName": "a", "Industryy__c": "x"}, {"Counselor_Id__c": "B", "LastName": "b"},
	})
	require.NoError(t, err)
	for _, r := range res {
		var je *salesforce.JobError
		require.True(t, errors.As(r.Err, &je), "%v", r.Err)
		require.Equal(t, salesforce.JobFailed, je.State)
		require.Equal(t, "InvalidBatch", je.Code)
		require.Contains(t, je.Message, "Industryy__c")
		require.Equal(t, salesforce.ClassPermanent, salesforce.Classify(r.Err).Class)
	}
}

// oddValues are values that break naive CSV: quotes, commas, newlines,
// unicode, nulls, numbers that would print with an exponent, dates.
func oddValues() []map[string]any {
	when := time.Date(2024, 1, 31, 23, 59, 59, 123e6, time.UTC)
	return []map[string]any{
		{"Counselor_Id__c": "Q-1", "LastName": `O"Brien, "Jr."`, "Description": "line one\nline two, with comma", "Hours_Available__c": 0.25, "Last_Active_At__c": when},
		{"Counselor_Id__c": "Q-2", "LastName": "Ünïcödé 日本語 🚀", "Description": nil, "Birthdate": salesforce.Date{Year: 1990, Month: 5, Day: 1}, "HasOptedOutOfEmail": true},
		{"Counselor_Id__c": "Q-3", "LastName": "  spaces  ", "Description": "", "Hours_Available__c": json.Number("1.25E2"), "Title": "#N/A"},
		{"Counselor_Id__c": "Q-4", "LastName": "back\\slash 'single'", "Description": "\"quoted\"\n\"twice\"", "Languages__c": []string{"English", "Spanish"}},
	}
}

func checkOddValues(t *testing.T, srv *sfemutest.Server, c *salesforce.Client) {
	t.Helper()
	got := map[string]map[string]any{}
	for rec, err := range c.QueryEach(testCtx(t), "SELECT Counselor_Id__c, LastName, Description, Hours_Available__c, Last_Active_At__c, Birthdate, HasOptedOutOfEmail, Title, Languages__c FROM Contact") {
		require.NoError(t, err)
		got[rec["Counselor_Id__c"].(string)] = rec
	}
	require.Len(t, got, 4)
	require.Equal(t, `O"Brien, "Jr."`, got["Q-1"]["LastName"])
	require.Equal(t, "line one\nline two, with comma", got["Q-1"]["Description"])
	require.Equal(t, "0.25", fmt.Sprint(got["Q-1"]["Hours_Available__c"]))
	require.True(t, strings.HasPrefix(fmt.Sprint(got["Q-1"]["Last_Active_At__c"]), "2024-01-31T23:59:59.123"), "%v", got["Q-1"]["Last_Active_At__c"])
	require.Equal(t, "Ünïcödé 日本語 🚀", got["Q-2"]["LastName"])
	require.Nil(t, got["Q-2"]["Description"])
	require.Equal(t, "1990-05-01", got["Q-2"]["Birthdate"])
	require.Equal(t, true, got["Q-2"]["HasOptedOutOfEmail"])
	require.Equal(t, "  spaces  ", got["Q-3"]["LastName"])
	require.Nil(t, got["Q-3"]["Description"], "an empty string is null")
	require.Equal(t, "125", strings.TrimSuffix(fmt.Sprint(got["Q-3"]["Hours_Available__c"]), ".0"))
	require.Equal(t, "#N/A", got["Q-3"]["Title"], "the text #N/A survives (sent through JSON)")
	require.Equal(t, "back\\slash 'single'", got["Q-4"]["LastName"])
	require.Equal(t, "\"quoted\"\n\"twice\"", got["Q-4"]["Description"])
	require.Equal(t, "English;Spanish", got["Q-4"]["Languages__c"])
	_ = srv
}

func TestEmulatorOddValuesThroughBulk(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	res, err := c.BulkUpsert(testCtx(t), "Contact", "Counselor_Id__c", oddValues())
	require.NoError(t, err)
	requireAllOK(t, res)
	checkOddValues(t, srv, c)

	// A Bulk update that leaves out a column keeps its value, and #N/A
	// clears one.
	res, err = c.BulkUpsert(testCtx(t), "Contact", "Counselor_Id__c", []map[string]any{
		{"Counselor_Id__c": "Q-1", "Title": "New"}, {"Counselor_Id__c": "Q-4", "Description": nil},
	})
	require.NoError(t, err)
	requireAllOK(t, res)
	stored := dump(t, srv, "Contact", "Counselor_Id__c")
	require.Equal(t, `O"Brien, "Jr."`, stored["Q-1"]["LastName"])
	require.Equal(t, "New", stored["Q-1"]["Title"])
	require.Nil(t, stored["Q-4"]["Description"])
	require.False(t, res[0].Created)
}

func TestEmulatorOddValuesThroughCollections(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	res, err := c.UpsertCollection(testCtx(t), "Contact", "Counselor_Id__c", oddValues())
	require.NoError(t, err)
	requireAllOK(t, res)
	checkOddValues(t, srv, c)
}

func TestEmulatorSinkBulkAndCollectionsAgree(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, func(c *salesforce.Config) { c.BulkMaxBytes = 1 << 16 })
	ctx := testCtx(t)
	_, err := c.UpsertCollection(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": "ORG-1", "Name": "Acme"}})
	require.NoError(t, err)
	s := emuSink(t, c, salesforce.SinkConfig{BulkThreshold: 1000})
	rows := make([]map[string]any, 2500)
	for i := range rows {
		rows[i] = map[string]any{"Counselor_Id__c": fmt.Sprintf("C-%04d", i), "LastName": fmt.Sprintf("v1 %d", i), "Account.Org_Id__c": "ORG-1"}
	}
	// The same key twice: the later row wins.
	rows = append(rows, map[string]any{"Counselor_Id__c": "C-0001", "LastName": "v2"})
	res, err := s.Write(ctx, "Contact", "Counselor_Id__c", rows)
	require.NoError(t, err)
	requireAllOK(t, res)
	stored := dump(t, srv, "Contact", "Counselor_Id__c")
	require.Len(t, stored, 2500)
	require.Equal(t, "v2", stored["C-0001"]["LastName"])
	require.Equal(t, res[1].ID, res[2500].ID)
	require.True(t, res[1].Created)
	require.False(t, res[2500].Created)
	accounts := dump(t, srv, "Account", "Org_Id__c")
	require.Equal(t, accounts["ORG-1"]["Id"], stored["C-2499"]["AccountId"], "relationship column Account.Org_Id__c")

	// Query paging over the 2,500 rows (pages of 2,000).
	n := 0
	for _, err := range c.QueryEach(ctx, "SELECT Id FROM Contact") {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 2500, n)
}

func TestEmulatorBulkDeleteByExternalID(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	ctx := testCtx(t)
	s := emuSink(t, c, salesforce.SinkConfig{BulkThreshold: 3})
	res, err := s.Write(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": "A", "Name": "a"}, {"Org_Id__c": "B", "Name": "b"}, {"Org_Id__c": "C", "Name": "c"}})
	require.NoError(t, err)
	requireAllOK(t, res)
	del, err := s.Delete(ctx, "Account", "Org_Id__c", []any{"A", "B", "C"})
	require.NoError(t, err)
	requireAllOK(t, del)
	require.Empty(t, dump(t, srv, "Account", "Org_Id__c"))
}

// TestEmulatorLargeNumbers: numbers Go would print with an exponent reach
// a currency field intact through both APIs.
func TestEmulatorLargeNumbers(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	ctx := testCtx(t)
	rows := []map[string]any{
		{"Org_Id__c": "N-1", "Name": "float", "AnnualRevenue": 1.5e17, "NumberOfEmployees": 12},
		{"Org_Id__c": "N-2", "Name": "json", "AnnualRevenue": json.Number("2E+16")},
	}
	res, err := c.BulkUpsert(ctx, "Account", "Org_Id__c", rows)
	require.NoError(t, err)
	requireAllOK(t, res)
	res, err = c.UpsertCollection(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": "N-3", "Name": "coll", "AnnualRevenue": 3e17}})
	require.NoError(t, err)
	requireAllOK(t, res)
	want := map[string]string{"N-1": "150000000000000000", "N-2": "20000000000000000", "N-3": "300000000000000000"}
	for rec, err := range c.QueryEach(ctx, "SELECT Org_Id__c, AnnualRevenue FROM Account") {
		require.NoError(t, err)
		n, ok := rec["AnnualRevenue"].(json.Number)
		require.True(t, ok, "%T", rec["AnnualRevenue"])
		got, err := n.Float64()
		require.NoError(t, err)
		wantF, _ := json.Number(want[rec["Org_Id__c"].(string)]).Float64()
		require.Equal(t, wantF, got, "%v", rec)
	}
}

// abortWhenStarted aborts the first ingest job that has processed rows but
// is still running, as an admin would from Setup, and reports its id.
func abortWhenStarted(ctx context.Context, srv *sfemutest.Server, aborted chan<- string) {
	do := func(method, path string, body io.Reader, out any) int {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+"/services/data/v62.0/jobs/ingest"+path, body)
		if err != nil {
			return 0
		}
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		if out != nil && json.NewDecoder(resp.Body).Decode(out) != nil {
			return 0
		}
		return resp.StatusCode
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var list struct {
			Records []salesforce.BulkJob `json:"records"`
		}
		if do(http.MethodGet, "", nil, &list) == http.StatusOK {
			for _, j := range list.Records {
				var info salesforce.BulkJob
				if do(http.MethodGet, "/"+j.ID, nil, &info) == http.StatusOK && info.State == salesforce.JobInProgress && info.NumberRecordsProcessed > 0 {
					if do(http.MethodPatch, "/"+j.ID, strings.NewReader(`{"state":"Aborted"}`), nil) == http.StatusOK {
						aborted <- j.ID
					}
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
