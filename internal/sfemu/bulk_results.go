package sfemu

import (
	"fmt"
	"net/http"
	"strconv"
)

// Ingest job results (fact sheet §8.5): CSV files with "sf__Id" and
// "sf__Created" or "sf__Error" ahead of the columns as uploaded, and the
// never-attempted rows in their original columns. Rows keep the upload's
// order. Files are comma-separated (§8.5: clients parse RFC 4180) with the
// job's line ending; values are always quoted and column names only when
// they must be, as in the documentation's examples.

type bulkResultKind int

const (
	bulkResultSuccessful bulkResultKind = iota
	bulkResultFailed
	bulkResultUnprocessed
)

// bulkCSVContentType is the Content-Type of every CSV answer.
const bulkCSVContentType = "text/csv"

// resultsHandler answers GET jobs/ingest/{id}/successfulResults,
// failedResults and unprocessedrecords. They exist once the job is
// JobComplete, Failed or Aborted; earlier they answer 400 INVALIDJOBSTATE
// (unverified, docs/emulator.md).
func (b *bulkStore) resultsHandler(kind bulkResultKind) func(*Call) {
	return func(c *Call) {
		j := b.job(c, false)
		if j == nil {
			return
		}
		j.mu.Lock()
		state := j.state
		j.mu.Unlock()
		if !bulkTerminal(state) {
			c.Error(http.StatusBadRequest, codeBulkInvalidJobState, fmt.Sprintf(
				"Results are available once the job is complete; job %s is %s", j.id, state))
			return
		}
		j.wait() // an aborted job finishes the chunk it was writing
		j.mu.Lock()
		defer j.mu.Unlock()
		ir := j.ingest
		if ir == nil { // aborted before processing: every row is unprocessed
			ir = &bulkIngestResults{}
			if j.uploads > 0 {
				ir.header, _, ir.rows, _ = scanBulkUpload(j.data, j.format)
			}
		}
		w := newBulkCSVWriter(',', j.format.eol())
		n := writeBulkResults(w, kind, ir, j.data, j.format)
		c.Records = n
		c.Body(http.StatusOK, bulkCSVContentType, w.bytes())
	}
}

// writeBulkResults writes one result file and returns its number of rows.
func writeBulkResults(w *bulkCSVWriter, kind bulkResultKind, ir *bulkIngestResults, data []byte, f bulkCSVFormat) int {
	if ir.header == nil && kind == bulkResultUnprocessed {
		return 0 // nothing was uploaded
	}
	switch kind {
	case bulkResultSuccessful:
		w.quotedValue("sf__Id")
		w.sep()
		w.quotedValue("sf__Created")
	case bulkResultFailed:
		w.quotedValue("sf__Id")
		w.sep()
		w.quotedValue("sf__Error")
	}
	for i, name := range ir.header {
		if i > 0 || kind != bulkResultUnprocessed {
			w.sep()
		}
		w.name(name)
	}
	w.endRecord()
	want := map[bulkResultKind]bulkRowStatus{bulkResultSuccessful: bulkRowSucceeded, bulkResultFailed: bulkRowFailed, bulkResultUnprocessed: bulkRowUnprocessed}[kind]
	n := 0
	var rd bulkRowReader
	for _, r := range ir.rows {
		if r.status != want {
			continue
		}
		n++
		switch kind {
		case bulkResultSuccessful:
			w.quotedValue(r.id)
			w.sep()
			w.quotedValue(strconv.FormatBool(r.created))
		case bulkResultFailed:
			w.quotedValue(r.id)
			w.sep()
			w.quotedValue(r.err)
		}
		vals := rd.read(data, f, r.start, r.end)
		for i := range ir.header {
			if i > 0 || kind != bulkResultUnprocessed {
				w.sep()
			}
			if i < len(vals) {
				w.quotedValue(vals[i])
			} else {
				w.quotedValue("")
			}
		}
		w.endRecord()
	}
	return n
}
