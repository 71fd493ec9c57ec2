package sfemu_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

func TestBulkIngestOperations(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, e *bulkEnv, ids []string, job jsonMap, success, failed string)
	tests := []struct {
		name  string
		op    string
		ext   string
		seed  bool // two Accounts exist first
		csv   func(ids []string) string
		check check
	}{
		{
			name: "insert", op: "insert",
			csv: func([]string) string { return "Name,Org_Id__c,NumberOfEmployees\nAcme,A-1,10\nGlobex,A-2,\n,A-3,5\n" },
			check: func(t *testing.T, e *bulkEnv, _ []string, job jsonMap, success, failed string) {
				recs := e.query("SELECT Id, Name, Org_Id__c, NumberOfEmployees FROM Account ORDER BY Org_Id__c")
				require.Len(t, recs, 2)
				require.Equal(t, jsonMap{"Id": recs[0]["Id"], "Name": "Acme", "Org_Id__c": "A-1", "NumberOfEmployees": int64(10)}, recs[0])
				require.Nil(t, recs[1]["NumberOfEmployees"])
				require.Equal(t, `"sf__Id","sf__Created",Name,Org_Id__c,NumberOfEmployees`+"\n"+
					quotedCSV("\n", []string{recs[0]["Id"].(string), "true", "Acme", "A-1", "10"}, []string{recs[1]["Id"].(string), "true", "Globex", "A-2", ""}), success)
				require.Equal(t, `"sf__Id","sf__Error",Name,Org_Id__c,NumberOfEmployees`+"\n"+
					quotedCSV("\n", []string{"", "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", "", "A-3", "5"}), failed)
			},
		},
		{
			name: "update", op: "update", seed: true,
			csv: func(ids []string) string {
				return "Id,Name,Phone\n" + ids[0] + ",Acme 2,555\n" + ids[1] + ",,#N/A\n001000000000000AAA,X,\n"
			},
			check: func(t *testing.T, e *bulkEnv, ids []string, job jsonMap, success, failed string) {
				recs := e.query("SELECT Id, Name, Phone FROM Account ORDER BY Org_Id__c")
				require.Equal(t, []jsonMap{{"Id": ids[0], "Name": "Acme 2", "Phone": "555"}, {"Id": ids[1], "Name": "Globex", "Phone": nil}}, recs)
				require.Equal(t, `"sf__Id","sf__Created",Id,Name,Phone`+"\n"+
					quotedCSV("\n", []string{ids[0], "false", ids[0], "Acme 2", "555"}, []string{ids[1], "false", ids[1], "", "#N/A"}), success)
				require.Contains(t, failed, `"001000000000000AAA","INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--","001000000000000AAA","X",""`)
			},
		},
		{
			name: "upsert", op: "upsert", ext: "org_id__c", seed: true,
			csv: func([]string) string { return "Id,Org_Id__c,Name\n,A-2,Globex 2\n,A-3,Initech\n,,Nobody\n" },
			check: func(t *testing.T, e *bulkEnv, ids []string, job jsonMap, success, failed string) {
				require.Equal(t, "Org_Id__c", job["externalIdFieldName"])
				recs := e.query("SELECT Id, Name FROM Account ORDER BY Org_Id__c")
				require.Len(t, recs, 3)
				require.Equal(t, jsonMap{"Id": ids[1], "Name": "Globex 2"}, recs[1])
				require.Equal(t, `"sf__Id","sf__Created",Id,Org_Id__c,Name`+"\n"+
					quotedCSV("\n", []string{ids[1], "false", "", "A-2", "Globex 2"}, []string{recs[2]["Id"].(string), "true", "", "A-3", "Initech"}), success)
				require.Equal(t, `"sf__Id","sf__Error",Id,Org_Id__c,Name`+"\n"+
					quotedCSV("\n", []string{"", "MISSING_ARGUMENT:Org_Id__c not specified:Org_Id__c --", "", "", "Nobody"}), failed)
			},
		},
		{
			name: "upsert by Id", op: "upsert", ext: "Id", seed: true,
			csv: func(ids []string) string { return "Id,Name\n" + ids[0] + ",Acme 3\n,Hooli\n" },
			check: func(t *testing.T, e *bulkEnv, ids []string, job jsonMap, success, failed string) {
				recs := e.query("SELECT Id, Name FROM Account ORDER BY Name")
				require.Equal(t, []string{"Acme 3", "Globex", "Hooli"}, []string{recs[0]["Name"].(string), recs[1]["Name"].(string), recs[2]["Name"].(string)})
				require.Contains(t, success, `"`+ids[0]+`","false",`)
				require.Contains(t, success, `","true","","Hooli"`)
			},
		},
		{
			name: "delete", op: "delete", seed: true,
			csv: func(ids []string) string {
				return "ID,Name\n" + ids[0] + ",ignored\n" + ids[0] + ",again\nnot-an-id,\n"
			},
			check: func(t *testing.T, e *bulkEnv, ids []string, job jsonMap, success, failed string) {
				recs := e.query("SELECT Id FROM Account")
				require.Equal(t, []jsonMap{{"Id": ids[1]}}, recs)
				all, err := e.Org().Query("SELECT Id FROM Account WHERE IsDeleted = true", true)
				require.NoError(t, err)
				require.Len(t, all.Rows, 1, "a delete goes to the recycle bin")
				require.Equal(t, `"sf__Id","sf__Created",ID,Name`+"\n"+quotedCSV("\n", []string{ids[0], "false", ids[0], "ignored"}), success)
				require.Equal(t, `"sf__Id","sf__Error",ID,Name`+"\n"+quotedCSV("\n",
					[]string{ids[0], "ENTITY_IS_DELETED:entity is deleted:--", ids[0], "again"},
					[]string{"", "MALFORMED_ID:malformed id not-an-id:--", "not-an-id", ""}), failed)
			},
		},
		{
			name: "hardDelete", op: "HARDDELETE", seed: true,
			csv: func(ids []string) string { return "Id\n" + ids[1] + "\n" },
			check: func(t *testing.T, e *bulkEnv, ids []string, job jsonMap, success, failed string) {
				require.Equal(t, "hardDelete", job["operation"])
				require.Equal(t, []jsonMap{{"Id": ids[0]}}, e.query("SELECT Id FROM Account"))
				require.Equal(t, `"sf__Id","sf__Created",Id`+"\n"+quotedCSV("\n", []string{ids[1], "false", ids[1]}), success)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := bulkSetup(t)
			var ids []string
			if tc.seed {
				for _, r := range e.apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Account", Rows: []sfemu.Row{
					{Fields: map[string]any{"Name": "Acme", "Org_Id__c": "A-1", "Phone": "1"}},
					{Fields: map[string]any{"Name": "Globex", "Org_Id__c": "A-2", "Phone": "2"}},
				}}) {
					ids = append(ids, r.ID)
				}
			}
			data := tc.csv(ids)
			id, job := e.run(jsonMap{"object": "account", "operation": tc.op, "externalIdFieldName": tc.ext}, data)
			rows := strings.Count(data, "\n") - 1
			require.Equal(t, "JobComplete", job["state"], "%v", job)
			require.Equal(t, "Account", job["object"])
			require.Equal(t, json.Number(fmt.Sprint(rows)), job["numberRecordsProcessed"])
			success, failed := e.results(id, "successfulResults"), e.results(id, "failedResults")
			nFailed := strings.Count(failed, "\n") - 1
			require.Equal(t, json.Number(fmt.Sprint(nFailed)), job["numberRecordsFailed"])
			require.Equal(t, rows, strings.Count(success, "\n")-1+nFailed, "every row is in one result file")
			unprocessed := e.results(id, "unprocessedrecords")
			require.Equal(t, 1, strings.Count(unprocessed, "\n"), "only the header: %q", unprocessed)
			tc.check(t, e, ids, job, success, failed)
		})
	}
}

