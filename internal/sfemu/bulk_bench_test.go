package sfemu_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

// BenchmarkBulkIngest50k upserts 50,000 Contacts (with a lookup to their
// Account by external ID) through one Bulk 2.0 job over loopback HTTP,
// from job creation to JobComplete.
func BenchmarkBulkIngest50k(b *testing.B) {
	const n = 50000
	s := sfemutest.Start(b, sfemu.Options{})
	s.Org().Apply(&sfemu.DML{Op: sfemu.OpInsert, Object: "Account", Rows: []sfemu.Row{{Fields: map[string]any{"Name": "Acme", "Org_Id__c": "A-1"}}}})
	var sb strings.Builder
	sb.WriteString("Counselor_Id__c,FirstName,LastName,Email,Account.Org_Id__c,Hours_Available__c\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "C-%06d,First %d,\"Last, %d\",c%d@example.com,A-1,%d.5\n", i, i, i, i, i%1000)
	}
	data := sb.String()
	h := http.Header{"Authorization": {"Bearer " + s.Token}, "Content-Type": {"text/csv"}}
	records := 0
	for b.Loop() {
		r := s.Do(b, http.MethodPost, bulkV+"/jobs/ingest", map[string]any{"object": "Contact", "operation": "upsert", "externalIdFieldName": "Counselor_Id__c"})
		var job map[string]any
		r.JSON(b, &job)
		id := job["id"].(string)
		if r := s.DoWith(b, http.MethodPut, bulkV+"/jobs/ingest/"+id+"/batches", data, h); r.Status != http.StatusCreated {
			b.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		s.Do(b, http.MethodPatch, bulkV+"/jobs/ingest/"+id, map[string]any{"state": "UploadComplete"})
		deadline := time.Now().Add(time.Minute)
		for {
			s.Do(b, http.MethodGet, bulkV+"/jobs/ingest/"+id, nil).JSON(b, &job)
			if job["state"] == "JobComplete" {
				break
			}
			if job["state"] == "Failed" || time.Now().After(deadline) {
				b.Fatalf("job %v", job)
			}
			time.Sleep(5 * time.Millisecond) // poll interval, as a client would
		}
		if fmt.Sprint(job["numberRecordsFailed"]) != "0" {
			b.Fatalf("failed rows: %v", job)
		}
		records += n
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
