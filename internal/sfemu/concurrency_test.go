package sfemu_test

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConcurrentClients runs writers, readers and Composite transactions at
// once (run with -race): every upsert lands exactly once and every query
// sees a consistent count.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	s := setup(t)
	create(t, s, "Account", obj{"Name": "Acme", "Org_Id__c": "A-1"})
	const writers, batches = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				var records []obj
				for i := 0; i < 50; i++ {
					records = append(records, rec("Contact", obj{"LastName": "L", "Counselor_Id__c": fmt.Sprintf("%d-%d", w, i), "Account": obj{"Org_Id__c": "A-1"}}))
				}
				r := s.Do(t, "PATCH", v+"/composite/sobjects/Contact/Counselor_Id__c", obj{"records": records})
				if r.Status != 200 {
					errs <- fmt.Errorf("upsert: %d %s", r.Status, r.Body)
				}
				r = s.Do(t, "POST", v+"/composite", obj{"allOrNone": true, "compositeRequest": []obj{
					sub("POST", v+"/sobjects/Case", "c", obj{"Subject": fmt.Sprint(w, b)}),
					sub("POST", v+"/sobjects/Task", "t", obj{"WhatId": "@{c.id}"}),
				}})
				if r.Status != 200 {
					errs <- fmt.Errorf("composite: %d %s", r.Status, r.Body)
				}
			}
		}(w)
	}
	for rd := 0; rd < 2; rd++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				r := s.Do(t, "GET", v+"/query?q="+url.QueryEscape("SELECT Id, Account.Name FROM Contact WHERE Account.Org_Id__c = 'A-1'"), nil)
				if r.Status != 200 {
					errs <- fmt.Errorf("query: %d %s", r.Status, r.Body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	counts := s.Org().ObjectCounts()
	require.Equal(t, writers*50, counts["Contact"], "each key upserted once, then updated")
	require.Equal(t, writers*batches, counts["Case"])
	require.Equal(t, writers*batches, counts["Task"])
	written := s.Org().Counters().Written["Contact"]
	require.Equal(t, int64(writers*50), written["insert"])
	require.Equal(t, int64(writers*50*(batches-1)), written["update"])
}
