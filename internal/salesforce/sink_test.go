package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// collectionsEcho answers Collections upserts with one success per record
// and counts calls and records.
type collectionsEcho struct {
	calls, records atomic.Int64
	// lockOnce fails these keys with UNABLE_TO_LOCK_ROW the first time.
	mu       sync.Mutex
	lockOnce map[string]bool
	seen     []string // keys in arrival order
}

func (e *collectionsEcho) serve(w http.ResponseWriter, r *http.Request) {
	var body collectionRequest
	_ = json.NewDecoder(r.Body).Decode(&body)
	e.calls.Add(1)
	e.records.Add(int64(len(body.Records)))
	var out []string
	e.mu.Lock()
	for _, rec := range body.Records {
		k := fmt.Sprint(rec["Ext__c"])
		e.seen = append(e.seen, k)
		if e.lockOnce[k] {
			delete(e.lockOnce, k)
			out = append(out, `{"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}]}`)
			continue
		}
		out = append(out, `{"id":"003xx0000000001AAA","success":true,"errors":[],"created":true}`)
	}
	e.mu.Unlock()
	writeJSON(w, 200, "["+strings.Join(out, ",")+"]")
}

func TestNewSinkValidates(t *testing.T) {
	t.Parallel()
	c := staticClient(t, newFakeSF(t), nil)
	_, err := NewSink(c, SinkConfig{CollectionSize: 201, BulkThreshold: -1})
	require.ErrorContains(t, err, "collection_size")
	require.ErrorContains(t, err, "bulk_threshold")
	s, err := NewSink(c, SinkConfig{})
	require.NoError(t, err)
	require.Equal(t, SinkConfig{BulkThreshold: DefaultBulkThreshold, CollectionSize: CollectionLimit}, s.cfg)
	require.Same(t, c, s.Client())
	_, err = s.Write(context.Background(), "Bad Object", "Ext__c", nil)
	require.Error(t, err)
}

func TestSinkSmallBatchUsesCollections(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	var e collectionsEcho
	f.setData(e.serve)
	c := staticClient(t, f, nil)
	s, err := NewSink(c, SinkConfig{})
	require.NoError(t, err)
	rows := make([]map[string]any, 1999)
	for i := range rows {
		rows[i] = map[string]any{"Ext__c": fmt.Sprintf("K%d", i), "LastName": "x"}
	}
	res, err := s.Write(context.Background(), "Contact", "Ext__c", rows)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	require.Equal(t, int64(10), e.calls.Load(), "⌈1999/200⌉ calls")
	require.Equal(t, int64(1999), e.records.Load())
	require.LessOrEqual(t, float64(c.Requests())/1999*1000, 5.1, "about 5 API calls per 1,000 records")
}

func TestSinkLargeBatchUsesBulk(t *testing.T) {
	t.Parallel()
	b := newFakeBulk(t)
	c := bulkClient(t, b, nil)
	s, err := NewSink(c, SinkConfig{BulkThreshold: 50})
	require.NoError(t, err)
	rows := make([]map[string]any, 50)
	for i := range rows {
		rows[i] = map[string]any{"Ext__c": fmt.Sprintf("K%d", i)}
	}
	res, err := s.Write(context.Background(), "Contact", "Ext__c", rows)
	require.NoError(t, err)
	require.Len(t, b.uploads(), 1)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
}

func TestSinkRetriesLockedRowsOnce(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	e := collectionsEcho{lockOnce: map[string]bool{"K1": true, "K3": true}}
	f.setData(e.serve)
	c := staticClient(t, f, nil)
	s, err := NewSink(c, SinkConfig{})
	require.NoError(t, err)
	rows := []map[string]any{{"Ext__c": "K0"}, {"Ext__c": "K1"}, {"Ext__c": "K2"}, {"Ext__c": "K3"}, {"Ext__c": "K1", "Name": "newer"}}
	res, err := s.Write(context.Background(), "Contact", "Ext__c", rows)
	require.NoError(t, err)
	for i, r := range res {
		require.NoError(t, r.Err, "row %d", i)
	}
	// Wave 1 (K0 K1 K2 K3), its lock retry (K1 K3), then wave 2 (the newer K1).
	require.Equal(t, []string{"K0", "K1", "K2", "K3", "K1", "K3", "K1"}, e.seen)

	// With retries off, the lock error is reported.
	e.lockOnce = map[string]bool{"K9": true}
	s2, err := NewSink(c, SinkConfig{NoLockRetry: true})
	require.NoError(t, err)
	res, err = s2.Write(context.Background(), "Contact", "Ext__c", []map[string]any{{"Ext__c": "K9"}})
	require.NoError(t, err)
	require.True(t, isLockError(res[0].Err))
}

