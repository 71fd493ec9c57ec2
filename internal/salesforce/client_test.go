package salesforce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
)

func TestUsageFromEveryResponse(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	f.used.Store(41)
	c := staticClient(t, f, nil)
	require.Zero(t, c.Usage().Max, "unknown before the first response")
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`)
	})
	_, err := c.DescribeGlobal(context.Background())
	require.Error(t, err)
	require.Equal(t, ClassFatal, Classify(err).Class, "404 NOT_FOUND at request level is configuration")
	u := c.Usage()
	require.Equal(t, []int64{42, 100000, 99958}, []int64{u.Used, u.Max, u.Remaining()}, "error responses carry the header too")
	require.Equal(t, int64(1), c.Requests())
}

func TestHTML503(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(503)
		_, _ = io.WriteString(w, `<html><head><title>Salesforce is down for maintenance</title></head><body><p>We'll be back.</p>`+strings.Repeat("<p>filler</p>", 500)+`</body></html>`)
	})
	_, err := c.Limits(context.Background())
	require.Error(t, err)
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, 503, apiErr.HTTPStatus)
	require.Empty(t, apiErr.Code)
	require.Contains(t, apiErr.Message, "Salesforce is down for maintenance")
	require.Less(t, len(err.Error()), 400, "the page is truncated")
	require.Equal(t, ClassRetry, Classify(err).Class)
	require.Equal(t, failure.KindRetryable, failure.KindOf(err))
	require.False(t, IsRecordError(err))
}

func TestRequestLevelLockError(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, `[{"message":"unable to obtain exclusive access to this record or 1 records: 001xx000003DGb2AAG","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`)
	})
	_, err := c.UpsertCollection(context.Background(), "Contact", "Ext__c", []map[string]any{{"Ext__c": "a"}})
	require.Error(t, err)
	require.Equal(t, ClassRetry, Classify(err).Class)
	require.Contains(t, err.Error(), "PATCH /composite/sobjects/Contact/Ext__c: HTTP 400 UNABLE_TO_LOCK_ROW")
}

// TestDailyLimit: Salesforce refuses a call for the daily limit; the client
// stops spending (calls fail fast, without a request) until the wait has
// passed, then one probe learns whether usage recovered.
func TestDailyLimit(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	clock := newFakeClock()
	c := staticClient(t, f, func(cfg *Config) { cfg.Now = clock.Now; cfg.BudgetWait = time.Hour })
	var refuse atomic.Bool
	refuse.Store(true)
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.Header().Set("Sforce-Limit-Info", "api-usage=100000/100000")
			writeJSON(w, 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`)
			return
		}
		writeJSON(w, 200, `{}`)
	})
	_, err := c.Limits(context.Background())
	require.Error(t, err)
	v := Classify(err)
	require.Equal(t, Verdict{Class: ClassThrottle, Limit: LimitDaily, Wait: time.Hour}, v)
	d, ok := failure.RetryAfterOf(err)
	require.True(t, ok)
	require.Equal(t, time.Hour, d)

	before := c.Requests()
	_, err = c.Limits(context.Background())
	var be *BudgetError
	require.True(t, errors.As(err, &be), "fails fast: %v", err)
	require.True(t, be.Exhausted)
	require.Equal(t, time.Hour, be.Wait)
	require.Equal(t, before, c.Requests(), "nothing was sent")
	require.Equal(t, Verdict{Class: ClassThrottle, Limit: LimitDaily, Wait: time.Hour}, Classify(err))

	clock.Advance(time.Hour)
	refuse.Store(false)
	f.used.Store(50000)
	_, err = c.Limits(context.Background())
	require.NoError(t, err, "the probe goes through")
	_, err = c.Limits(context.Background())
	require.NoError(t, err, "usage recovered")
}

// TestAPIReserve: with api_reserve 20%, once fewer than 20% of the daily
// calls remain the client holds calls instead of spending them.
func TestAPIReserve(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	f.max.Store(1000)
	f.used.Store(795)
	var logs logBuffer
	clock := newFakeClock()
	c := staticClient(t, f, func(cfg *Config) { cfg.Logger = logs.logger(); cfg.Now = clock.Now })
	f.setData(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
	for range 5 {
		_, err := c.Limits(context.Background())
		require.NoError(t, err, "used %d", f.used.Load())
	}
	require.Equal(t, int64(800), c.Usage().Used)
	_, err := c.Limits(context.Background())
	require.NoError(t, err, "exactly at the reserve still spends")
	_, err = c.Limits(context.Background())
	var be *BudgetError
	require.True(t, errors.As(err, &be))
	require.Equal(t, BudgetError{Used: 801, Max: 1000, Reserve: DefaultAPIReserve, Wait: DefaultBudgetWait}, *be)
	require.Equal(t, int64(6), f.dataCalls.Load())
	require.Contains(t, logs.String(), "below the reserve")
}

// TestConcurrentLimit: 403 ConcurrentRequests halves the concurrency limit
// (once per burst) and is a short throttle, not a daily one.
func TestConcurrentLimit(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, func(cfg *Config) { cfg.MaxConcurrency = 8 })
	var throttle atomic.Bool
	throttle.Store(true)
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		if throttle.Load() {
			writeJSON(w, 403, `[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`)
			return
		}
		writeJSON(w, 200, `{}`)
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := c.Limits(context.Background())
			v := Classify(err)
			if v.Class != ClassThrottle || v.Limit != LimitConcurrent || v.Wait != DefaultThrottleWait {
				t.Errorf("verdict %+v for %v", v, err)
			}
		})
	}
	wg.Wait()
	limit, inflight := c.Concurrency()
	require.Less(t, limit, 8)
	require.GreaterOrEqual(t, limit, 1)
	require.Zero(t, inflight)

	// The budget is untouched: the next call goes out.
	throttle.Store(false)
	for range 100 {
		_, err := c.Limits(context.Background())
		require.NoError(t, err)
	}
	limit, _ = c.Concurrency()
	require.Equal(t, 8, limit, "grown back")
}

func TestDescribeCached(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	var calls atomic.Int64
	release := make(chan struct{})
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(r.URL.Path) {
		case "/services/data/v62.0/sobjects/contact/describe":
			calls.Add(1)
			<-release
			writeJSON(w, 200, `{"name":"Contact","keyPrefix":"003","createable":true,"fields":[
				{"name":"Id","type":"id","idLookup":true},
				{"name":"AccountId","type":"reference","referenceTo":["Account"],"relationshipName":"Account","nillable":true,"createable":true},
				{"name":"LastName","type":"string","length":80,"createable":true},
				{"name":"Ext__c","type":"string","externalId":true,"idLookup":true,"unique":true,"nillable":true}]}`)
		case "/services/data/v62.0/sobjects":
			writeJSON(w, 200, `{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[{"name":"Contact","keyPrefix":"003","queryable":true}]}`)
		default:
			writeJSON(w, 404, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`)
		}
	})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			d, err := c.Describe(context.Background(), "contact")
			if err != nil || d.Name != "Contact" {
				t.Errorf("describe: %v %v", d, err)
			}
		})
	}
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	d, err := c.Describe(context.Background(), "CONTACT")
	require.NoError(t, err)
	require.Equal(t, int64(1), calls.Load(), "one describe call for all callers")
	fld, ok := d.Field("ext__C")
	require.True(t, ok)
	require.True(t, fld.ExternalID)
	rel, ok := d.Relationship("account")
	require.True(t, ok)
	require.Equal(t, "AccountId", rel.Name)
	ln, _ := d.Field("LastName")
	require.True(t, ln.RequiredOnCreate())

	c.ForgetDescribe("Contact")
	_, err = c.Describe(context.Background(), "Contact")
	require.NoError(t, err)
	require.Equal(t, int64(2), calls.Load())

	_, err = c.Describe(context.Background(), "Nope__c")
	require.Error(t, err)
	require.Equal(t, ClassFatal, Classify(err).Class)

	g, err := c.DescribeGlobal(context.Background())
	require.NoError(t, err)
	require.Equal(t, "Contact", g.SObjects[0].Name)
}