// oddValues are values that need quoting or are easy to mangle.
var oddValues = []string{
	`say "hi"`, "a,b;c|d^e`f\tg", "line one\nline two", " padded ", "Zoë 東京 🚀", `""`, `"`, "#N/A-not-null", "\\back\\slash",
}

func TestBulkDelimitersAndLineEndings(t *testing.T) {
	t.Parallel()
	delims := map[string]string{"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
	for name, d := range delims {
		for _, le := range []string{"LF", "CRLF"} {
			t.Run(name+"/"+le, func(t *testing.T) {
				t.Parallel()
				e := bulkSetup(t)
				eol := map[string]string{"LF": "\n", "CRLF": "\r\n"}[le]
				rows := [][]string{{"Name", "Org_Id__c", "Description"}}
				for i, v := range oddValues {
					desc := v
					if le == "CRLF" {
						desc = strings.ReplaceAll(v, "\n", "\r\n")
					}
					rows = append(rows, []string{v, fmt.Sprintf("K-%d", i), desc})
				}
				id, job := e.run(jsonMap{"object": "Account", "operation": "insert", "columnDelimiter": name, "lineEnding": le}, csvOf(d, eol, rows...))
				require.Equal(t, "JobComplete", job["state"], "%v", job)
				require.Equal(t, name, job["columnDelimiter"])
				require.Equal(t, le, job["lineEnding"])
				require.Equal(t, json.Number("0"), job["numberRecordsFailed"], "%s", e.results(id, "failedResults"))
				recs := e.query("SELECT Id, Name, Description FROM Account ORDER BY Org_Id__c")
				require.Len(t, recs, len(oddValues))
				want := quotedCSV(eol, []string{"sf__Id", "sf__Created"})
				want = strings.TrimSuffix(want, eol) + ",Name,Org_Id__c,Description" + eol
				for i, v := range oddValues {
					require.Equal(t, v, recs[i]["Name"], "value %d", i)
					require.Equal(t, rows[i+1][2], recs[i]["Description"], "value %d", i)
					want += quotedCSV(eol, append([]string{recs[i]["Id"].(string), "true"}, rows[i+1]...))
				}
				require.Equal(t, want, e.results(id, "successfulResults"))
			})
		}
	}
}

func TestBulkNullsAndEmptyValues(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	ids := e.apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Contact", Rows: []sfemu.Row{
		{Fields: map[string]any{"LastName": "Smith", "Email": "s@x.example", "Title": "Boss", "HasOptedOutOfEmail": true}},
	}})
	data := "Id,Email,Title,HasOptedOutOfEmail,LastName\n" + ids[0].ID + ",#N/A,,false,\n"
	id, job := e.run(jsonMap{"object": "Contact", "operation": "update"}, data)
	require.Equal(t, json.Number("0"), job["numberRecordsFailed"], e.results(id, "failedResults"))
	recs := e.query("SELECT Email, Title, HasOptedOutOfEmail, LastName FROM Contact")
	require.Equal(t, []jsonMap{{"Email": nil, "Title": "Boss", "HasOptedOutOfEmail": false, "LastName": "Smith"}}, recs)

	// #N/A on a required field fails the row.
	id, job = e.run(jsonMap{"object": "Contact", "operation": "update"}, "Id,LastName\n"+ids[0].ID+",#N/A\n")
	require.Equal(t, json.Number("1"), job["numberRecordsFailed"])
	require.Contains(t, e.results(id, "failedResults"), "REQUIRED_FIELD_MISSING:")
}