func TestSinkRequestLevelFailureReachesEveryRow(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
	})
	c := staticClient(t, f, nil)
	s, err := NewSink(c, SinkConfig{CollectionSize: 2})
	require.NoError(t, err)
	res, err := s.Write(context.Background(), "Contact", "Ext__c", []map[string]any{{"Ext__c": "a"}, {"Ext__c": "b"}, {"Ext__c": "c"}})
	require.NoError(t, err)
	for _, r := range res {
		require.Error(t, r.Err)
		require.False(t, IsRecordError(r.Err), "an outage is not a record's fault")
		require.Equal(t, ClassRetry, Classify(r.Err).Class)
	}
}

func TestSinkDeleteByExternalID(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	var queries []string
	var deleted []string
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/sobjects/Contact/describe"):
			writeJSON(w, 200, `{"name":"Contact","fields":[{"name":"Id","type":"id"},{"name":"Ext__c","type":"string","externalId":true,"caseSensitive":false}]}`)
		case strings.HasSuffix(r.URL.Path, "/query"):
			q := r.URL.Query().Get("q")
			queries = append(queries, q)
			writeJSON(w, 200, `{"totalSize":3,"done":true,"records":[
				{"attributes":{"type":"Contact"},"Id":"003xx0000000001AAA","Ext__c":"A"},
				{"attributes":{"type":"Contact"},"Id":"003xx0000000002AAA","Ext__c":"o'b"},
				{"attributes":{"type":"Contact"},"Id":"003xx0000000003AAA","Ext__c":"gone"}]}`)
		case r.Method == http.MethodDelete:
			deleted = append(deleted, r.URL.Query().Get("ids"))
			writeJSON(w, 200, `[{"id":"003xx0000000001AAA","success":true,"errors":[]},
				{"success":false,"errors":[{"statusCode":"INSUFFICIENT_ACCESS_OR_READONLY","message":"insufficient access rights on object id","fields":[]}]},
				{"success":false,"errors":[{"statusCode":"ENTITY_IS_DELETED","message":"entity is deleted","fields":[]}]}]`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	})
	c := staticClient(t, f, nil)
	s, err := NewSink(c, SinkConfig{})
	require.NoError(t, err)
	res, err := s.Delete(context.Background(), "Contact", "Ext__c", []any{"a", "O'B", "none", "GONE", nil, "A"})
	require.NoError(t, err)
	require.Equal(t, []string{`SELECT Id, Ext__c FROM Contact WHERE Ext__c IN ('a', 'O\'B', 'none', 'GONE')`}, queries)
	require.Equal(t, []string{"003xx0000000001AAA,003xx0000000002AAA,003xx0000000003AAA"}, deleted)
	require.Equal(t, Result{ID: "003xx0000000001AAA"}, res[0])
	require.Equal(t, ClassPermanent, Classify(res[1].Err).Class)
	require.Equal(t, Result{}, res[2], "no record: nothing to delete")
	require.Equal(t, Result{ID: "003xx0000000003AAA"}, res[3], "already deleted counts as deleted")
	require.ErrorContains(t, res[4].Err, "not text or a number")
	require.Equal(t, res[0], res[5], "the same key twice shares one delete")
}

func TestDeleteByExternalIDSplitsLongQueries(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	var queries []string
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/describe"):
			writeJSON(w, 200, `{"name":"Account","fields":[{"name":"Num__c","type":"double","externalId":true}]}`)
		case strings.HasSuffix(r.URL.Path, "/query"):
			queries = append(queries, r.URL.Query().Get("q"))
			require.Less(t, len(r.URL.RequestURI()), 16384)
			writeJSON(w, 200, `{"totalSize":0,"done":true,"records":[]}`)
		}
	})
	c := staticClient(t, f, nil)
	keys := make([]any, 3000)
	for i := range keys {
		keys[i] = 1_000_000 + i
	}
	keys = append(keys, "x")
	res, err := c.DeleteByExternalID(context.Background(), "Account", "Num__c", keys)
	require.NoError(t, err)
	require.Greater(t, len(queries), 1)
	require.Contains(t, queries[0], "Num__c IN (1000000, 1000001")
	for _, r := range res[:3000] {
		require.NoError(t, r.Err)
	}
	require.ErrorContains(t, res[3000].Err, "is not a number")
}