func TestQueryPaging(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	var gotQ string
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/services/data/v62.0/query":
			gotQ = r.URL.Query().Get("q")
			writeJSON(w, 200, `{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gD0000002HU6KIAW-2","records":[
				{"attributes":{"type":"Contact"},"Id":"003A","Amount":1.50},{"attributes":{"type":"Contact"},"Id":"003B","Account":null}]}`)
		case "/services/data/v62.0/query/01gD0000002HU6KIAW-2":
			writeJSON(w, 200, `{"totalSize":3,"done":true,"records":[{"attributes":{"type":"Contact"},"Id":"003C","Account":{"Org_Id__c":"X"}}]}`)
		default:
			t.Errorf("unexpected %s", r.URL)
		}
	})
	var ids []string
	for rec, err := range c.QueryEach(context.Background(), "SELECT Id FROM Contact WHERE Name = 'a b+c'") {
		require.NoError(t, err)
		ids = append(ids, rec["Id"].(string))
	}
	require.Equal(t, []string{"003A", "003B", "003C"}, ids)
	require.Equal(t, "SELECT Id FROM Contact WHERE Name = 'a b+c'", gotQ)

	p, err := c.Query(context.Background(), "SELECT Id FROM Contact")
	require.NoError(t, err)
	require.Equal(t, "1.50", fmt.Sprint(p.Records[0]["Amount"]), "numbers keep their text")

	_, err = c.QueryMore(context.Background(), "https://evil.example.com/x")
	require.Error(t, err)
	_, err = c.Query(context.Background(), " ")
	require.Error(t, err)

	// Stopping early stops paging.
	before := c.Requests()
	for range c.QueryEach(context.Background(), "SELECT Id FROM Contact") {
		break
	}
	require.Equal(t, before+1, c.Requests())
}

func TestContextCancelWhileWaitingForSlot(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, func(cfg *Config) { cfg.MaxConcurrency = 1 })
	block, entered := make(chan struct{}), make(chan struct{})
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-block
		writeJSON(w, 200, `{}`)
	})
	done := make(chan error, 1)
	go func() { _, err := c.Limits(context.Background()); done <- err }()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Limits(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, ClassRetry, Classify(err).Class)
	close(block)
	require.NoError(t, <-done)
}
