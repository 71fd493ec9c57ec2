package salesforce

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
)

// LimitValue is one entry of the limits resource.
type LimitValue struct {
	Max       int64 `json:"Max"`
	Remaining int64 `json:"Remaining"`
}

// Limits returns the org's limits (GET /limits), e.g. "DailyApiRequests".
// The daily API entry also refreshes Usage.
func (c *Client) Limits(ctx context.Context) (map[string]LimitValue, error) {
	out := map[string]LimitValue{}
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/limits"}, nil, &out); err != nil {
		return nil, err
	}
	if d, ok := out["DailyApiRequests"]; ok {
		c.budget.set(d.Max-d.Remaining, d.Max)
	}
	return out, nil
}

// QueryPage is one page of a SOQL query result. Records keep Salesforce's
// shape (an "attributes" entry, relationship fields as nested maps, numbers
// as json.Number).
type QueryPage struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// Query runs soql and returns its first page.
func (c *Client) Query(ctx context.Context, soql string) (*QueryPage, error) {
	if strings.TrimSpace(soql) == "" {
		return nil, fmt.Errorf("salesforce: query: empty SOQL")
	}
	var p QueryPage
	r := request{method: http.MethodGet, path: "/query", query: url.Values{"q": {soql}}}
	if err := c.doJSON(ctx, r, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// QueryMore fetches the page at next, a nextRecordsUrl of a previous page.
func (c *Client) QueryMore(ctx context.Context, next string) (*QueryPage, error) {
	if !strings.HasPrefix(next, "/services/data/") || strings.ContainsAny(next, "?#") {
		return nil, fmt.Errorf("salesforce: query: %q is not a nextRecordsUrl", next)
	}
	var p QueryPage
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: next}, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// QueryEach yields every record of soql, following nextRecordsUrl page by
// page. It stops at the first error, which it yields.
func (c *Client) QueryEach(ctx context.Context, soql string) iter.Seq2[map[string]any, error] {
	return func(yield func(map[string]any, error) bool) {
		p, err := c.Query(ctx, soql)
		for {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, rec := range p.Records {
				if !yield(rec, nil) {
					return
				}
			}
			if p.Done || p.NextRecordsURL == "" {
				return
			}
			p, err = c.QueryMore(ctx, p.NextRecordsURL)
		}
	}
}

// soqlString quotes s as a SOQL string literal.
func soqlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}
