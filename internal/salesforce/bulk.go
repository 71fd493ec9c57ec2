package salesforce

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Bulk API 2.0 ingest (fact sheet §8): create job → PUT the CSV once →
// PATCH UploadComplete → poll → read successful, failed and unprocessed
// results. Results come back in no particular order and carry the
// original columns after sf__Id/sf__Created/sf__Error, so rows are matched
// back by their key column (the external ID, or Id for deletes); that is why
// a key appears at most once per job.

// Job states.
const (
	JobOpen           = "Open"
	JobUploadComplete = "UploadComplete"
	JobInProgress     = "InProgress"
	JobComplete       = "JobComplete"
	JobFailed         = "Failed"
	JobAborted        = "Aborted"
)

// BulkJob is a Bulk API 2.0 ingest job's info.
type BulkJob struct {
	ID                     string `json:"id"`
	Object                 string `json:"object"`
	Operation              string `json:"operation"`
	State                  string `json:"state"`
	ExternalIDFieldName    string `json:"externalIdFieldName,omitempty"`
	ErrorMessage           string `json:"errorMessage,omitempty"`
	NumberRecordsProcessed int64  `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int64  `json:"numberRecordsFailed"`
}

// JobError is why a row of a Bulk job was not processed: the job failed
// (its errorMessage, e.g. "InvalidBatch : Field name not found : Foo") or
// was aborted. It is request-level, not a verdict on the row.
type JobError struct {
	JobID, State string
	// Code is the Bulk error code leading errorMessage ("InvalidBatch"), or "".
	Code    string
	Message string
}

func (e *JobError) Error() string {
	s := fmt.Sprintf("bulk job %s %s, row not processed", e.JobID, e.State)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// verdict classifies the job error by its code; an aborted or failed job
// without one is transient.
func (e *JobError) verdict() Verdict {
	if e.Code == "" {
		return Verdict{Class: ClassRetry}
	}
	return classifyCode(http.StatusBadRequest, e.Code, e.Message)
}

func newJobError(job *BulkJob) error {
	e := &JobError{JobID: job.ID, State: job.State, Message: job.ErrorMessage}
	if code, _, ok := strings.Cut(job.ErrorMessage, ":"); ok {
		if c := strings.TrimSpace(code); nameRE.MatchString(c) {
			e.Code = c
		}
	}
	return classified(e, e.verdict())
}

// bulkSpec says what a job does.
type bulkSpec struct {
	object, operation, extField string
	keyCol                      string // the column rows are matched back by
}

// BulkUpsert upserts rows of object by extField through Bulk API 2.0, one
// job per ≤ BulkMaxBytes of CSV (and one more job per repeated key, so each
// key appears once per job and the later row is written last). Rows whose
// text is the literal "#N/A" (which CSV would turn into null) go through
// sObject Collections instead. It returns one Result per row; the error is
// only for invalid arguments — request-level failures are in the results.
func (c *Client) BulkUpsert(ctx context.Context, object, extField string, rows []map[string]any) ([]Result, error) {
	out, valid, err := prepareUpsert(object, extField, rows)
	if err != nil {
		return nil, err
	}
	spec := bulkSpec{object: object, operation: "upsert", extField: extField, keyCol: extField}
	for _, wave := range uniqueWaves(valid, (*prepared).keyFold) {
		c.bulkUpsertWave(ctx, spec, wave, out, CollectionLimit)
	}
	return out, nil
}

// bulkUpsertWave upserts wave (unique keys) in one Bulk run; the rows CSV
// cannot carry go through Collections calls of size rows instead, in
// parallel.
func (c *Client) bulkUpsertWave(ctx context.Context, spec bulkSpec, wave []*prepared, out []Result, size int) {
	var viaCSV, direct []*prepared
	for _, p := range wave {
		if p.csvSafe() {
			viaCSV = append(viaCSV, p)
		} else {
			direct = append(direct, p)
		}
	}
	c.bulkRun(ctx, spec, viaCSV, out)
	c.upsertChunks(ctx, spec.object, spec.extField, direct, out, size, true)
}

// BulkDelete deletes records of object by Id through Bulk API 2.0
// (operation "delete", or "hardDelete" when hard is set, which needs the
// "Bulk API Hard Delete" permission). One Result per id.
func (c *Client) BulkDelete(ctx context.Context, object string, ids []string, hard bool) ([]Result, error) {
	if err := checkName("object", object); err != nil {
		return nil, err
	}
	out := make([]Result, len(ids))
	var valid []*prepared
	for i, id := range ids {
		if !idRE.MatchString(id) {
			out[i] = Result{Err: invalidRow("%q is not a Salesforce Id", id)}
			continue
		}
		k := cell{kind: cellString, text: id}
		valid = append(valid, &prepared{index: i, cols: []column{{name: "Id", field: "Id"}}, cells: map[string]cell{"id": k}, key: k})
	}
	op := "delete"
	if hard {
		op = "hardDelete"
	}
	spec := bulkSpec{object: object, operation: op, keyCol: "Id"}
	for _, wave := range uniqueWaves(valid, func(p *prepared) string { return p.key.text }) {
		c.bulkRun(ctx, spec, wave, out)
	}
	return out, nil
}

// uniqueWaves splits ps into consecutive groups in which every key appears
// once; the n-th occurrence of a key goes to group n, so repeated keys keep
// their order across groups.
func uniqueWaves(ps []*prepared, key func(*prepared) string) [][]*prepared {
	seen := map[string]int{}
	var waves [][]*prepared
	for _, p := range ps {
		k := key(p)
		w := seen[k]
		seen[k]++
		if w == len(waves) {
			waves = append(waves, nil)
		}
		waves[w] = append(waves[w], p)
	}
	return waves
}

// bulkRun writes ps (unique keys) through as many jobs as their size needs
// and sets out[p.index] for each. When a job cannot be run, its rows and
// every later row get the error.
func (c *Client) bulkRun(ctx context.Context, spec bulkSpec, ps []*prepared, out []Result) {
	if len(ps) == 0 {
		return
	}
	key := ""
	if spec.operation == "upsert" {
		key = spec.extField
	}
	cols, err := csvColumns(ps, key)
	if err != nil {
		fail(ps, out, classified(fmt.Errorf("salesforce: bulk %s %s: %w", spec.operation, spec.object, err), Verdict{Class: ClassPermanent}))
		return
	}
	for len(ps) > 0 {
		n, err := c.bulkJob(ctx, spec, cols, ps, out)
		if err != nil {
			fail(ps, out, err)
			return
		}
		ps = ps[n:]
	}
}

func fail(ps []*prepared, out []Result, err error) {
	for _, p := range ps {
		out[p.index] = Result{Err: err}
	}
}

// bulkJob runs one job over a prefix of ps and reports how many rows it
// took. An error means no row of the prefix got a result.
func (c *Client) bulkJob(ctx context.Context, spec bulkSpec, cols []column, ps []*prepared, out []Result) (int, error) {
	what := fmt.Sprintf("salesforce: bulk %s %s", spec.operation, spec.object)
	create := map[string]string{"object": spec.object, "operation": spec.operation, "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"}
	if spec.extField != "" {
		create["externalIdFieldName"] = spec.extField
	}
	var job BulkJob
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: "/jobs/ingest"}, create, &job); err != nil {
		return 0, err
	}
	if job.ID == "" || job.State != JobOpen {
		return 0, fmt.Errorf("%s: the new job has id %q and state %q, want an id and Open", what, job.ID, job.State)
	}
	jobPath := "/jobs/ingest/" + url.PathEscape(job.ID)
	n, err := c.upload(ctx, jobPath, cols, ps)
	if err == nil {
		err = c.doJSON(ctx, request{method: http.MethodPatch, path: jobPath}, map[string]string{"state": JobUploadComplete}, nil)
	}
	if err != nil {
		c.abort(ctx, jobPath)
		return 0, err
	}
	done, err := c.pollJob(ctx, jobPath)
	if err != nil {
		if ctx.Err() != nil {
			c.abort(ctx, jobPath)
		}
		return 0, err
	}
	if err := c.jobResults(ctx, spec, jobPath, done, ps[:n], out); err != nil {
		return 0, err
	}
	return n, nil
}

// upload PUTs the CSV of a prefix of ps, streamed, and returns the prefix
// length (what fits in BulkMaxBytes).
func (c *Client) upload(ctx context.Context, jobPath string, cols []column, ps []*prepared) (int, error) {
	type stream struct {
		pr   *io.PipeReader
		done chan struct{}
		n    int
		err  error
	}
	var last *stream
	body := func() (io.Reader, error) {
		pr, pw := io.Pipe()
		s := &stream{pr: pr, done: make(chan struct{})}
		last = s
		go func() {
			s.n, s.err = writeCSV(pw, cols, ps, c.cfg.BulkMaxBytes)
			pw.CloseWithError(s.err)
			close(s.done)
		}()
		return pr, nil
	}
	r := request{method: http.MethodPut, path: jobPath + "/batches", body: body, contentType: "text/csv"}
	resp, err := c.send(ctx, r)
	if last != nil {
		// Unblock the writer if the request ended before reading it all.
		defer func() { <-last.done }()
		if err != nil {
			last.pr.Close()
		}
	}
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	last.pr.Close()
	<-last.done
	if last.err != nil {
		return 0, fmt.Errorf("salesforce: %s: the upload stopped after %d rows: %w", r, last.n, last.err)
	}
	return last.n, nil
}

// abort asks Salesforce to abort a job, best effort, even when ctx ended.
func (c *Client) abort(ctx context.Context, jobPath string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := c.doJSON(actx, request{method: http.MethodPatch, path: jobPath}, map[string]string{"state": JobAborted}, nil); err != nil {
		c.cfg.Logger.Debug("salesforce: aborting a bulk job failed", "job", jobPath, "err", err)
	}
}

// maxTransient bounds consecutive transient failures while polling or
// reading results.
const maxTransient = 8

// retrying runs fn until it succeeds, fails for good, ctx ends or it failed
// transiently maxTransient times in a row, waiting between tries by the
// BulkPoll backoff (or longer when Salesforce asked).
func (c *Client) retrying(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		v := Classify(err)
		if (v.Class != ClassRetry && v.Class != ClassThrottle) || attempt >= maxTransient || ctx.Err() != nil {
			return err
		}
		if err := c.sleep(ctx, max(c.cfg.BulkPoll.Delay(attempt), v.Wait)); err != nil {
			return err
		}
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pollJob polls the job with backoff until it is JobComplete, Failed or
// Aborted.
func (c *Client) pollJob(ctx context.Context, jobPath string) (*BulkJob, error) {
	for attempt := 1; ; attempt++ {
		var job BulkJob
		err := c.retrying(ctx, func() error {
			return c.doJSON(ctx, request{method: http.MethodGet, path: jobPath}, nil, &job)
		})
		if err != nil {
			return nil, err
		}
		switch job.State {
		case JobComplete, JobFailed, JobAborted:
			return &job, nil
		case JobOpen:
			return nil, fmt.Errorf("salesforce: bulk job %s is still Open after UploadComplete", job.ID)
		}
		if err := c.sleep(ctx, c.cfg.BulkPoll.Delay(attempt)); err != nil {
			return nil, err
		}
	}
}

// jobResults reads the three result sets of a finished job and sets the
// result of each row of ps; a row missing from all three gets a retryable
// error.
func (c *Client) jobResults(ctx context.Context, spec bulkSpec, jobPath string, job *BulkJob, ps []*prepared, out []Result) error {
	m := newRowMatcher(ps, spec.keyCol == "Id")
	got := make(map[int]Result, len(ps))
	sets := []struct {
		path string
		fn   func(resultRow) Result
	}{
		{"/successfulResults", func(r resultRow) Result { return Result{ID: r.id, Created: r.created} }},
		{"/failedResults", func(r resultRow) Result {
			re := parseSFError(r.errText)
			return Result{ID: r.id, Err: classified(re, classifyCode(0, re.Code, re.Message))}
		}},
		{"/unprocessedrecords", func(resultRow) Result { return Result{Err: newJobError(job)} }},
	}
	for _, set := range sets {
		err := c.retrying(ctx, func() error {
			part := map[int]Result{}
			r := request{method: http.MethodGet, path: jobPath + set.path, accept: "text/csv"}
			resp, err := c.send(ctx, r)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			err = readResults(resp.Body, spec.keyCol, func(row resultRow) {
				if i, ok := m.match(row.key); ok {
					if _, dup := part[i]; !dup {
						part[i] = set.fn(row)
					}
				}
			})
			if err != nil {
				return fmt.Errorf("salesforce: %s: %w", r, err)
			}
			for i, res := range part {
				if _, dup := got[i]; !dup {
					got[i] = res
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i, p := range ps {
		res, ok := got[i]
		switch {
		case ok:
		case job.State != JobComplete:
			res = Result{Err: newJobError(job)}
		default:
			res = Result{Err: fmt.Errorf("salesforce: bulk job %s (%s): the row with %s %q is in none of the results", job.ID, job.State, spec.keyCol, p.key.text)}
		}
		out[p.index] = res
	}
	return nil
}

// rowMatcher finds the row a result belongs to by its key column: the exact
// text first, then case-insensitively (text external IDs), then as a number
// (Salesforce may re-render numbers, 1500 → 1500.0), and for Ids by their
// case-sensitive 15-character form.
type rowMatcher struct {
	exact, fold, num map[string]int
	ids              bool
}

func newRowMatcher(ps []*prepared, ids bool) *rowMatcher {
	m := &rowMatcher{exact: map[string]int{}, fold: map[string]int{}, num: map[string]int{}, ids: ids}
	for i, p := range ps {
		k := p.key.text
		m.exact[k] = i
		if ids {
			if len(k) >= 15 {
				m.fold[k[:15]] = i
			}
			continue
		}
		m.fold[strings.ToLower(k)] = i
		if n := numericKey(k); n != "" {
			m.num[n] = i
		}
	}
	return m
}

func (m *rowMatcher) match(key string) (int, bool) {
	if i, ok := m.exact[key]; ok {
		return i, true
	}
	if m.ids {
		if len(key) >= 15 {
			i, ok := m.fold[key[:15]]
			return i, ok
		}
		return 0, false
	}
	if i, ok := m.fold[strings.ToLower(key)]; ok {
		return i, true
	}
	if n := numericKey(key); n != "" {
		i, ok := m.num[n]
		return i, ok
	}
	return 0, false
}
