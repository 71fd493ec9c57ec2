package sfemu_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// BenchmarkCollectionsUpsert200 drives sObject Collections upserts of 200
// Contacts (with a parent lookup by external ID) over loopback HTTP, half
// of each request inserting and half updating. It reports records/s: the
// emulator must sustain at least 20,000 (issue 3) so it is never the
// bottleneck of sfbridge's own benchmarks.
func BenchmarkCollectionsUpsert200(b *testing.B) {
	e := sfemu.New(sfemu.Options{})
	srv := httptest.NewServer(e)
	defer srv.Close()
	token := e.Org().NewSession("", -1).Token
	e.Org().Apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Account", Rows: []sfemu.Row{{Fields: map[string]any{"Name": "Acme", "Org_Id__c": "A-1"}}}})
	url := srv.URL + "/services/data/v62.0/composite/sobjects/Contact/Counselor_Id__c"
	client := srv.Client()
	body := func(n int) []byte {
		recs := make([]map[string]any, 200)
		for i := range recs {
			key := n*100 + i // each request updates the last request's second half
			recs[i] = map[string]any{
				"attributes": map[string]any{"type": "Contact"}, "Counselor_Id__c": fmt.Sprintf("K-%08d", key),
				"FirstName": "Ann", "LastName": fmt.Sprintf("Smith %d", n), "Email": fmt.Sprintf("k%d@example.org", key),
				"Hours_Available__c": 12.5, "Last_Active_At__c": "2025-01-15T10:00:00Z", "Account": map[string]any{"Org_Id__c": "A-1"},
			}
		}
		out, _ := json.Marshal(map[string]any{"allOrNone": false, "records": recs})
		return out
	}
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = body(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("PATCH", url, bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*200)/b.Elapsed().Seconds(), "records/s")
}
