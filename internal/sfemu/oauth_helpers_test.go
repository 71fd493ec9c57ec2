package sfemu_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// The -update flag rewrites authGolden files; another test file of this
// package may define it first.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite authGolden files under testdata/")
	}
}

// authGolden compares got with testdata/<name>; JSON is compared indented with
// its member order kept.
func authGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	if json.Valid(got) {
		var buf bytes.Buffer
		require.NoError(t, json.Indent(&buf, got, "", "  "))
		buf.WriteByte('\n')
		got = buf.Bytes()
	}
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test -run %s -update", t.Name())
	require.Equal(t, string(want), string(got), "response differs from %s", path)
}

// authHost is the host of in-process requests: the instance URL is
// http://emulator.test.
const (
	authHost = "emulator.test"
	authURL  = "http://" + authHost
	authV    = "/services/data/v66.0"
)

// fakeClock is a settable fakeClock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newAuthEmu builds an emulator with a fixed seed and fakeClock.
func newAuthEmu(t *testing.T, opts sfemu.Options) (*sfemu.Emulator, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	return sfemu.New(opts), clk
}

type authResp struct {
	Status int
	Header http.Header
	Body   string
}

// authServe sends one request through the handler in process.
func authServe(e http.Handler, method, target string, body io.Reader, h http.Header) authResp {
	req := httptest.NewRequest(method, target, body)
	req.Host = authHost
	for k, v := range h {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return authResp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

// authPost posts a form-encoded body to path.
func authPost(e http.Handler, path string, form url.Values) authResp {
	return authServe(e, http.MethodPost, path, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

func authBearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// authGetJSON sends GET path with token and decodes a 200 JSON answer.
func authGetJSON(t *testing.T, e http.Handler, path, token string) map[string]any {
	t.Helper()
	r := authServe(e, http.MethodGet, path, nil, authBearer(token))
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Body), &m))
	return m
}

func authDecode(t *testing.T, r authResp) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Body), &m), r.Body)
	return m
}

// authLogin runs the client_credentials grant of the demo app and returns the
// access token.
func authLogin(t *testing.T, e http.Handler) string {
	t.Helper()
	r := authPost(e, "/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret},
	})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	return authDecode(t, r)["access_token"].(string)
}

var (
	authKeyOnce sync.Once
	authKey     *rsa.PrivateKey
)

// authRSAKey is one RSA key per test binary (keys are slow to make under -race).
func authRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	authKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		authKey = k
	})
	return authKey
}

const authSessionInvalid = `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`
