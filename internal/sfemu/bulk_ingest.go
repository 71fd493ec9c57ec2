package sfemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Bulk 2.0 ingest job endpoints (fact sheet §8.1–§8.6). Choices where the
// fact sheet is unverified are listed in docs/emulator.md ("Bulk API 2.0").

// bulkOperations maps an operation, in any case, to its canonical name.
var bulkOperations = map[string]string{
	"insert": "insert", "update": "update", "upsert": "upsert", "delete": "delete", "harddelete": "hardDelete",
}

// bulkMaxUploadBase64 is the per-job upload limit: 150 MB once Salesforce
// has base64-encoded the data (fact sheet §8.2, §8.8), so about 112.5 MB
// of raw CSV.
const bulkMaxUploadBase64 = 150 << 20

// bulkBase64Len is the length of the base64 encoding of n bytes.
func bulkBase64Len(n int64) int64 { return (n + 2) / 3 * 4 }

// bulkIngestSpec is the body of POST jobs/ingest. Empty strings count as absent
// (go-salesforce sends externalIdFieldName "" on every job, §8.1).
type bulkIngestSpec struct {
	Object              string `json:"object"`
	Operation           string `json:"operation"`
	ExternalIDFieldName string `json:"externalIdFieldName"`
	ContentType         string `json:"contentType"`
	ColumnDelimiter     string `json:"columnDelimiter"`
	LineEnding          string `json:"lineEnding"`
	AssignmentRuleID    string `json:"assignmentRuleId"`
}

// bulkCSVOptions validates contentType, columnDelimiter and lineEnding,
// defaulting missing ones (CSV, COMMA, LF). On failure it answers 400.
func bulkCSVOptions(c *Call, contentType, delim, lineEnding string) (delimName, le string, f bulkCSVFormat, ok bool) {
	if contentType != "" && !strings.EqualFold(contentType, "CSV") {
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, fmt.Sprintf("Invalid contentType: %s. Only CSV is supported", contentType))
		return "", "", f, false
	}
	delimName = strings.ToUpper(delim)
	if delimName == "" {
		delimName = "COMMA"
	}
	d, known := bulkDelimiters[delimName]
	if !known {
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, fmt.Sprintf("Invalid columnDelimiter: %s. Valid values are %s", delim, bulkDelimiterNames))
		return "", "", f, false
	}
	le = strings.ToUpper(lineEnding)
	switch le {
	case "":
		le = "LF"
	case "LF", "CRLF":
	default:
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, fmt.Sprintf("Invalid lineEnding: %s. Valid values are CRLF, LF", lineEnding))
		return "", "", f, false
	}
	return delimName, le, bulkCSVFormat{delim: d, crlf: le == "CRLF"}, true
}

// ingestCreate answers POST jobs/ingest: 200 with the job, state Open.
func (b *bulkStore) ingestCreate(c *Call) {
	if !bulkVersionAtLeast(c, bulkMinIngestVersion) {
		return
	}
	var spec bulkIngestSpec
	if !c.DecodeJSON(&spec) {
		return
	}
	op, known := bulkOperations[strings.ToLower(spec.Operation)]
	switch {
	case spec.Operation == "":
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, "Required field is missing: operation")
		return
	case !known:
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, fmt.Sprintf("Invalid operation: %s. Valid values are delete, hardDelete, insert, update, upsert", spec.Operation))
		return
	case spec.Object == "":
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, "Required field is missing: object")
		return
	}
	obj := b.org.schema.Object(spec.Object)
	if obj == nil {
		c.Error(http.StatusBadRequest, codeBulkInvalidEntity, spec.Object+" is not supported by the Bulk API")
		return
	}
	if op == "upsert" && spec.ExternalIDFieldName == "" {
		c.Error(http.StatusBadRequest, codeBulkInvalidJob, "External ID field is required for upsert: externalIdFieldName")
		return
	}
	delimName, le, f, ok := bulkCSVOptions(c, spec.ContentType, spec.ColumnDelimiter, spec.LineEnding)
	if !ok {
		return
	}
	now := b.now()
	j := &bulkJob{
		object: obj.Name, operation: op, ruleID: spec.AssignmentRuleID,
		delimName: delimName, lineEnding: le, format: f,
		apiVersion: c.Version, createdBy: c.userID(), created: now,
		state: bulkOpen, modstamp: now, abortCh: make(chan struct{}),
	}
	if op == "upsert" {
		j.extID = spec.ExternalIDFieldName
		if kf := obj.ExternalIDField(j.extID); kf != nil {
			j.extID = kf.Name
		}
	}
	if j.createdBy == "" {
		j.createdBy, _ = b.org.DefaultUser()
	}
	b.add(j)
	j.mu.Lock()
	defer j.mu.Unlock()
	c.JSON(http.StatusOK, j.ingestJSON(c, false))
}

