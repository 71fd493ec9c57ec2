package sfemu

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Ingest processing (fact sheet §13.3). Once a job is UploadComplete a
// goroutine reads the upload, checks the header (a bad header fails the
// whole job with an "InvalidBatch : …" errorMessage, as on a real org),
// then writes the rows through the shared DML pipeline in chunks of
// bulkChunk rows, one org transaction each (Salesforce's Bulk transactions
// are 200 records), with no transaction across chunks and allOrNone off.
// Counts are published after every chunk; an abort stops the job at the
// next chunk boundary and leaves the rest unprocessed.

// bulkChunk is how many rows one pipeline call writes.
const bulkChunk = 200

// bulkNull is the CSV value that sets a field to null (§8.2).
const bulkNull = "#N/A"

// bulkMaxHeader is the longest header row Salesforce accepts (§8.2).
const bulkMaxHeader = 32000

type bulkRowStatus uint8

const (
	bulkRowUnprocessed bulkRowStatus = iota
	bulkRowSucceeded
	bulkRowFailed
)

// bulkRowResult is one uploaded row: where it is in the upload and what became
// of it.
type bulkRowResult struct {
	start, end int
	status     bulkRowStatus
	created    bool
	id         string
	err        string // sf__Error
}

// bulkIngestResults is what a job keeps once its upload has been read.
type bulkIngestResults struct {
	header []string // column names as uploaded
	rows   []bulkRowResult
}

type bulkColKind uint8

const (
	bulkColField   bulkColKind = iota
	bulkColID                  // the Id column
	bulkColRef                 // Relationship.ParentField, optionally Type:Relationship.ParentField
	bulkColIgnored             // columns other than Id of a delete job
)

// bulkColumn is a validated header column.
type bulkColumn struct {
	kind   bulkColKind
	key    string // field or relationship name for Row.Fields
	typ    string // bulkColRef: the parent type given with "Type:"
	parent string // bulkColRef: the parent's external ID or idLookup field
}

// bulkSFError renders a record error as an sf__Error cell: CODE:message:fields
// followed by " --", or ":--" when no field is named (fact sheet §8.5).
func bulkSFError(e RecordError) string {
	s := e.StatusCode + ":" + e.Message + ":"
	if len(e.Fields) > 0 {
		s += strings.Join(e.Fields, ",") + " "
	}
	return s + "--"
}

// process runs an UploadComplete job to the end; done is closed when it
// returns.
func (b *bulkStore) process(j *bulkJob, done chan struct{}) {
	defer close(done)
	start := b.now()
	j.mu.Lock()
	if j.state != bulkUploadComplete {
		j.mu.Unlock()
		return
	}
	j.setState(bulkInProgress, start)
	data, uploaded := j.data, j.uploads > 0
	j.mu.Unlock()

	ir, cols, msg := b.parseUpload(j, data, uploaded)
	j.mu.Lock()
	j.ingest = ir
	if msg != "" {
		end := b.now()
		j.errMsg, j.totalTime = msg, end.Sub(start)
		if j.state == bulkInProgress {
			j.setState(bulkFailed, end)
		}
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()

	pre := b.preflight(j, data, ir, cols)
	op := map[string]Op{"insert": OpInsert, "update": OpUpdate, "upsert": OpUpsert, "delete": OpDelete, "hardDelete": OpDelete}[j.operation]
	rows := make([]Row, 0, bulkChunk)
	var rd bulkRowReader
	for i := 0; i < len(ir.rows); i += bulkChunk {
		n := min(bulkChunk, len(ir.rows)-i)
		if b.aborted(j, n) {
			break
		}
		rows = rows[:0]
		for k := i; k < i+n; k++ {
			row := cols.row(rd.read(data, j.format, ir.rows[k].start, ir.rows[k].end), j.operation)
			if row.Err == nil && pre[k] != nil {
				row.Err = pre[k]
			}
			rows = append(rows, row)
		}
		t0 := b.now()
		res := b.org.Apply(&DML{Op: op, Object: j.object, ExtIDField: j.extID, UserID: j.createdBy, Rows: rows})
		t1 := b.now()
		failed := 0
		for k, r := range res {
			rr := &ir.rows[i+k]
			rr.id = r.ID
			if rr.id == "" && !r.Success && op != OpInsert && op != OpUpsert {
				rr.id, _ = NormalizeID(rows[k].ID) // the record the row named
			}
			if r.Success {
				rr.status, rr.created = bulkRowSucceeded, r.Created
				continue
			}
			failed++
			rr.status = bulkRowFailed
			if len(r.Errors) > 0 {
				rr.err = bulkSFError(r.Errors[0])
			}
		}
		j.mu.Lock()
		j.processed += n
		j.failed += failed
		j.activeTime += t1.Sub(t0)
		j.mu.Unlock()
	}
	j.mu.Lock()
	end := b.now()
	j.totalTime = end.Sub(start)
	if j.state == bulkInProgress {
		j.setState(bulkJobComplete, end)
	}
	j.mu.Unlock()
}

// aborted waits out the configured latency for a chunk of n rows and
// reports whether the job was aborted meanwhile.
func (b *bulkStore) aborted(j *bulkJob, n int) bool {
	b.mu.Lock()
	l := b.latency
	b.mu.Unlock()
	if d := l.perChunk + time.Duration(n)*l.perRecord; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-j.abortCh:
			return true
		}
	}
	select {
	case <-j.abortCh:
		return true
	default:
		return false
	}
}

