package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runEmulatorCLI runs `sfbridge emulator args…` as Run does, with writers
// that are safe to read while the command runs.
func runEmulatorCLI(ctx context.Context, out, errOut *syncBuffer, args ...string) int {
	return Run(ctx, append([]string{"emulator"}, args...), IO{Out: out, Err: errOut})
}

var listenRE = regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+)`)

// startEmulator runs the command in the background and returns its URL and
// a stop function that returns the exit code.
func startEmulator(t *testing.T, args ...string) (base string, out *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	code := make(chan int, 1)
	go func() { code <- runEmulatorCLI(ctx, out, errOut, args...) }()
	exited := -1
	require.Eventually(t, func() bool {
		select {
		case exited = <-code:
			return true
		default:
		}
		m := listenRE.FindStringSubmatch(out.String())
		if m != nil && strings.Contains(out.String(), "admin endpoints") {
			base = m[1]
			return true
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "no banner: %q %q", out, errOut)
	require.Equal(t, -1, exited, "emulator exited: %s %s", out.String(), errOut.String())
	var once sync.Once
	var result int
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case result = <-code:
			case <-time.After(20 * time.Second):
				t.Fatal("emulator did not stop")
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return base, out, stop
}

func TestEmulatorServesAndStops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	faults := filepath.Join(dir, "faults.yaml")
	require.NoError(t, os.WriteFile(faults, []byte("http: [{endpoint: describe.global, status: 503, next: 1}]\n"), 0o644))
	keyFile := filepath.Join(dir, "jwt.pem")
	base, out, stop := startEmulator(t, "--addr", "127.0.0.1:0", "--faults", faults, "--seed", "9", "--jwt-key-out", keyFile)

	banner := out.String()
	for _, want := range []string{
		"client_id=" + sfemu.DemoClientID + " client_secret=" + sfemu.DemoClientSecret,
		"username=admin@sfbridge.example password=" + sfemu.DemoPassword,
		"not secrets of any real org",
		base + "/services/oauth2/token",
		"faults from " + faults + ": 0 record, 1 http, 0 latency rules",
		"JWT bearer: demo signing key written to " + keyFile,
	} {
		require.Contains(t, banner, want)
	}

	resp, err := http.Get(base + "/services/data")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.PostForm(base+"/services/oauth2/token", url.Values{"grant_type": {"password"},
		"client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret},
		"username": {"admin@sfbridge.example"}, "password": {sfemu.DemoPassword}})
	require.NoError(t, err)
	var tok map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	_ = resp.Body.Close()
	require.Equal(t, base, tok["instance_url"])

	get := func(path string) int {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok["access_token"])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusServiceUnavailable, get("/services/data/v66.0/sobjects"), "the fault file is applied")
	require.Equal(t, http.StatusOK, get("/services/data/v66.0/sobjects"))

	pemKey, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	require.Contains(t, string(pemKey), "RSA PRIVATE KEY")

	require.Equal(t, ExitOK, stop())
	_, err = http.Get(base + "/services/data")
	require.Error(t, err, "stopped")
}

func TestEmulatorTLS(t *testing.T) {
	t.Parallel()
	certFile := filepath.Join(t.TempDir(), "emulator.pem")
	base, out, _ := startEmulator(t, "--addr", "127.0.0.1:0", "--tls", "--tls-cert-out", certFile)
	require.True(t, strings.HasPrefix(base, "https://"), base)
	require.Contains(t, out.String(), "self-signed certificate written to "+certFile)

	b, err := os.ReadFile(certFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(b))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := client.Get(base + "/services/data")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestEmulatorOrgFile(t *testing.T) {
	t.Parallel()
	org := filepath.Join(t.TempDir(), "org.yaml")
	require.NoError(t, os.WriteFile(org, []byte(`version: 1
base: default
auth:
  apps: [{name: Ops, clientId: ops-app, clientSecret: ops-secret}]
  users: [{username: ops@acme.example, password: hunter2}]
`), 0o644))
	base, out, _ := startEmulator(t, "--addr", "127.0.0.1:0", "--schema", org)
	banner := out.String()
	require.Contains(t, banner, "client_id=ops-app (secret as configured)")
	require.Contains(t, banner, "username=ops@acme.example (password as configured)")
	require.NotContains(t, banner, "ops-secret")
	require.NotContains(t, banner, "hunter2")

	resp, err := http.PostForm(base+"/services/oauth2/token", url.Values{"grant_type": {"password"},
		"client_id": {"ops-app"}, "client_secret": {"ops-secret"}, "username": {"ops@acme.example"}, "password": {"hunter2"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestEmulatorInvalidInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badFaults := filepath.Join(dir, "faults.yaml")
	require.NoError(t, os.WriteFile(badFaults, []byte("http: [{status: 200}]\n"), 0o644))
	badOrg := filepath.Join(dir, "org.yaml")
	require.NoError(t, os.WriteFile(badOrg, []byte("auth:\n  users: [{username: bob, password: x}]\n"), 0o644))
	ownApps := filepath.Join(dir, "own.yaml")
	require.NoError(t, os.WriteFile(ownApps, []byte("auth:\n  apps: [{clientId: a, clientSecret: b}]\n"), 0o644))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "nonsense"}, `--addr "nonsense"`},
		{[]string{"--faults", filepath.Join(dir, "missing.yaml")}, "faults: open"},
		{[]string{"--faults", badFaults}, "http[0].status: must be 400-599, got 200"},
		{[]string{"--schema", badOrg}, `auth.users[0].username: "bob" is not in the form of an email address`},
		{[]string{"--schema", ownApps, "--jwt-key-out", filepath.Join(dir, "k.pem")}, "--jwt-key-out"},
		{[]string{"--tls-cert-out", filepath.Join(dir, "c.pem")}, "--tls-cert-out needs --tls"},
		{[]string{"--session-ttl", "0s"}, "--session-ttl"},
		{[]string{"--seed", "x"}, "invalid argument"},
		{[]string{"extra"}, "accepts 0 arg"},
	}
	for _, tt := range tests {
		out, errOut := &syncBuffer{}, &syncBuffer{}
		code := runEmulatorCLI(t.Context(), out, errOut, tt.args...)
		require.Equal(t, ExitInvalid, code, "%v: %s", tt.args, errOut.String())
		require.Contains(t, errOut.String(), tt.want, tt.args)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(errOut.String()), "\n")+1, "one line: %q", errOut.String())
	}
}

func TestEmulatorPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	out, errOut := &syncBuffer{}, &syncBuffer{}
	code := runEmulatorCLI(t.Context(), out, errOut, "--addr", ln.Addr().String())
	require.Equal(t, ExitFailure, code, errOut.String())
	require.Contains(t, errOut.String(), "listen on "+ln.Addr().String()+": the address is already in use")
}
