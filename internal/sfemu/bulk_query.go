package sfemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Bulk 2.0 query jobs (fact sheet §8.7): POST jobs/query runs the SOQL
// query asynchronously through Org.Query; GET …/results pages the rows as
// CSV with the Sforce-Locator and Sforce-NumberOfRecords headers.

// bulkQueryPage is how many rows a results page holds when the client
// gives no maxRecords (Salesforce picks a service-defined size;
// docs/emulator.md).
const bulkQueryPage = 50000

// bulkQueryResult is a finished query job's rows.
type bulkQueryResult struct {
	columns  []string
	datetime []bool // column i holds datetimes (rendered with "Z")
	rows     [][]any
}

type bulkQuerySpec struct {
	Operation       string `json:"operation"`
	Query           string `json:"query"`
	ContentType     string `json:"contentType"`
	ColumnDelimiter string `json:"columnDelimiter"`
	LineEnding      string `json:"lineEnding"`
}

// queryCreate answers POST jobs/query: 200 with the job, UploadComplete.
func (b *bulkStore) queryCreate(c *Call) {
	if !bulkVersionAtLeast(c, bulkMinQueryVersion) {
		return
	}
	var spec bulkQuerySpec
	if !c.DecodeJSON(&spec) {
		return
	}
	op := spec.Operation
	switch {
	case op == "":
		op = "query"
	case strings.EqualFold(op, "query"):
		op = "query"
	case strings.EqualFold(op, "queryAll"):
		op = "queryAll"
	default:
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, fmt.Sprintf("Invalid operation: %s. Valid values are query, queryAll", spec.Operation))
		return
	}
	if strings.TrimSpace(spec.Query) == "" {
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, "Required field is missing: query")
		return
	}
	delimName, le, f, ok := bulkCSVOptions(c, spec.ContentType, spec.ColumnDelimiter, spec.LineEnding)
	if !ok {
		return
	}
	p, qerr := b.org.prepare(spec.Query)
	if qerr != nil {
		c.Error(http.StatusBadRequest, qerr.Code, qerr.Message)
		return
	}
	switch {
	case p.countOnly || p.aggregate:
		c.Error(http.StatusBadRequest, codeBulkAPIError, "Aggregate queries are not supported by Bulk API 2.0 query jobs")
		return
	case p.offset > 0:
		c.Error(http.StatusBadRequest, codeBulkAPIError, "OFFSET is not supported by Bulk API 2.0 query jobs")
		return
	}
	now := b.now()
	j := &bulkJob{
		query: true, object: p.obj.Name, operation: op, soql: spec.Query,
		delimName: delimName, lineEnding: le, format: f,
		apiVersion: c.Version, createdBy: c.userID(), created: now,
		state: bulkUploadComplete, modstamp: now, abortCh: make(chan struct{}), done: make(chan struct{}),
	}
	if j.createdBy == "" {
		j.createdBy, _ = b.org.DefaultUser()
	}
	b.add(j)
	j.mu.Lock()
	c.JSON(http.StatusOK, j.queryJSON(false))
	j.mu.Unlock()
	go b.runQuery(j, j.done)
}