// parseUpload splits the upload into rows and validates the header. msg,
// when not empty, is the errorMessage of a job that fails as a whole; ir
// is set even then so the rows read show as unprocessed.
func (b *bulkStore) parseUpload(j *bulkJob, data []byte, uploaded bool) (*bulkIngestResults, bulkColumns, string) {
	ir := &bulkIngestResults{}
	if !uploaded || len(bytes.TrimSpace(data)) == 0 {
		return ir, nil, "InvalidBatch : No data was uploaded for this job"
	}
	if msg := checkBulkLineEnding(data, j.format, j.lineEnding); msg != "" {
		return ir, nil, msg
	}
	header, headerLen, rows, err := scanBulkUpload(data, j.format)
	ir.header, ir.rows = header, rows
	if err != nil {
		return ir, nil, "ClientInputError : Invalid CSV: " + err.Error()
	}
	if headerLen > bulkMaxHeader {
		return ir, nil, fmt.Sprintf("InvalidBatch : The header row is longer than %d characters", bulkMaxHeader)
	}
	obj := b.org.schema.Object(j.object)
	cols, msg := bulkHeaderColumns(b.org.schema, obj, j.operation, header)
	if msg == "" && j.operation == "upsert" && obj.ExternalIDField(j.extID) == nil {
		msg = fmt.Sprintf("InvalidBatch : Field name provided, %s does not match an External ID, Salesforce Id, or indexed field for %s", j.extID, obj.Name)
	}
	return ir, cols, msg
}

// scanBulkUpload reads the header, its length in bytes, and the byte range of
// every row. On a syntax error the rows before it are returned with the
// error.
func scanBulkUpload(data []byte, f bulkCSVFormat) (header []string, headerLen int, rows []bulkRowResult, err error) {
	s := newBulkCSVScanner(data, f)
	fields, start, end, ok, err := s.next(nil)
	if err != nil || !ok {
		return nil, 0, nil, err
	}
	header, headerLen = append([]string(nil), fields...), end-start
	rows = make([]bulkRowResult, 0, bytes.Count(data, []byte{'\n'}))
	for {
		fields, start, end, ok, err = s.next(fields)
		if err != nil {
			return header, headerLen, rows, err
		}
		if !ok {
			return header, headerLen, rows, nil
		}
		rows = append(rows, bulkRowResult{start: start, end: end})
	}
}

// checkBulkLineEnding compares the header's line ending with the job's, as
// Salesforce does (ClientInputError; docs/emulator.md).
func checkBulkLineEnding(data []byte, f bulkCSVFormat, name string) string {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return ""
	}
	if crlf := i > 0 && data[i-1] == '\r'; crlf != f.crlf {
		return "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is " + name
	}
	return ""
}

type bulkColumns []bulkColumn