func TestBulkRelationshipColumns(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	acc := e.apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Account", Rows: []sfemu.Row{{Fields: map[string]any{"Name": "Acme", "Org_Id__c": "A-1"}}}})
	lead := e.apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Lead", Rows: []sfemu.Row{{Fields: map[string]any{"LastName": "L", "Company": "C", "Email": "lead@x.example"}}}})

	data := "LastName,Account.Org_Id__c,Counselor_Id__c\nOne,A-1,C-1\nTwo,c9,C-2\nThree,,C-3\n"
	id, job := e.run(jsonMap{"object": "Contact", "operation": "upsert", "externalIdFieldName": "Counselor_Id__c"}, data)
	require.Equal(t, "JobComplete", job["state"])
	require.Equal(t, json.Number("3"), job["numberRecordsProcessed"])
	require.Equal(t, json.Number("1"), job["numberRecordsFailed"])
	require.Equal(t, `"sf__Id","sf__Error",LastName,Account.Org_Id__c,Counselor_Id__c`+"\n"+quotedCSV("\n",
		[]string{"", "INVALID_FIELD:Foreign key external ID: c9 not found for field Org_Id__c in entity Account:--", "Two", "c9", "C-2"}),
		e.results(id, "failedResults"))
	recs := e.query("SELECT LastName, AccountId, Account.Org_Id__c FROM Contact ORDER BY Counselor_Id__c")
	require.Equal(t, []jsonMap{
		{"LastName": "One", "AccountId": acc[0].ID, "Account.Org_Id__c": "A-1"},
		{"LastName": "Three", "AccountId": nil, "Account.Org_Id__c": nil},
	}, recs)

	// #N/A in a relationship column clears the lookup.
	_, job = e.run(jsonMap{"object": "Contact", "operation": "upsert", "externalIdFieldName": "Counselor_Id__c"}, "Counselor_Id__c,Account.Org_Id__c\nC-1,#N/A\n")
	require.Equal(t, json.Number("0"), job["numberRecordsFailed"])
	require.Equal(t, []jsonMap{{"AccountId": nil}}, e.query("SELECT AccountId FROM Contact WHERE Counselor_Id__c = 'C-1'"))

	// A polymorphic relationship names the parent type.
	id, job = e.run(jsonMap{"object": "Task", "operation": "insert"}, "Subject,Lead:Who.Email\nCall,lead@x.example\nCall,nobody@x.example\n")
	require.Equal(t, json.Number("1"), job["numberRecordsFailed"], "%v", job)
	require.Equal(t, []jsonMap{{"WhoId": lead[0].ID}}, e.query("SELECT WhoId FROM Task"))
	require.Contains(t, e.results(id, "failedResults"), "INVALID_FIELD:Foreign key external ID: nobody@x.example not found for field Email in entity Lead:--")
}

func TestBulkJobFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, object, op, ext, le, data, msg string
		unprocessed                          int
	}{
		{name: "unknown column", object: "Account", op: "insert", data: "Name,Industryy\nA,B\nC,D\n",
			msg: "InvalidBatch : Field name not found : Industryy", unprocessed: 2},
		{name: "unknown relationship field", object: "Contact", op: "insert", data: "LastName,Account.Nope__c\nA,B\n",
			msg: "InvalidBatch : Field name not found : Account.Nope__c", unprocessed: 1},
		{name: "type on a non-polymorphic relationship", object: "Contact", op: "insert", data: "LastName,Account:Account.Org_Id__c\nA,B\n",
			msg: "InvalidBatch : type is not needed for non polymorphic foreign key references: Account", unprocessed: 1},
		{name: "duplicate column", object: "Account", op: "insert", data: "Name,name\nA,B\n",
			msg: "InvalidBatch : Duplicate field name: name", unprocessed: 1},
		{name: "CRLF data for an LF job", object: "Account", op: "insert", data: "Name\r\nA\r\n",
			msg: "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"},
		{name: "LF data for a CRLF job", object: "Account", op: "insert", le: "CRLF", data: "Name\nA\n",
			msg: "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF"},
		{name: "upsert key not an external ID", object: "Account", op: "upsert", ext: "Name", data: "Name\nA\n",
			msg: "InvalidBatch : Field name provided, Name does not match an External ID, Salesforce Id, or indexed field for Account", unprocessed: 1},
		{name: "unterminated quote", object: "Account", op: "insert", data: "Name\nA\n\"B\n",
			msg: "ClientInputError : Invalid CSV: unterminated quoted field in row 3", unprocessed: 1},
		{name: "no data", object: "Account", op: "insert", data: "",
			msg: "InvalidBatch : No data was uploaded for this job"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := bulkSetup(t)
			id, job := e.run(jsonMap{"object": tc.object, "operation": tc.op, "externalIdFieldName": tc.ext, "lineEnding": tc.le}, tc.data)
			require.Equal(t, "Failed", job["state"])
			require.Equal(t, tc.msg, job["errorMessage"])
			require.Equal(t, json.Number("0"), job["numberRecordsProcessed"])
			require.Equal(t, map[string]int{}, nonZero(e.Org().ObjectCounts(), tc.object), "nothing written")
			unprocessed := e.results(id, "unprocessedrecords")
			require.Equal(t, tc.unprocessed, max(strings.Count(unprocessed, "\n")-1, 0), "%q", unprocessed)
			r := e.Do(t, http.MethodDelete, bulkV+"/jobs/ingest/"+id, nil)
			require.Equal(t, http.StatusNoContent, r.Status)
		})
	}
}