// ingestJSON renders an ingest job; callers hold j.mu. The short form is
// the create/close/abort answer (§8.1), the full form the job info with
// counts (§8.4).
func (j *bulkJob) ingestJSON(c *Call, full bool) orderedMap {
	m := j.commonJSON()
	m = append(m, kv{"apiVersion", json.Number(j.apiVersion)})
	if full {
		m = append(m, kv{"jobType", j.jobType()})
	}
	m = append(m, kv{"contentUrl", strings.TrimPrefix(c.DataPath("/jobs/ingest/"+j.id+"/batches"), "/")},
		kv{"lineEnding", j.lineEnding}, kv{"columnDelimiter", j.delimName})
	if full {
		m = append(m,
			kv{"numberRecordsProcessed", j.processed}, kv{"numberRecordsFailed", j.failed}, kv{"retries", 0},
			kv{"totalProcessingTime", j.totalTime.Milliseconds()},
			kv{"apiActiveProcessingTime", j.activeTime.Milliseconds()},
			kv{"apexProcessingTime", 0})
		if j.errMsg != "" {
			m = append(m, kv{"errorMessage", j.errMsg})
		}
	}
	return m
}

// commonJSON is the head every job rendering shares.
func (j *bulkJob) commonJSON() orderedMap {
	m := orderedMap{
		{"id", j.id}, {"operation", j.operation}, {"object", j.object},
		{"createdById", j.createdBy}, {"createdDate", formatDatetime(j.created)},
		{"systemModstamp", formatDatetime(j.modstamp)}, {"state", j.state},
	}
	if j.extID != "" {
		m = append(m, kv{"externalIdFieldName", j.extID})
	}
	if j.ruleID != "" {
		m = append(m, kv{"assignmentRuleId", j.ruleID})
	}
	return append(m, kv{"concurrencyMode", "Parallel"}, kv{"contentType", "CSV"})
}

// listJSON renders a job as an element of GET jobs/ingest|query (§8.6).
func (j *bulkJob) listJSON(c *Call) orderedMap {
	j.mu.Lock()
	defer j.mu.Unlock()
	m := j.commonJSON()
	m = append(m, kv{"apiVersion", json.Number(j.apiVersion)}, kv{"jobType", j.jobType()})
	if !j.query {
		m = append(m, kv{"contentUrl", strings.TrimPrefix(c.DataPath("/jobs/ingest/"+j.id+"/batches"), "/")})
	}
	return append(m, kv{"lineEnding", j.lineEnding}, kv{"columnDelimiter", j.delimName})
}

// ingestList answers GET jobs/ingest.
func (b *bulkStore) ingestList(c *Call) {
	if bulkVersionAtLeast(c, bulkMinIngestVersion) {
		b.list(c, false, "/jobs/ingest")
	}
}

// ingestInfo answers GET jobs/ingest/{id}.
func (b *bulkStore) ingestInfo(c *Call) { b.info(c, false) }

// errBulkMultipleUploads is Salesforce's answer to a second PUT, and to closing
// a job that got one (fact sheet §8.2; the message's typo is Salesforce's).
func errBulkMultipleUploads(c *Call, j *bulkJob) {
	c.Error(http.StatusBadRequest, codeBulkInvalidJob, fmt.Sprintf(
		"Found multipe contents for job: <%s>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.", j.id[:15]))
}

