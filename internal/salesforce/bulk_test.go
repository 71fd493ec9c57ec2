package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
)

// fakeBulk answers Bulk API 2.0 ingest requests the way the fact sheet §8
// shows them, deciding each row's fate with decide. Results are written in
// reverse upload order (Salesforce promises no order).
type fakeBulk struct {
	t *testing.T
	// decide returns "ok", "created", "unprocessed", "missing", or an
	// sf__Error text for a failed row.
	decide func(row map[string]string) string
	// final is the job's terminal state and errorMessage.
	final, errorMessage string
	// echo rewrites the key column's value in the results (re-rendering).
	echo func(col, v string) string

	mu      sync.Mutex
	jobs    map[string]*fakeJob
	order   []string
	creates []map[string]string
}

type fakeJob struct {
	spec  map[string]string
	csv   []byte
	state string
	polls int
}

func newFakeBulk(t *testing.T) *fakeBulk {
	return &fakeBulk{t: t, jobs: map[string]*fakeJob{}, final: JobComplete,
		decide: func(map[string]string) string { return "created" }}
}

func (b *fakeBulk) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, "/services/data/v62.0/jobs/ingest")
	if !ok {
		writeJSON(w, 404, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case r.Method == http.MethodPost && rest == "":
		spec := map[string]string{}
		require.NoError(b.t, json.NewDecoder(r.Body).Decode(&spec))
		id := fmt.Sprintf("7505f000000%04dAAM", len(b.jobs)+1)
		b.jobs[id] = &fakeJob{spec: spec, state: JobOpen}
		b.order = append(b.order, id)
		b.creates = append(b.creates, spec)
		b.writeJob(w, id)
	case r.Method == http.MethodPut && len(parts) == 2 && parts[1] == "batches":
		j := b.jobs[parts[0]]
		require.Equal(b.t, "text/csv", r.Header.Get("Content-Type"))
		require.Empty(b.t, j.csv, "only one upload per job")
		j.csv, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPatch && len(parts) == 1:
		var body map[string]string
		require.NoError(b.t, json.NewDecoder(r.Body).Decode(&body))
		b.jobs[parts[0]].state = body["state"]
		b.writeJob(w, parts[0])
	case r.Method == http.MethodGet && len(parts) == 1:
		j := b.jobs[parts[0]]
		j.polls++
		switch {
		case j.state == JobAborted:
		case j.polls == 1:
			j.state = JobInProgress
		default:
			j.state = b.final
		}
		b.writeJob(w, parts[0])
	case r.Method == http.MethodGet && len(parts) == 2:
		b.results(w, b.jobs[parts[0]], parts[1])
	default:
		b.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		writeJSON(w, 405, `[{"errorCode":"METHOD_NOT_ALLOWED","message":"no"}]`)
	}
}

func (b *fakeBulk) writeJob(w http.ResponseWriter, id string) {
	j := b.jobs[id]
	info := map[string]any{"id": id, "object": j.spec["object"], "operation": j.spec["operation"], "state": j.state,
		"externalIdFieldName": j.spec["externalIdFieldName"], "apiVersion": 62.0, "contentType": "CSV",
		"contentUrl": "services/data/v62.0/jobs/ingest/" + id + "/batches", "lineEnding": "LF", "columnDelimiter": "COMMA"}
	if j.state == JobFailed {
		info["errorMessage"] = b.errorMessage
	}
	data, _ := json.Marshal(info)
	writeJSON(w, 200, string(data))
}

func (b *fakeBulk) results(w http.ResponseWriter, j *fakeJob, kind string) {
	recs, err := csv.NewReader(bytes.NewReader(j.csv)).ReadAll()
	require.NoError(b.t, err)
	head := recs[0]
	var out bytes.Buffer
	cw := csv.NewWriter(&out)
	switch kind {
	case "successfulResults":
		_ = cw.Write(append([]string{"sf__Id", "sf__Created"}, head...))
	case "failedResults":
		_ = cw.Write(append([]string{"sf__Id", "sf__Error"}, head...))
	case "unprocessedrecords":
		_ = cw.Write(head)
	}
	for i := len(recs) - 1; i >= 1; i-- {
		row := map[string]string{}
		echoed := make([]string, len(head))
		for c, h := range head {
			row[h] = recs[i][c]
			echoed[c] = recs[i][c]
			if b.echo != nil {
				echoed[c] = b.echo(h, recs[i][c])
			}
		}
		fate := b.decide(row)
		id := fmt.Sprintf("003xx%010dAAA", i)
		switch {
		case kind == "successfulResults" && (fate == "ok" || fate == "created"):
			_ = cw.Write(append([]string{id, fmt.Sprint(fate == "created")}, echoed...))
		case kind == "unprocessedrecords" && fate == "unprocessed":
			_ = cw.Write(echoed)
		case kind == "failedResults" && strings.Contains(fate, ":"):
			_ = cw.Write(append([]string{"", fate}, echoed...))
		}
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv")
	_, _ = w.Write(out.Bytes())
}

func (b *fakeBulk) uploads() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, id := range b.order {
		out = append(out, string(b.jobs[id].csv))
	}
	return out
}

