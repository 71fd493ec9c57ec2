package sfemu

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bulk API 2.0 (fact sheet §8): ingest jobs (bulk_ingest.go, processed
// asynchronously by bulk_process.go) and query jobs (bulk_query.go). Jobs
// live in a bulkStore per Emulator, outside the org's records, so
// Org.Reset keeps them; ResetBulkJobs forgets them.

// Bulk job states (fact sheet §8.4).
const (
	bulkOpen           = "Open"
	bulkUploadComplete = "UploadComplete"
	bulkInProgress     = "InProgress"
	bulkJobComplete    = "JobComplete"
	bulkFailed         = "Failed"
	bulkAborted        = "Aborted"
)

// Bulk error codes as they appear on the wire: upper case without
// underscores (fact sheet §8.8).
const (
	codeBulkInvalidJob      = "INVALIDJOB"
	codeBulkInvalidJobState = "INVALIDJOBSTATE"
	codeBulkInvalidEntity   = "INVALIDENTITY"
	codeBulkAPIError        = "API_ERROR"
	codeBulkClientInput     = "CLIENTINPUTERROR"
)

const (
	// bulkJobKeyPrefix is the key prefix of job Ids (fact sheet §8.1).
	bulkJobKeyPrefix = "750"
	// bulkListPage is how many jobs GET jobs/ingest returns per page (§8.6).
	bulkListPage = 1000
	// bulkRetention is how long a finished job is kept (§8.8: 7 days).
	bulkRetention = 7 * 24 * time.Hour
	// bulkMinIngestVersion and bulkMinQueryVersion are the first API
	// versions with Bulk 2.0 ingest (41.0) and query (47.0) jobs.
	bulkMinIngestVersion = 41
	bulkMinQueryVersion  = 47
)

// bulkJob is one ingest or query job. Fields after mu are guarded by it;
// the ones before are set at creation and never change.
type bulkJob struct {
	id         string
	seq        uint64
	query      bool // a query job (V2Query), else ingest (V2Ingest)
	object     string
	operation  string // insert, update, upsert, delete, hardDelete; query, queryAll
	extID      string
	ruleID     string
	delimName  string
	lineEnding string
	format     bulkCSVFormat
	apiVersion string // "66.0"
	createdBy  string
	created    time.Time
	soql       string

	mu         sync.Mutex
	state      string
	modstamp   time.Time
	errMsg     string
	uploads    int
	data       []byte // the upload, BOM removed
	processed  int
	failed     int
	totalTime  time.Duration
	activeTime time.Duration
	ingest     *bulkIngestResults // set once processing has read the upload
	result     *bulkQueryResult   // a query job's rows once complete
	abortCh    chan struct{}      // closed on abort
	done       chan struct{}      // closed when the processor has stopped; nil if none ran
}

// bulkTerminal reports whether the job can no longer change.
func bulkTerminal(state string) bool {
	return state == bulkJobComplete || state == bulkFailed || state == bulkAborted
}

// setState moves the job to state; callers hold j.mu.
func (j *bulkJob) setState(state string, now time.Time) {
	j.state, j.modstamp = state, now
}

// abort marks the job aborted and tells its processor to stop at the next
// chunk; callers hold j.mu.
func (j *bulkJob) abort(now time.Time) {
	j.setState(bulkAborted, now)
	select {
	case <-j.abortCh:
	default:
		close(j.abortCh)
	}
}

// wait blocks until the job's processor, if any, has stopped.
func (j *bulkJob) wait() {
	j.mu.Lock()
	done := j.done
	j.mu.Unlock()
	if done != nil {
		<-done
	}
}

// bulkLatency is added to every chunk a processor writes (faults).
type bulkLatency struct {
	perChunk, perRecord time.Duration
}

// bulkStore holds the jobs of one emulator. It must not refer to the
// Emulator itself (see bulkStores).
type bulkStore struct {
	org *Org
	now func() time.Time

	mu      sync.Mutex
	jobs    map[string]*bulkJob
	seq     uint64
	latency bulkLatency
}

func newBulkStore(org *Org) *bulkStore {
	return &bulkStore{org: org, now: org.Now, jobs: map[string]*bulkJob{}}
}

func init() {
	extend(func(e *Emulator) {
		e.bulkJobs = newBulkStore(e.Org())
		e.bulkJobs.register(e)
	})
}

func (e *Emulator) bulk() *bulkStore { return e.bulkJobs }

// SetBulkLatency makes Bulk 2.0 ingest processing take perChunk plus
// perRecord per record for every chunk of up to 200 rows it writes (a
// latency fault); zero values remove the delay. Jobs already running pick
// the new values up at their next chunk.
func (e *Emulator) SetBulkLatency(perChunk, perRecord time.Duration) {
	b := e.bulk()
	b.mu.Lock()
	b.latency = bulkLatency{perChunk, perRecord}
	b.mu.Unlock()
}

// ResetBulkJobs forgets every Bulk 2.0 job; running ones are aborted.
func (e *Emulator) ResetBulkJobs() {
	b := e.bulk()
	b.mu.Lock()
	jobs := b.jobs
	b.jobs = map[string]*bulkJob{}
	b.mu.Unlock()
	now := b.now()
	for _, j := range jobs {
		j.mu.Lock()
		if !bulkTerminal(j.state) {
			j.abort(now)
		}
		j.mu.Unlock()
	}
}

func (b *bulkStore) register(e *Emulator) {
	const d = "/services/data/{version}/jobs"
	e.handle("POST "+d+"/ingest", "bulk.ingest.create", accessAPI, b.ingestCreate)
	e.handle("GET "+d+"/ingest", "bulk.ingest.list", accessAPI, b.ingestList)
	e.handle("GET "+d+"/ingest/{id}", "bulk.ingest.info", accessAPI, b.ingestInfo)
	e.handle("PATCH "+d+"/ingest/{id}", "bulk.ingest.state", accessAPI, b.ingestPatch)
	e.handle("DELETE "+d+"/ingest/{id}", "bulk.ingest.delete", accessAPI, b.ingestDelete)
	e.handle("PUT "+d+"/ingest/{id}/batches", "bulk.ingest.upload", accessAPI, b.ingestUpload)
	e.handle("GET "+d+"/ingest/{id}/successfulResults", "bulk.ingest.results", accessAPI, b.resultsHandler(bulkResultSuccessful))
	e.handle("GET "+d+"/ingest/{id}/failedResults", "bulk.ingest.results", accessAPI, b.resultsHandler(bulkResultFailed))
	e.handle("GET "+d+"/ingest/{id}/unprocessedrecords", "bulk.ingest.results", accessAPI, b.resultsHandler(bulkResultUnprocessed))
	e.handle("GET "+d+"/ingest/{id}/unprocessedRecords", "bulk.ingest.results", accessAPI, b.resultsHandler(bulkResultUnprocessed))

	e.handle("POST "+d+"/query", "bulk.query.create", accessAPI, b.queryCreate)
	e.handle("GET "+d+"/query", "bulk.query.list", accessAPI, b.queryList)
	e.handle("GET "+d+"/query/{id}", "bulk.query.info", accessAPI, b.queryInfo)
	e.handle("PATCH "+d+"/query/{id}", "bulk.query.state", accessAPI, b.queryPatch)
	e.handle("DELETE "+d+"/query/{id}", "bulk.query.delete", accessAPI, b.queryDelete)
	e.handle("GET "+d+"/query/{id}/results", "bulk.query.results", accessAPI, b.queryResults)
}

// bulkVersionAtLeast answers 404 NOT_FOUND when the call's API version is
// older than min (the resource does not exist there).
func bulkVersionAtLeast(c *Call, min int) bool {
	major, _ := strconv.Atoi(strings.TrimSuffix(c.Version, ".0"))
	if major < min {
		c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		return false
	}
	return true
}

// add stores a new job with a fresh Id and drops expired finished jobs.
func (b *bulkStore) add(j *bulkJob) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked(j.created)
	for {
		// Org.Reset rewinds the Id sequence: never reuse a live job's Id.
		j.id = b.org.NewID(bulkJobKeyPrefix)
		if b.jobs[j.id] == nil {
			break
		}
	}
	b.seq++
	j.seq = b.seq
	b.jobs[j.id] = j
}

