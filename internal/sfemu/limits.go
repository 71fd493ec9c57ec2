package sfemu

import (
	"fmt"
	"net/http"
)

// SetAPILimit sets the daily API allocation (DailyApiRequests.Max).
func (o *Org) SetAPILimit(max int64) { o.apiMax.Store(max) }

// SetAPIUsage sets the daily API usage; once used reaches the limit every
// counted call answers 403 REQUEST_LIMIT_EXCEEDED.
func (o *Org) SetAPIUsage(used int64) { o.apiUsed.Store(used) }

// APIUsage returns the daily API usage and allocation.
func (o *Org) APIUsage() (used, max int64) { return o.apiUsed.Load(), o.apiMax.Load() }

// takeAPICall counts one call against the daily allocation, or reports
// false when the allocation is used up (the call is then not counted).
func (o *Org) takeAPICall() bool {
	for {
		used, max := o.apiUsed.Load(), o.apiMax.Load()
		if used >= max {
			return false
		}
		if o.apiUsed.CompareAndSwap(used, used+1) {
			return true
		}
	}
}

// limitInfo is the Sforce-Limit-Info header value (fact sheet §2.3).
func (o *Org) limitInfo() string {
	used, max := o.APIUsage()
	return fmt.Sprintf("api-usage=%d/%d", used, max)
}

type limitPair struct {
	Max       int64 `json:"Max"`
	Remaining int64 `json:"Remaining"`
}

// limits answers GET /limits (fact sheet §2.2). Only DailyApiRequests moves;
// the other allocations are those of a Developer Edition org.
func (e *Emulator) limits(c *Call) {
	used, max := e.org.APIUsage()
	rem := max - used
	if rem < 0 {
		rem = 0
	}
	fixed := func(n int64) limitPair { return limitPair{n, n} }
	c.JSON(http.StatusOK, orderedMap{
		{"ConcurrentAsyncGetReportInstances", fixed(200)},
		{"ConcurrentSyncReportRuns", fixed(20)},
		{"DailyApiRequests", limitPair{max, rem}},
		{"DailyAsyncApexExecutions", fixed(250000)},
		{"DailyBulkApiBatches", fixed(15000)},
		{"DailyBulkV2QueryFileStorageMB", fixed(976562)},
		{"DailyBulkV2QueryJobs", fixed(10000)},
		{"DailyStreamingApiEvents", fixed(10000)},
		{"DataStorageMB", limitPair{5, 5}},
		{"FileStorageMB", fixed(20)},
		{"HourlyODataCallout", fixed(10000)},
		{"SingleEmail", fixed(15)},
	})
}