// nonZero keeps object's count when it is not zero.
func nonZero(counts map[string]int, object string) map[string]int {
	out := map[string]int{}
	if counts[object] != 0 {
		out[object] = counts[object]
	}
	return out
}

func TestBulkRowLevelErrors(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	e.Org().SetRecordHook(func(ri sfemu.RecordInfo) *sfemu.RecordError {
		if ri.Key == "LOCKED" {
			return &sfemu.RecordError{StatusCode: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record or 1 records: " + ri.ID}
		}
		return nil
	})
	e.apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Account", Rows: []sfemu.Row{{Fields: map[string]any{"Name": "L", "Org_Id__c": "LOCKED"}}}})
	data := "\ufeffOrg_Id__c,Name,NumberOfEmployees\nLOCKED,Locked,1\nD-1,Dup A,2\nd-1,Dup B,3\nOK,Fine,4\nBAD,Bad,many\nSHORT,Short\n"
	id, job := e.run(jsonMap{"object": "Account", "operation": "upsert", "externalIdFieldName": "Org_Id__c"}, data)
	require.Equal(t, json.Number("6"), job["numberRecordsProcessed"])
	require.Equal(t, json.Number("5"), job["numberRecordsFailed"])
	lockedID := e.query("SELECT Id FROM Account WHERE Org_Id__c = 'LOCKED'")[0]["Id"].(string)
	require.Equal(t, `"sf__Id","sf__Error",Org_Id__c,Name,NumberOfEmployees`+"\n"+quotedCSV("\n",
		[]string{"", "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: " + lockedID + ":--", "LOCKED", "Locked", "1"},
		[]string{"", "DUPLICATE_VALUE:Duplicate external id specified: D-1:--", "D-1", "Dup A", "2"},
		[]string{"", "DUPLICATE_VALUE:Duplicate external id specified: d-1:--", "d-1", "Dup B", "3"},
		[]string{"", "INVALID_TYPE_ON_FIELD_IN_RECORD:Employees: value not of required type: many:NumberOfEmployees --", "BAD", "Bad", "many"},
		[]string{"", "INVALID_INPUT:The row has 2 values but the header has 3 columns:--", "SHORT", "Short", ""},
	), e.results(id, "failedResults"), "the BOM is not part of the first column")
}

func TestBulkUploadRules(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	id := e.create(jsonMap{"object": "Account", "operation": "insert"})
	require.Equal(t, http.StatusCreated, e.put(id, "Name\nA\n").Status)

	r := e.put(id, "Name\nB\n")
	require.Equal(t, http.StatusBadRequest, r.Status)
	code, msg := errorBody(t, r)
	require.Equal(t, "INVALIDJOB", code)
	require.Equal(t, "Found multipe contents for job: <"+id[:15]+">, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.", msg)
	golden(t, e.Server, "bulk_second_upload", r)

	r = e.patch("ingest", id, "UploadComplete")
	require.Equal(t, http.StatusBadRequest, r.Status)
	code, _ = errorBody(t, r)
	require.Equal(t, "INVALIDJOB", code)

	// A closed job takes no data.
	id2, _ := e.run(jsonMap{"object": "Account", "operation": "insert"}, "Name\nA\n")
	r = e.put(id2, "Name\nB\n")
	require.Equal(t, http.StatusBadRequest, r.Status)
	code, _ = errorBody(t, r)
	require.Equal(t, "INVALIDJOBSTATE", code)

	// More than 150 MB once base64-encoded is refused before it is read.
	id3 := e.create(jsonMap{"object": "Account", "operation": "insert"})
	req := httptest.NewRequest(http.MethodPut, bulkV+"/jobs/ingest/"+id3+"/batches", strings.NewReader("Name\n"))
	req.ContentLength = 150<<20/4*3 + 1
	req.Header.Set("Authorization", "Bearer "+e.Token)
	req.Header.Set("Content-Type", "text/csv")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	golden(t, e.Server, "bulk_upload_too_large", &sfemutest.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
	req.ContentLength = 150 << 20 / 4 * 3
	e.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, "Open", e.info("ingest", id3)["state"])
	require.Equal(t, http.StatusBadRequest, e.put(id3, "Name\nA\n").Status, "the upload at the limit was taken")
}

func TestBulkAbortMidway(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	reached, release := make(chan struct{}), make(chan struct{})
	e.Org().SetRecordHook(func(ri sfemu.RecordInfo) *sfemu.RecordError {
		if ri.Fields["Org_Id__c"] == "K-250" {
			close(reached)
			<-release
		}
		return nil
	})
	var b strings.Builder
	b.WriteString("Name,Org_Id__c\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "N%d,K-%d\n", i, i)
	}
	id := e.create(jsonMap{"object": "Account", "operation": "insert"})
	require.Equal(t, http.StatusCreated, e.put(id, b.String()).Status)
	require.Equal(t, http.StatusOK, e.patch("ingest", id, "UploadComplete").Status)
	<-reached
	job := e.info("ingest", id)
	require.Equal(t, "InProgress", job["state"])
	require.Equal(t, json.Number("200"), job["numberRecordsProcessed"], "counts move chunk by chunk")
	r := e.patch("ingest", id, "Aborted")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	close(release)
	unprocessed := e.results(id, "unprocessedrecords") // waits for the chunk in flight
	job = e.info("ingest", id)
	require.Equal(t, "Aborted", job["state"])
	require.Equal(t, json.Number("400"), job["numberRecordsProcessed"])
	require.Equal(t, 400, e.Org().ObjectCounts()["Account"], "processed rows are not rolled back")
	require.Equal(t, 401, strings.Count(e.results(id, "successfulResults"), "\n"))
	require.True(t, strings.HasPrefix(unprocessed, "Name,Org_Id__c\n\"N400\",\"K-400\"\n"), unprocessed[:40])
	require.Equal(t, 601, strings.Count(unprocessed, "\n"))

	r = e.patch("ingest", id, "Aborted")
	require.Equal(t, http.StatusBadRequest, r.Status)
	code, msg := errorBody(t, r)
	require.Equal(t, "INVALIDJOBSTATE", code)
	require.Equal(t, "Aborting already Aborted Job not allowed", msg)
}

func TestBulkJobNeverClosed(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	id := e.create(jsonMap{"object": "Account", "operation": "insert"})
	require.Equal(t, http.StatusCreated, e.put(id, "Name\nA\nB\n").Status)
	require.Equal(t, "Open", e.info("ingest", id)["state"])
	require.Zero(t, e.Org().ObjectCounts()["Account"], "nothing is processed before UploadComplete")

	r := e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id+"/successfulResults", nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	golden(t, e.Server, "bulk_results_too_early", r)
	r = e.Do(t, http.MethodDelete, bulkV+"/jobs/ingest/"+id, nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	code, _ := errorBody(t, r)
	require.Equal(t, "API_ERROR", code)

	r = e.patch("ingest", id, "Aborted")
	require.Equal(t, http.StatusOK, r.Status)
	golden(t, e.Server, "bulk_abort", r)
	require.Equal(t, "Name\n\"A\"\n\"B\"\n", e.results(id, "unprocessedRecords"))
	require.Equal(t, `"sf__Id","sf__Created",Name`+"\n", e.results(id, "successfulResults"))
	r = e.patch("ingest", id, "UploadComplete")
	require.Equal(t, http.StatusBadRequest, r.Status)
	code, _ = errorBody(t, r)
	require.Equal(t, "INVALIDJOBSTATE", code)
	require.Equal(t, http.StatusNoContent, e.Do(t, http.MethodDelete, bulkV+"/jobs/ingest/"+id, nil).Status)
	r = e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	golden(t, e.Server, "bulk_not_found", r)
}

func TestBulkCreateErrors(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	tests := []struct {
		name string
		body any
		code string
	}{
		{"no operation", jsonMap{"object": "Account"}, "INVALIDJOB"},
		{"bad operation", jsonMap{"object": "Account", "operation": "merge"}, "INVALIDJOB"},
		{"no object", jsonMap{"operation": "insert"}, "INVALIDJOB"},
		{"unknown object", jsonMap{"object": "Nope__c", "operation": "insert"}, "INVALIDENTITY"},
		{"upsert without key", jsonMap{"object": "Account", "operation": "upsert", "externalIdFieldName": ""}, "INVALIDJOB"},
		{"bad delimiter", jsonMap{"object": "Account", "operation": "insert", "columnDelimiter": "COLON"}, "INVALIDJOB"},
		{"bad line ending", jsonMap{"object": "Account", "operation": "insert", "lineEnding": "CR"}, "INVALIDJOB"},
		{"bad content type", jsonMap{"object": "Account", "operation": "insert", "contentType": "JSON"}, "INVALIDJOB"},
		{"not JSON", "{", "JSON_PARSER_ERROR"},
	}
	for _, tc := range tests {
		r := e.Do(t, http.MethodPost, bulkV+"/jobs/ingest/", tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, tc.name)
		code, _ := errorBody(t, r)
		require.Equal(t, tc.code, code, tc.name)
	}
	r := e.Do(t, http.MethodPost, bulkV+"/jobs/ingest", jsonMap{"object": "Nope__c", "operation": "insert"})
	golden(t, e.Server, "bulk_create_unknown_object", r)
	r = e.Do(t, http.MethodPost, "/services/data/v40.0/jobs/ingest", jsonMap{"object": "Account", "operation": "insert"})
	require.Equal(t, http.StatusNotFound, r.Status, "Bulk 2.0 starts at v41.0")
}

func TestBulkGoldenLifecycle(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	e.apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Account", Rows: []sfemu.Row{{Fields: map[string]any{"Name": "Acme", "Org_Id__c": "A-1"}}}})
	r := e.Do(t, http.MethodPost, bulkV+"/jobs/ingest", jsonMap{
		"object": "Contact", "operation": "upsert", "externalIdFieldName": "Counselor_Id__c",
		"contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"})
	require.Equal(t, http.StatusOK, r.Status)
	golden(t, e.Server, "bulk_create", r)
	var job jsonMap
	r.JSON(t, &job)
	id := job["id"].(string)
	golden(t, e.Server, "bulk_info_open", e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id, nil))

	require.Equal(t, http.StatusCreated, e.put(id, "Counselor_Id__c,LastName,Account.Org_Id__c,Hours_Available__c\n"+
		"C-1,Smith,A-1,1.5\nC-2,\"Jones, \"\"JJ\"\"\",A-9,\nC-3,,A-1,\n").Status)
	r = e.patch("ingest", id, "UploadComplete")
	golden(t, e.Server, "bulk_close", r)
	e.wait("ingest", id)
	golden(t, e.Server, "bulk_info_complete", e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id, nil))
	golden(t, e.Server, "bulk_successful", e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id+"/successfulResults", nil))
	golden(t, e.Server, "bulk_failed", e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id+"/failedResults", nil))
	golden(t, e.Server, "bulk_unprocessed", e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+id+"/unprocessedrecords", nil))

	failedID, _ := e.run(jsonMap{"object": "Account", "operation": "insert"}, "Name,Industryy\nA,B\n")
	golden(t, e.Server, "bulk_info_failed", e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+failedID, nil))
	golden(t, e.Server, "bulk_list", e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/", nil))
}