// expireLocked forgets finished jobs older than bulkRetention.
func (b *bulkStore) expireLocked(now time.Time) {
	for id, j := range b.jobs {
		j.mu.Lock()
		old := bulkTerminal(j.state) && now.Sub(j.modstamp) > bulkRetention
		j.mu.Unlock()
		if old {
			delete(b.jobs, id)
		}
	}
}

// job finds the job named by the {id} path value, of the given kind; it
// answers 404 NOT_FOUND when there is none.
func (b *bulkStore) job(c *Call, query bool) *bulkJob {
	minVersion := bulkMinIngestVersion
	if query {
		minVersion = bulkMinQueryVersion
	}
	if !bulkVersionAtLeast(c, minVersion) {
		return nil
	}
	id, ok := NormalizeID(c.Req.PathValue("id"))
	var j *bulkJob
	if ok {
		b.mu.Lock()
		j = b.jobs[id]
		b.mu.Unlock()
	}
	if j == nil || j.query != query {
		c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		return nil
	}
	return j
}

func (b *bulkStore) remove(j *bulkJob) {
	b.mu.Lock()
	if b.jobs[j.id] == j {
		delete(b.jobs, j.id)
	}
	b.mu.Unlock()
}

// info answers GET jobs/ingest/{id} and jobs/query/{id} with the job info.
func (b *bulkStore) info(c *Call, query bool) {
	j := b.job(c, query)
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if query {
		c.JSON(http.StatusOK, j.queryJSON(true))
		return
	}
	c.JSON(http.StatusOK, j.ingestJSON(c, true))
}

