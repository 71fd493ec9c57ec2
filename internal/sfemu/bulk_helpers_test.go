package sfemu_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

// Golden files: golden (helpers_test.go) writes testdata/bulk_*.golden;
// go test -update rewrites them.

// bulkNow is the fixed clock of golden tests.
var bulkNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

const bulkV = "/services/data/v66.0"

type bulkEnv struct {
	*sfemutest.Server
	t *testing.T
}

// bulkSetup starts an emulator with a fixed seed and clock.
func bulkSetup(t *testing.T) *bulkEnv {
	t.Helper()
	s := sfemutest.Start(t, sfemu.Options{Seed: 7, Now: func() time.Time { return bulkNow }})
	return &bulkEnv{Server: s, t: t}
}

type jsonMap = map[string]any

// create posts an ingest job spec and returns the job id.
func (e *bulkEnv) create(spec jsonMap) string {
	e.t.Helper()
	r := e.Do(e.t, http.MethodPost, bulkV+"/jobs/ingest", spec)
	require.Equal(e.t, http.StatusOK, r.Status, "%s", r.Body)
	var job jsonMap
	r.JSON(e.t, &job)
	require.Equal(e.t, "Open", job["state"])
	return job["id"].(string)
}

// put uploads CSV data to a job.
func (e *bulkEnv) put(id, data string) *sfemutest.Response {
	e.t.Helper()
	return e.DoWith(e.t, http.MethodPut, bulkV+"/jobs/ingest/"+id+"/batches/", data, http.Header{
		"Authorization": {"Bearer " + e.Token}, "Content-Type": {"text/csv"}, "Accept": {"application/json"}})
}

func (e *bulkEnv) patch(kind, id, state string) *sfemutest.Response {
	e.t.Helper()
	return e.Do(e.t, http.MethodPatch, bulkV+"/jobs/"+kind+"/"+id, jsonMap{"id": id, "state": state})
}

// run creates a job, uploads data, closes it and waits for the end.
func (e *bulkEnv) run(spec jsonMap, data string) (string, jsonMap) {
	e.t.Helper()
	id := e.create(spec)
	r := e.put(id, data)
	require.Equal(e.t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Empty(e.t, r.Body)
	r = e.patch("ingest", id, "UploadComplete")
	require.Equal(e.t, http.StatusOK, r.Status, "%s", r.Body)
	return id, e.wait("ingest", id)
}

// info returns GET jobs/{kind}/{id}.
func (e *bulkEnv) info(kind, id string) jsonMap {
	e.t.Helper()
	r := e.Do(e.t, http.MethodGet, bulkV+"/jobs/"+kind+"/"+id, nil)
	require.Equal(e.t, http.StatusOK, r.Status, "%s", r.Body)
	var job jsonMap
	r.JSON(e.t, &job)
	return job
}

// wait polls the job until it is JobComplete, Failed or Aborted.
func (e *bulkEnv) wait(kind, id string) jsonMap {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		job := e.info(kind, id)
		switch job["state"] {
		case "JobComplete", "Failed", "Aborted":
			return job
		}
		require.True(e.t, time.Now().Before(deadline), "job %s still %s", id, job["state"])
		<-tick.C
	}
}

// results returns a result file of an ingest job.
func (e *bulkEnv) results(id, kind string) string {
	e.t.Helper()
	r := e.Do(e.t, http.MethodGet, bulkV+"/jobs/ingest/"+id+"/"+kind+"/", nil)
	require.Equal(e.t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(e.t, "text/csv", r.Header.Get("Content-Type"))
	return string(r.Body)
}

// apply writes records directly through the org's pipeline.
func (e *bulkEnv) apply(req *sfemu.DML) []sfemu.Result {
	e.t.Helper()
	res := e.Org().Apply(req)
	for i, r := range res {
		require.True(e.t, r.Success, "row %d: %+v", i, r.Errors)
	}
	return res
}

// query runs SOQL through the org and returns the rows as maps.
func (e *bulkEnv) query(soql string) []jsonMap {
	e.t.Helper()
	res, err := e.Org().Query(soql, false)
	require.NoError(e.t, err)
	out := make([]jsonMap, len(res.Rows))
	for i, row := range res.Rows {
		m := jsonMap{}
		for j, c := range res.Columns {
			m[c] = row[j]
		}
		out[i] = m
	}
	return out
}

// csvOf builds an upload: fields quoted when they need it, records ended
// by eol.
func csvOf(delim, eol string, rows ...[]string) string {
	var b strings.Builder
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				b.WriteString(delim)
			}
			if strings.ContainsAny(v, delim+"\"\r\n") || strings.HasPrefix(v, " ") {
				b.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
			} else {
				b.WriteString(v)
			}
		}
		b.WriteString(eol)
	}
	return b.String()
}

// quotedCSV is how the emulator writes result rows: every value quoted,
// comma-separated.
func quotedCSV(eol string, rows ...[]string) string {
	var b strings.Builder
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
		}
		b.WriteString(eol)
	}
	return b.String()
}

// errorBody decodes a REST error array and returns its single element.
func errorBody(t *testing.T, r *sfemutest.Response) (code, msg string) {
	t.Helper()
	var errs []jsonMap
	r.JSON(t, &errs)
	require.Len(t, errs, 1, "%s", r.Body)
	return errs[0]["errorCode"].(string), errs[0]["message"].(string)
}
