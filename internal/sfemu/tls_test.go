package sfemu_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func TestTLSHandshakeWithGeneratedCert(t *testing.T) {
	t.Parallel()
	cert, err := sfemu.GenerateTLSCert(time.Now())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"localhost"}, cert.Leaf.DNSNames)
	require.Len(t, cert.Leaf.IPAddresses, 2)
	require.True(t, cert.Leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")))

	// A client trusts the written PEM and nothing else.
	path := filepath.Join(t.TempDir(), "emulator.pem")
	require.NoError(t, cert.WritePEM(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.Equal(t, "CERTIFICATE", block.Type)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(b))

	e := sfemu.New(sfemu.Options{})
	srv := httptest.NewUnstartedServer(e)
	srv.TLS = cert.ServerConfig()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshake error
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}

	resp, err := client.Get(srv.URL + "/services/data")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotNil(t, resp.TLS)

	// Over https the token response points back at https.
	resp, err = client.PostForm(srv.URL+"/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret},
	})
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.Equal(t, srv.URL, tok["instance_url"])
	require.True(t, strings.HasPrefix(srv.URL, "https://127.0.0.1:"), srv.URL)

	// localhost is covered too, through ClientConfig.
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c2 := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	resp2, err := c2.Get("https://localhost:" + port + "/services/data")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp2.Body)
	_ = resp2.Body.Close()

	// A client that does not trust it fails the handshake.
	_, err = http.Get(srv.URL + "/services/data")
	require.ErrorContains(t, err, "certificate")
}

func TestTLSOutageRefusesConnections(t *testing.T) {
	t.Parallel()
	cert, err := sfemu.GenerateTLSCert(time.Now(), "127.0.0.1", "emulator.internal")
	require.NoError(t, err)
	require.Equal(t, []string{"emulator.internal"}, cert.Leaf.DNSNames)
	e := sfemu.New(sfemu.Options{})
	srv := httptest.NewUnstartedServer(e)
	srv.TLS = cert.ServerConfig()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshake error
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg, err := sfemu.ParseFaults([]byte(`outage: {mode: refuse, duration: 1h}`))
	require.NoError(t, err)
	require.NoError(t, e.Faults().Set(cfg))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	_, err = client.Get(srv.URL + "/services/data")
	require.Error(t, err)
	resp, err := client.Get(srv.URL + "/__emulator/faults")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