func bulkClient(t *testing.T, b *fakeBulk, mutate func(*Config)) *Client {
	f := newFakeSF(t)
	f.setData(b.serve)
	return staticClient(t, f, mutate)
}

func TestBulkUpsertMixedResults(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	b.final, b.errorMessage = JobFailed, "TooManyLockFailure : Too many lock failures"
	b.decide = func(row map[string]string) string {
		switch row["Ext__c"] {
		case "K-2":
			return "ok"
		case "K-3":
			return "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
		case "K-4":
			return "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: 003xx:--"
		case "K-5":
			return "unprocessed"
		case "K-6":
			return "missing"
		}
		return "created"
	}
	c := bulkClient(t, b, nil)
	rows := []map[string]any{
		{"Ext__c": "K-1", "LastName": "a"},
		{"Ext__c": "K-2", "LastName": "b"},
		{"Ext__c": "K-3", "LastName": nil},
		{"Ext__c": "K-4", "LastName": "d"},
		{"Ext__c": "K-5", "LastName": "e"},
		{"Ext__c": "K-6", "LastName": "f"},
		{"LastName": "no key"},
	}
	res, err := c.BulkUpsert(context.Background(), "Contact", "Ext__c", rows)
	require.NoError(t, err)
	require.Len(t, res, len(rows))

	require.Equal(t, []map[string]string{{"object": "Contact", "operation": "upsert", "externalIdFieldName": "Ext__c",
		"contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"}}, b.creates)
	require.Equal(t, "Ext__c,LastName\nK-1,a\nK-2,b\nK-3,#N/A\nK-4,d\nK-5,e\nK-6,f\n", b.uploads()[0])

	require.Equal(t, Result{ID: "003xx0000000001AAA", Created: true}, res[0])
	require.Equal(t, Result{ID: "003xx0000000002AAA"}, res[1])

	var re *RecordError
	require.True(t, errors.As(res[2].Err, &re))
	require.Equal(t, RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}, *re)
	require.True(t, failure.IsPermanent(res[2].Err))

	require.Equal(t, ClassRetry, Classify(res[3].Err).Class)
	require.True(t, isLockError(res[3].Err))

	var je *JobError
	require.True(t, errors.As(res[4].Err, &je), "unprocessed: %v", res[4].Err)
	require.Equal(t, JobError{JobID: "7505f0000000001AAM", State: JobFailed, Code: "TooManyLockFailure", Message: "TooManyLockFailure : Too many lock failures"}, *je)
	require.Equal(t, ClassRetry, Classify(res[4].Err).Class)
	require.False(t, IsRecordError(res[4].Err), "not the row's fault")

	require.True(t, errors.As(res[5].Err, &je), "a row missing from a failed job's results has the job's error: %v", res[5].Err)
	require.Equal(t, ClassRetry, Classify(res[5].Err).Class)

	require.ErrorContains(t, res[6].Err, "external ID field Ext__c is missing")
}