// runQuery runs a query job to the end.
func (b *bulkStore) runQuery(j *bulkJob, done chan struct{}) {
	defer close(done)
	start := b.now()
	j.mu.Lock()
	if j.state != bulkUploadComplete {
		j.mu.Unlock()
		return
	}
	j.setState(bulkInProgress, start)
	j.mu.Unlock()
	res, err := b.org.Query(j.soql, j.operation == "queryAll")
	var qr *bulkQueryResult
	if err == nil {
		qr = &bulkQueryResult{columns: res.Columns, rows: res.Rows, datetime: make([]bool, len(res.Columns))}
		obj := b.org.schema.Object(res.Object)
		for i, col := range res.Columns {
			if f := bulkFieldAtPath(b.org.schema, obj, col); f != nil && f.Type == TypeDatetime {
				qr.datetime[i] = true
			}
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	end := b.now()
	j.totalTime = end.Sub(start)
	if j.state != bulkInProgress {
		return // aborted
	}
	if err != nil {
		j.errMsg = err.Error()
		j.setState(bulkFailed, end)
		return
	}
	j.result, j.processed = qr, len(qr.rows)
	j.setState(bulkJobComplete, end)
}

// bulkFieldAtPath resolves a column path such as "Account.Owner.Name" to its
// leaf field (through the first target of each relationship), or nil.
func bulkFieldAtPath(s *Schema, obj *Object, path string) *Field {
	parts := strings.Split(path, ".")
	for _, rel := range parts[:len(parts)-1] {
		if obj == nil {
			return nil
		}
		rf := obj.Relationship(rel)
		if rf == nil || len(rf.ReferenceTo) == 0 {
			return nil
		}
		obj = s.Object(rf.ReferenceTo[0])
	}
	if obj == nil {
		return nil
	}
	return obj.Field(parts[len(parts)-1])
}

// queryJSON renders a query job; callers hold j.mu. The short form is the
// create/abort answer, the full form the job info (§8.7).
func (j *bulkJob) queryJSON(full bool) orderedMap {
	m := j.commonJSON()
	m = append(m, kv{"apiVersion", json.Number(j.apiVersion)})
	if full {
		m = append(m, kv{"jobType", j.jobType()})
	}
	m = append(m, kv{"lineEnding", j.lineEnding}, kv{"columnDelimiter", j.delimName})
	if full {
		m = append(m, kv{"numberRecordsProcessed", j.processed}, kv{"retries", 0},
			kv{"totalProcessingTime", j.totalTime.Milliseconds()}, kv{"isPkChunkingSupported", true})
		if j.errMsg != "" {
			m = append(m, kv{"errorMessage", j.errMsg})
		}
	}
	return m
}

// queryList answers GET jobs/query.
func (b *bulkStore) queryList(c *Call) {
	if bulkVersionAtLeast(c, bulkMinQueryVersion) {
		b.list(c, true, "/jobs/query")
	}
}

// queryInfo answers GET jobs/query/{id}.
func (b *bulkStore) queryInfo(c *Call) { b.info(c, true) }

// queryPatch answers PATCH jobs/query/{id} {"state":"Aborted"}.
func (b *bulkStore) queryPatch(c *Call) {
	j, state := b.statePatch(c, true)
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if state != bulkAborted {
		c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf(
			"Invalid state: %s. A query job can only be set to Aborted", state))
		return
	}
	if !bulkPatchAbort(c, j, b.now()) {
		return
	}
	c.JSON(http.StatusOK, j.queryJSON(false))
}

// queryDelete answers DELETE jobs/query/{id}: 204 once the job has
// finished, else 400 API_ERROR (§8.7).
func (b *bulkStore) queryDelete(c *Call) { b.deleteJob(c, true, "") }

// encodeBulkLocator and decodeBulkLocator map a row offset to an Sforce-Locator
// token: the base64 of the decimal offset, as Salesforce's look.
func encodeBulkLocator(offset int) string {
	return base64.RawStdEncoding.EncodeToString([]byte(strconv.Itoa(offset)))
}

func decodeBulkLocator(s string) (int, bool) {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(b))
	return n, err == nil && n >= 0
}

// queryResults answers GET jobs/query/{id}/results[?locator=&maxRecords=]:
// one page of CSV, the header row on every page, Sforce-Locator ("null" on
// the last page) and Sforce-NumberOfRecords always set (§8.7).
func (b *bulkStore) queryResults(c *Call) {
	j := b.job(c, true)
	if j == nil {
		return
	}
	j.mu.Lock()
	state, qr, version := j.state, j.result, j.apiVersion
	j.mu.Unlock()
	if version != c.Version {
		c.Error(http.StatusConflict, codeBulkInvalidJob, fmt.Sprintf(
			"Job %s was created in API version %s; get its results with the same version", j.id, version))
		return
	}
	if state != bulkJobComplete || qr == nil {
		c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf(
			"Results are available once the job is JobComplete; job %s is %s", j.id, state))
		return
	}
	q := c.Req.URL.Query()
	offset, size := 0, bulkQueryPage
	if loc := q.Get("locator"); loc != "" && loc != "null" {
		n, ok := decodeBulkLocator(loc)
		if !ok || n > len(qr.rows) {
			c.Error(http.StatusBadRequest, CodeInvalidQueryLocator, "Invalid locator: "+loc)
			return
		}
		offset = n
	}
	if s := q.Get("maxRecords"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			c.Error(http.StatusBadRequest, codeBulkInvalidJob, "maxRecords must be a positive integer: "+s)
			return
		}
		size = n
	}
	end := min(offset+size, len(qr.rows))
	w := newBulkCSVWriter(j.format.delim, j.format.eol())
	for i, col := range qr.columns {
		if i > 0 {
			w.sep()
		}
		w.quotedValue(col)
	}
	w.endRecord()
	for _, row := range qr.rows[offset:end] {
		for i, v := range row {
			if i > 0 {
				w.sep()
			}
			w.quotedValue(bulkCSVValue(v, qr.datetime[i]))
		}
		w.endRecord()
	}
	next := "null"
	if end < len(qr.rows) {
		next = encodeBulkLocator(end)
	}
	c.Records = end - offset
	c.Header().Set("Sforce-Locator", next)
	c.Header().Set("Sforce-NumberOfRecords", strconv.Itoa(end-offset))
	c.Body(http.StatusOK, bulkCSVContentType, w.bytes())
}

// bulkCSVValue renders a stored value for a query results file; datetimes use
// "Z" rather than "+0000" (unverified) and null is empty.
func bulkCSVValue(v any, datetime bool) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if datetime && strings.HasSuffix(x, "+0000") {
			return strings.TrimSuffix(x, "+0000") + "Z"
		}
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
