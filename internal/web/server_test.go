package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

type fakeProvider struct {
	status Status
	ready  error
}

func (f *fakeProvider) Status(context.Context) Status { return f.status }
func (f *fakeProvider) Ready() error                  { return f.ready }

const token = "t0ken-for-tests"

func setup(t *testing.T) (*httptest.Server, *fakeProvider) {
	t.Helper()
	p := &fakeProvider{status: Status{
		Version: "v-test", Started: time.Now(), Ready: true, Broker: "embedded",
		Salesforce: SalesforceStatus{APIUsed: 250, APIMax: 1000},
		Sources:    []SourceStatus{{Name: "platform_db", Type: "postgres_poll", State: "idle", Published: 42}},
		Syncs:      []SyncStatus{{Name: "<script>alert(1)</script>", Object: "Contact", State: "running", Delivered: 40, DeadLettered: 2, DLQ: 2}},
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "sfbridge_test_total", Help: "test"}))
	s, err := New(Options{
		Token: token, Provider: p, Gatherer: reg,
		Mounts: map[string]http.Handler{"/v1/extra/": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("extra"))
		})},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, p
}

func get(t *testing.T, c *http.Client, url, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestProbesNeedNoToken(t *testing.T) {
	t.Parallel()
	srv, p := setup(t)
	code, body := get(t, srv.Client(), srv.URL+"/healthz", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, _ = get(t, srv.Client(), srv.URL+"/readyz", "")
	require.Equal(t, http.StatusOK, code)
	p.ready = errors.New("broker not open")
	code, body = get(t, srv.Client(), srv.URL+"/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "broker not open")
}

func TestEverythingElseNeedsTheToken(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	for _, path := range []string{"/", "/v1/status", "/metrics", "/v1/extra/x"} {
		for _, bearer := range []string{"", "wrong", token + "x"} {
			code, body := get(t, srv.Client(), srv.URL+path, bearer)
			require.Equal(t, http.StatusUnauthorized, code, "%s with %q", path, bearer)
			require.NotContains(t, body, token)
		}
		code, _ := get(t, srv.Client(), srv.URL+path, token)
		require.Equal(t, http.StatusOK, code, path)
	}
}

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	code, body := get(t, srv.Client(), srv.URL+"/v1/status", token)
	require.Equal(t, http.StatusOK, code)
	var st Status
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Equal(t, uint64(40), st.Syncs[0].Delivered)
	require.Equal(t, "platform_db", st.Sources[0].Name)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	code, body := get(t, srv.Client(), srv.URL+"/metrics", token)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "sfbridge_test_total 0")
}

func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := srv.Client()
	c.Jar = jar

	code, _ := get(t, c, srv.URL+"/login?token=nope", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = get(t, c, srv.URL+"/", "")
	require.Equal(t, http.StatusUnauthorized, code)

	// The login sets a cookie and redirects to the dashboard.
	code, body := get(t, c, srv.URL+"/login?token="+token, "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<h1>sfbridge</h1>")
	// The page escapes what it shows and never carries the token or the cookie.
	require.NotContains(t, body, "<script>alert(1)</script>")
	require.Contains(t, body, "&lt;script&gt;")
	require.NotContains(t, body, token)
	require.Contains(t, body, "25.0%")
	for _, ck := range jar.Cookies(mustURL(t, srv.URL)) {
		require.NotContains(t, ck.Value, token)
	}
}

func TestGeneratedTokenAndLifecycle(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Listen: "127.0.0.1:0", Provider: &fakeProvider{}})
	require.NoError(t, err)
	require.Len(t, s.Token(), 48)
	require.NoError(t, s.Start())
	require.True(t, strings.HasPrefix(s.DashboardURL(), "http://127.0.0.1:"))
	code, _ := get(t, http.DefaultClient, "http://"+s.Addr()+"/v1/status", s.Token())
	require.Equal(t, http.StatusOK, code)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))

	_, err = New(Options{})
	require.ErrorContains(t, err, "Provider")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}