// statePatch finds the job of a PATCH jobs/ingest|query/{id} and reads
// the state its {"state": …} body asks for (other keys are ignored); when
// either fails it has answered and j is nil.
func (b *bulkStore) statePatch(c *Call, query bool) (j *bulkJob, state string) {
	if j = b.job(c, query); j == nil {
		return nil, ""
	}
	var body struct {
		State string `json:"state"`
	}
	if !c.DecodeJSON(&body) {
		return nil, ""
	}
	return j, body.State
}

// deleteJob answers DELETE jobs/ingest/{id} and jobs/query/{id}: 204 when
// bulkDeletable allows it in the job's state.
func (b *bulkStore) deleteJob(c *Call, query bool, extra string) {
	j := b.job(c, query)
	if j == nil || !bulkDeletable(c, j, b.now(), extra) {
		return
	}
	b.remove(j)
	c.NoContent()
}

// bulkDeletable reports whether j may be deleted in its state (the bulkTerminal
// states and extra); a job not yet processed is aborted first. Otherwise
// it answers 400 API_ERROR.
func bulkDeletable(c *Call, j *bulkJob, now time.Time, extra string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if bulkTerminal(j.state) {
		return true
	}
	if extra != "" && j.state == extra {
		j.abort(now)
		return true
	}
	c.Error(http.StatusBadRequest, codeBulkAPIError, fmt.Sprintf("Job %s can not be deleted in state %s", j.id, j.state))
	return false
}

// list answers GET jobs/ingest and jobs/query (fact sheet §8.6):
// {"done","records","nextRecordsUrl"}, 1000 jobs per page in creation
// order, filtered by jobType, paged by queryLocator.
func (b *bulkStore) list(c *Call, query bool, path string) {
	q := c.Req.URL.Query()
	jobType := q.Get("jobType")
	var from uint64
	if loc := q.Get("queryLocator"); loc != "" {
		n, err := strconv.ParseUint(loc, 36, 64)
		if err != nil {
			c.Error(http.StatusBadRequest, CodeInvalidQueryLocator, "invalid query locator")
			return
		}
		from = n
	}
	b.mu.Lock()
	b.expireLocked(b.now())
	var jobs []*bulkJob
	for _, j := range b.jobs {
		if j.query == query && j.seq >= from && (jobType == "" || jobType == j.jobType()) {
			jobs = append(jobs, j)
		}
	}
	b.mu.Unlock()
	sort.Slice(jobs, func(x, y int) bool { return jobs[x].seq < jobs[y].seq })
	var next any
	if len(jobs) > bulkListPage {
		u := c.DataPath(path) + "?queryLocator=" + strconv.FormatUint(jobs[bulkListPage].seq, 36)
		if jobType != "" {
			u += "&jobType=" + jobType
		}
		next = u
		jobs = jobs[:bulkListPage]
	}
	recs := make([]orderedMap, len(jobs))
	for i, j := range jobs {
		recs[i] = j.listJSON(c)
	}
	c.JSON(http.StatusOK, orderedMap{{"done", next == nil}, {"records", recs}, {"nextRecordsUrl", next}})
}

func (j *bulkJob) jobType() string {
	if j.query {
		return "V2Query"
	}
	return "V2Ingest"
}