// ingestUpload answers PUT jobs/ingest/{id}/batches: 201 with no body
// (§8.2). Only one upload per job; at most 150 MB once base64-encoded.
func (b *bulkStore) ingestUpload(c *Call) {
	j := b.job(c, false)
	if j == nil {
		return
	}
	j.mu.Lock()
	state, uploads := j.state, j.uploads
	if state == bulkOpen && uploads > 0 {
		j.uploads++ // closing this job fails too, as on a real org
	}
	j.mu.Unlock()
	switch {
	case state != bulkOpen:
		c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf("Job %s is not Open; its state is %s", j.id, state))
		return
	case uploads > 0:
		errBulkMultipleUploads(c, j)
		return
	}
	data, ok := readBulkUpload(c)
	if !ok {
		return
	}
	data = bytes.TrimPrefix(data, []byte(bulkUTF8BOM))
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != bulkOpen {
		c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf("Job %s is not Open; its state is %s", j.id, j.state))
		return
	}
	if j.uploads > 0 {
		j.uploads++
		errBulkMultipleUploads(c, j)
		return
	}
	j.uploads, j.data = 1, data
	c.Body(http.StatusCreated, "", nil)
}

// readBulkUpload reads the CSV body, refusing more than bulkMaxUploadBase64
// (after base64) with 400 before reading when Content-Length says so.
func readBulkUpload(c *Call) ([]byte, bool) {
	tooBig := func() ([]byte, bool) {
		c.Error(http.StatusBadRequest, codeBulkClientInput, fmt.Sprintf(
			"ClientInputError : Upload exceeds the maximum of %d bytes of base64-encoded data per job", bulkMaxUploadBase64))
		return nil, false
	}
	if c.Req.ContentLength > 0 && bulkBase64Len(c.Req.ContentLength) > bulkMaxUploadBase64 {
		return tooBig()
	}
	if c.Req.Body == nil {
		return nil, true
	}
	maxRaw := int64(bulkMaxUploadBase64) / 4 * 3
	var buf bytes.Buffer
	buf.Grow(int(min(max(c.Req.ContentLength, 0), maxRaw)) + bytes.MinRead)
	n, err := buf.ReadFrom(io.LimitReader(c.Req.Body, maxRaw+1))
	if err != nil {
		c.Error(http.StatusBadRequest, codeBulkClientInput, "ClientInputError : Failed to read the upload: "+err.Error())
		return nil, false
	}
	if bulkBase64Len(n) > bulkMaxUploadBase64 {
		return tooBig()
	}
	return buf.Bytes(), true
}

// ingestPatch answers PATCH jobs/ingest/{id} {"state":"UploadComplete" |
// "Aborted"} with 200 and the job (§8.3); extra keys are ignored.
func (b *bulkStore) ingestPatch(c *Call) {
	j, state := b.statePatch(c, false)
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := b.now()
	switch state {
	case bulkUploadComplete:
		if j.state != bulkOpen {
			c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf("Closing already %s Job not allowed", bulkStateWord(j.state)))
			return
		}
		if j.uploads > 1 {
			errBulkMultipleUploads(c, j)
			return
		}
		j.setState(bulkUploadComplete, now)
		j.done = make(chan struct{})
		go b.process(j, j.done)
	case bulkAborted:
		if !bulkPatchAbort(c, j, now) {
			return
		}
	default:
		c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf(
			"Invalid state: %s. A job can only be set to UploadComplete or Aborted", state))
		return
	}
	c.JSON(http.StatusOK, j.ingestJSON(c, false))
}

// bulkPatchAbort aborts j unless it has finished (400 INVALIDJOBSTATE, §8.7);
// callers hold j.mu.
func bulkPatchAbort(c *Call, j *bulkJob, now time.Time) bool {
	if bulkTerminal(j.state) {
		c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf("Aborting already %s Job not allowed", bulkStateWord(j.state)))
		return false
	}
	j.abort(now)
	return true
}

// bulkStateWord names a state in Salesforce's "already … Job" messages.
func bulkStateWord(state string) string {
	if state == bulkJobComplete {
		return "Completed"
	}
	return state
}

// ingestDelete answers DELETE jobs/ingest/{id}: 204, only once the upload
// is closed and the job is not being processed (§8.6).
func (b *bulkStore) ingestDelete(c *Call) { b.deleteJob(c, false, bulkUploadComplete) }