// bulkHeaderColumns validates the header against obj (§7.2, §8.4): every
// column must be a field, Id, or Relationship.Field of a parent (with a
// Type: prefix only on polymorphic relationships). A delete job reads only
// Id and ignores the other columns.
func bulkHeaderColumns(s *Schema, obj *Object, op string, header []string) (bulkColumns, string) {
	cols := make(bulkColumns, len(header))
	seen := map[string]bool{}
	notFound := func(name string) (bulkColumns, string) {
		return nil, "InvalidBatch : Field name not found : " + name
	}
	for i, name := range header {
		lower := strings.ToLower(name)
		if seen[lower] {
			return nil, "InvalidBatch : Duplicate field name: " + name
		}
		seen[lower] = true
		if lower == "id" {
			cols[i] = bulkColumn{kind: bulkColID}
			continue
		}
		if op == "delete" || op == "hardDelete" {
			cols[i] = bulkColumn{kind: bulkColIgnored}
			continue
		}
		path, parent, isRef := strings.Cut(name, ".")
		if !isRef {
			f := obj.Field(name)
			if f == nil {
				return notFound(name)
			}
			cols[i] = bulkColumn{kind: bulkColField, key: f.Name}
			continue
		}
		typ, rel, typed := strings.Cut(path, ":")
		if !typed {
			typ, rel = "", path
		}
		rf := obj.Relationship(rel)
		if rf == nil || parent == "" || strings.Contains(parent, ".") {
			return notFound(name)
		}
		var targets []*Object
		if typed {
			if len(rf.ReferenceTo) < 2 {
				return nil, "InvalidBatch : type is not needed for non polymorphic foreign key references: " + rf.RelationshipName
			}
			for _, t := range rf.ReferenceTo {
				if strings.EqualFold(t, typ) {
					targets = append(targets, s.Object(t))
				}
			}
			if len(targets) == 0 {
				return notFound(name)
			}
			typ = targets[0].Name
		} else {
			for _, t := range rf.ReferenceTo {
				if o := s.Object(t); o != nil {
					targets = append(targets, o)
				}
			}
		}
		var pf *Field
		for _, t := range targets {
			if pf = t.Field(parent); pf != nil {
				break
			}
		}
		if pf == nil {
			return notFound(name)
		}
		cols[i] = bulkColumn{kind: bulkColRef, key: rf.RelationshipName, typ: typ, parent: pf.Name}
	}
	return cols, ""
}

// row turns one CSV record into a pipeline Row: empty values leave a field
// unchanged, #N/A sets it to null, relationship columns become references
// by the parent's external ID (§7.2, §8.2).
func (cols bulkColumns) row(vals []string, op string) Row {
	var row Row
	if len(vals) != len(cols) {
		row.Err = recErr(CodeInvalidInput, fmt.Sprintf("The row has %d values but the header has %d columns", len(vals), len(cols)))
		return row
	}
	for i, col := range cols {
		v := vals[i]
		switch col.kind {
		case bulkColID:
			if v == "" {
				continue
			}
			if op == "insert" {
				row.Err = errFieldSpecified("Id")
				return row
			}
			row.ID = v
		case bulkColField:
			if v == "" {
				continue
			}
			if row.Fields == nil {
				row.Fields = make(map[string]any, len(cols))
			}
			if v == bulkNull {
				row.Fields[col.key] = nil
			} else {
				row.Fields[col.key] = v
			}
		case bulkColRef:
			if v == "" {
				continue
			}
			if row.Fields == nil {
				row.Fields = make(map[string]any, len(cols))
			}
			if v == bulkNull {
				row.Fields[col.key] = nil
				continue
			}
			ref, _ := row.Fields[col.key].(map[string]any)
			if ref == nil {
				ref = map[string]any{}
				if col.typ != "" {
					ref["attributes"] = map[string]any{"type": col.typ}
				}
				row.Fields[col.key] = ref
			}
			ref[col.parent] = v
		}
	}
	return row
}

// preflight finds the rows the whole job rejects before any is written:
// upsert rows sharing an external ID value fail with DUPLICATE_VALUE
// "Duplicate external id specified" (fact sheet §13.3, unverified).
func (b *bulkStore) preflight(j *bulkJob, data []byte, ir *bulkIngestResults, cols bulkColumns) []*RecordError {
	pre := make([]*RecordError, len(ir.rows))
	obj := b.org.schema.Object(j.object)
	kf := obj.ExternalIDField(j.extID)
	if j.operation != "upsert" || kf == nil || kf.Type == TypeID {
		return pre
	}
	col := -1
	for i, c := range cols {
		if c.kind == bulkColField && c.key == kf.Name {
			col = i
		}
	}
	if col < 0 {
		return pre
	}
	first := map[string]int{}
	var rd bulkRowReader
	for i, r := range ir.rows {
		vals := rd.read(data, j.format, r.start, r.end)
		if len(vals) != len(cols) || vals[col] == "" || vals[col] == bulkNull {
			continue
		}
		v, err := coerce(kf, vals[col])
		if err != nil || v == nil {
			continue
		}
		k := indexKey(kf, v)
		if p, dup := first[k]; dup {
			if p >= 0 {
				pre[p] = errDuplicateInRequest(j.format.fieldsAt(data, ir.rows[p].start, ir.rows[p].end)[col])
				first[k] = -1
			}
			pre[i] = errDuplicateInRequest(vals[col])
			continue
		}
		first[k] = i
	}
	return pre
}
