package source_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/source"
)

func TestSubject(t *testing.T) {
	t.Parallel()
	tests := []struct{ source, collection, want string }{
		{"platform_db", "public.counselors", "in.platform_db.public.counselors"},
		{"db", "public.My Table", "in.db.public.My%20Table"},
		{"db", "weird.a*b>c%d", "in.db.weird.a%2Ab%3Ec%25d"},
		{"db", "sales.Été", "in.db.sales.Été"},
		{"events", "active_rescue", "in.events.active_rescue"},
		{"db", "public.", "in.db.public.%"},
	}
	for _, tt := range tests {
		got := source.Subject(tt.source, tt.collection)
		require.Equal(t, tt.want, got)
		require.NoError(t, queue.CheckSubject(queue.InRoot, got), got)
	}
	require.Equal(t, "a%2Eb", source.SubjectToken("a.b"))
	require.NotEqual(t, source.SubjectToken("%"), source.SubjectToken(""), "injective")
}

// triggers records what it was asked.
type triggers struct {
	mu     sync.Mutex
	asked  []string
	known  []string
	failed error
}

func (tr *triggers) Trigger(collection string) ([]string, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.failed != nil {
		return nil, tr.failed
	}
	tr.asked = append(tr.asked, collection)
	if collection == "" {
		return tr.known, nil
	}
	for _, k := range tr.known {
		if k == collection {
			return []string{k}, nil
		}
	}
	return nil, fmt.Errorf("%w %q", source.ErrUnknownCollection, collection)
}

func TestTriggerHandler(t *testing.T) {
	t.Parallel()
	db := &triggers{known: []string{"public.a", "public.b"}}
	stopped := &triggers{failed: fmt.Errorf("pgpoll: source old: %w", source.ErrNotRunning)}
	lookup := func(name string) (source.Triggerer, bool) {
		switch name {
		case "db":
			return db, true
		case "old":
			return stopped, true
		}
		return nil, false
	}
	srv := httptest.NewServer(source.NewTriggerHandler("tok3n", lookup))
	t.Cleanup(srv.Close)
	open := httptest.NewServer(source.NewTriggerHandler("", lookup))
	t.Cleanup(open.Close)

	do := func(base, method, path, auth string) (int, string, http.Header) {
		req, err := http.NewRequest(method, base+path, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, strings.TrimSpace(string(body)), resp.Header
	}
	tests := []struct {
		name         string
		base         string
		method, path string
		auth         string
		code         int
		body         string
	}{
		{"no token", srv.URL, "POST", "/v1/sources/db/trigger", "", 401, `{"error":"missing or wrong bearer token (admin.token)"}`},
		{"wrong token", srv.URL, "POST", "/v1/sources/db/trigger", "Bearer tok3N", 401, ""},
		{"token prefix", srv.URL, "POST", "/v1/sources/db/trigger", "Bearer tok3", 401, ""},
		{"token not bearer", srv.URL, "POST", "/v1/sources/db/trigger", "tok3n", 401, ""},
		{"basic auth", srv.URL, "POST", "/v1/sources/db/trigger", "Basic dG9rM246", 401, ""},
		{"401 before 404", srv.URL, "POST", "/v1/sources/nope/trigger", "", 401, ""},
		{"all tables", srv.URL, "POST", "/v1/sources/db/trigger", "Bearer tok3n", 202, `{"source":"db","collections":["public.a","public.b"]}`},
		{"one table", srv.URL, "POST", "/v1/sources/db/trigger?table=public.b", "Bearer tok3n", 202, `{"source":"db","collections":["public.b"]}`},
		{"unknown table", srv.URL, "POST", "/v1/sources/db/trigger?table=public.z", "Bearer tok3n", 404, `{"error":"source db: unknown collection \"public.z\""}`},
		{"unknown source", srv.URL, "POST", "/v1/sources/nope/trigger", "Bearer tok3n", 404, `{"error":"no source \"nope\" can be triggered (postgres_poll, files and s3 sources can; http sources cannot)"}`},
		{"not running", srv.URL, "POST", "/v1/sources/old/trigger", "Bearer tok3n", 503, `{"error":"source old: pgpoll: source old: source not running"}`},
		{"GET", srv.URL, "GET", "/v1/sources/db/trigger", "Bearer tok3n", 405, ""},
		{"no token configured", open.URL, "POST", "/v1/sources/db/trigger", "", 202, `{"source":"db","collections":["public.a","public.b"]}`},
	}
	for _, tt := range tests {
		code, body, h := do(tt.base, tt.method, tt.path, tt.auth)
		require.Equal(t, tt.code, code, "%s: %s", tt.name, body)
		if tt.body != "" {
			require.Equal(t, tt.body, body, tt.name)
		}
		if code == 401 {
			require.Equal(t, `Bearer realm="sfbridge"`, h.Get("WWW-Authenticate"), tt.name)
		}
	}
	require.Equal(t, []string{"", "public.b", "public.z", ""}, db.asked, "only authorized requests reached the source")
	require.Equal(t, "/v1/sources/my-db/trigger", source.TriggerPath("my-db"))
}