func TestBulkListPaging(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	const n = 1003
	for i := 0; i < n; i++ {
		e.create(jsonMap{"object": "Account", "operation": "insert"})
	}
	qid := bulkQueryJob(t, e, jsonMap{"query": "SELECT Id FROM Account"})
	var seen []string
	next := bulkV + "/jobs/ingest"
	for page := 0; next != ""; page++ {
		r := e.Do(t, http.MethodGet, next, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var body struct {
			Done           bool      `json:"done"`
			Records        []jsonMap `json:"records"`
			NextRecordsURL *string   `json:"nextRecordsUrl"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		for _, j := range body.Records {
			require.Equal(t, "V2Ingest", j["jobType"])
			seen = append(seen, j["id"].(string))
		}
		require.Equal(t, body.NextRecordsURL == nil, body.Done)
		next = ""
		if body.NextRecordsURL != nil {
			require.Equal(t, 1000, len(body.Records))
			next = *body.NextRecordsURL
		}
		require.Less(t, page, 2)
	}
	require.Len(t, seen, n)
	r := e.Do(t, http.MethodGet, bulkV+"/jobs/query?jobType=V2Query", nil)
	require.Contains(t, string(r.Body), qid)
	require.Contains(t, string(r.Body), `"done":true`)
	r = e.Do(t, http.MethodGet, bulkV+"/jobs/ingest?jobType=Classic", nil)
	require.JSONEq(t, `{"done":true,"records":[],"nextRecordsUrl":null}`, string(r.Body))
}

func TestBulkLatencyAndAbort(t *testing.T) {
	t.Parallel()
	e := bulkSetup(t)
	e.SetBulkLatency(time.Hour, time.Millisecond)
	id := e.create(jsonMap{"object": "Account", "operation": "insert"})
	require.Equal(t, http.StatusCreated, e.put(id, "Name\nA\nB\n").Status)
	require.Equal(t, http.StatusOK, e.patch("ingest", id, "UploadComplete").Status)
	job := e.info("ingest", id)
	require.Contains(t, []any{"UploadComplete", "InProgress"}, job["state"])
	require.Equal(t, json.Number("0"), job["numberRecordsProcessed"], "the first chunk waits an hour")
	require.Equal(t, http.StatusOK, e.patch("ingest", id, "Aborted").Status)
	require.Equal(t, "Name\n\"A\"\n\"B\"\n", e.results(id, "unprocessedrecords"), "the abort ends the wait")
	require.Zero(t, e.Org().ObjectCounts()["Account"])

	e.SetBulkLatency(0, 0)
	_, job = e.run(jsonMap{"object": "Account", "operation": "insert"}, "Name\nA\n")
	require.Equal(t, "JobComplete", job["state"])

	e.ResetBulkJobs()
	r := e.Do(t, http.MethodGet, bulkV+"/jobs/ingest", nil)
	require.JSONEq(t, `{"done":true,"records":[],"nextRecordsUrl":null}`, string(r.Body))
}

// bulkClock is a settable clock safe for concurrent use.
type bulkClock struct{ ns atomic.Int64 }

func (c *bulkClock) now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

func TestBulkRetention(t *testing.T) {
	t.Parallel()
	var clock bulkClock
	clock.ns.Store(bulkNow.UnixNano())
	s := sfemutest.Start(t, sfemu.Options{Now: clock.now})
	e := &bulkEnv{Server: s, t: t}
	done, _ := e.run(jsonMap{"object": "Account", "operation": "insert"}, "Name\nA\n")
	open := e.create(jsonMap{"object": "Account", "operation": "insert"})
	clock.ns.Add(int64(7*24*time.Hour + time.Second))
	r := e.Do(t, http.MethodGet, bulkV+"/jobs/ingest", nil)
	require.Contains(t, string(r.Body), open, "unfinished jobs are kept")
	require.NotContains(t, string(r.Body), done, "finished jobs go after 7 days")
	require.Equal(t, http.StatusNotFound, e.Do(t, http.MethodGet, bulkV+"/jobs/ingest/"+done, nil).Status)
}