func TestBulkRowMissingFromCompleteJob(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	b.decide = func(row map[string]string) string {
		if row["Ext__c"] == "B" {
			return "missing"
		}
		return "created"
	}
	c := bulkClient(t, b, nil)
	res, err := c.BulkUpsert(context.Background(), "Contact", "Ext__c", []map[string]any{{"Ext__c": "A"}, {"Ext__c": "B"}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.ErrorContains(t, res[1].Err, `the row with Ext__c "B" is in none of the results`)
	require.Equal(t, ClassRetry, Classify(res[1].Err).Class)
	require.False(t, IsRecordError(res[1].Err))
}

func TestBulkSplitsJobsBySize(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	c := bulkClient(t, b, func(cfg *Config) { cfg.BulkMaxBytes = 1 << 16 })
	var rows []map[string]any
	for i := range 1000 {
		rows = append(rows, map[string]any{"Ext__c": fmt.Sprintf("K-%04d", i), "Description": strings.Repeat("d", 200)})
	}
	res, err := c.BulkUpsert(context.Background(), "Contact", "Ext__c", rows)
	require.NoError(t, err)
	ups := b.uploads()
	require.Greater(t, len(ups), 3, "several jobs")
	total := 0
	for _, u := range ups {
		require.LessOrEqual(t, len(u), 1<<16)
		require.True(t, strings.HasPrefix(u, "Ext__c,Description\n"), "every job has the header")
		total += strings.Count(u, "\n") - 1
	}
	require.Equal(t, len(rows), total)
	for i, r := range res {
		require.NoError(t, r.Err, "row %d", i)
		require.True(t, r.Created)
	}
}

func TestBulkDuplicateKeysGoToLaterJobs(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	c := bulkClient(t, b, nil)
	rows := []map[string]any{
		{"Ext__c": "A", "Name": "a1"}, {"Ext__c": "B", "Name": "b1"}, {"Ext__c": "a", "Name": "a2"}, {"Ext__c": "A", "Name": "a3"},
	}
	res, err := c.BulkUpsert(context.Background(), "Account", "Ext__c", rows)
	require.NoError(t, err)
	require.Equal(t, []string{"Ext__c,Name\nA,a1\nB,b1\n", "Ext__c,Name\na,a2\n", "Ext__c,Name\nA,a3\n"}, b.uploads(),
		"one key per job, the newest last")
	for _, r := range res {
		require.NoError(t, r.Err)
	}
}

func TestBulkMatchesReRenderedNumbers(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	b.echo = func(col, v string) string {
		if col == "Num__c" {
			return v + ".0"
		}
		return v
	}
	c := bulkClient(t, b, nil)
	res, err := c.BulkUpsert(context.Background(), "Account", "Num__c", []map[string]any{{"Num__c": 1500}, {"Num__c": json.Number("2e3")}})
	require.NoError(t, err)
	require.Equal(t, "Num__c\n1500\n2000\n", b.uploads()[0])
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	require.NotEqual(t, res[0].ID, res[1].ID)
}

func TestBulkNAValueGoesThroughCollections(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	f := newFakeSF(t)
	var collection []string
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/composite/sobjects/") {
			body, _ := io.ReadAll(r.Body)
			collection = append(collection, string(body))
			writeJSON(w, 200, `[{"id":"003C","success":true,"errors":[],"created":true}]`)
			return
		}
		b.serve(w, r)
	})
	c := staticClient(t, f, nil)
	res, err := c.BulkUpsert(context.Background(), "Contact", "Ext__c", []map[string]any{{"Ext__c": "A", "Note__c": "#N/A"}, {"Ext__c": "B", "Note__c": nil}})
	require.NoError(t, err)
	require.Equal(t, []string{"Ext__c,Note__c\nB,#N/A\n"}, b.uploads())
	require.Len(t, collection, 1)
	require.Contains(t, collection[0], `"Note__c":"#N/A"`)
	require.Equal(t, Result{ID: "003C", Created: true}, res[0])
	require.NoError(t, res[1].Err)
}

func TestBulkJobCreateFails(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, `[{"errorCode":"INVALIDENTITY","message":"Foo__c is not supported by the Bulk API"}]`)
	})
	c := staticClient(t, f, nil)
	res, err := c.BulkUpsert(context.Background(), "Foo__c", "Ext__c", []map[string]any{{"Ext__c": "A"}, {"Ext__c": "B"}})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, ClassFatal, Classify(r.Err).Class)
		require.False(t, IsRecordError(r.Err))
	}
}

func TestBulkAbortsOnCancel(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	b.final = JobInProgress // never finishes
	ctx, cancel := context.WithCancel(context.Background())
	f := newFakeSF(t)
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		b.serve(w, r)
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, j := range b.jobs {
			if j.polls >= 3 {
				cancel()
			}
		}
	})
	c := staticClient(t, f, nil)
	res, err := c.BulkUpsert(ctx, "Contact", "Ext__c", []map[string]any{{"Ext__c": "A"}})
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, context.Canceled)
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, JobAborted, b.jobs[b.order[0]].state, "the job was aborted")
}

func TestBulkDelete(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	b.decide = func(row map[string]string) string {
		if row["Id"] == "003xx0000000002AAA" {
			return "ENTITY_IS_DELETED:entity is deleted:--"
		}
		return "ok"
	}
	c := bulkClient(t, b, nil)
	res, err := c.BulkDelete(context.Background(), "Contact", []string{"003xx0000000001AAA", "003xx0000000002AAA", "nope"}, false)
	require.NoError(t, err)
	require.Equal(t, "delete", b.creates[0]["operation"])
	require.NotContains(t, b.creates[0], "externalIdFieldName")
	require.Equal(t, "Id\n003xx0000000001AAA\n003xx0000000002AAA\n", b.uploads()[0])
	require.NoError(t, res[0].Err)
	require.True(t, isAlreadyDeleted(res[1].Err))
	require.ErrorContains(t, res[2].Err, "not a Salesforce Id")
}
