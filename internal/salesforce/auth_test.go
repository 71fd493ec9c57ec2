package salesforce

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
	"github.com/sfbridge/sfbridge/internal/retry"
)

func fastPoll() retry.Policy {
	return retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Multiplier: 2}
}

// testKey is one RSA key for the package's tests (generating one per test
// is slow under -race).
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pemPKCS8(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func pemPKCS1(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestAuthFlows(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "server.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(pemPKCS1(testKey())), 0o600))
	tests := []struct {
		name string
		auth Auth
		want map[string]string // form fields expected in the token request
	}{
		{"client credentials", Auth{Flow: FlowClientCredentials, ClientID: "cid", ClientSecret: "csecret-123"},
			map[string]string{"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret-123"}},
		{"refresh token with secret", Auth{Flow: FlowRefreshToken, ClientID: "cid", ClientSecret: "csecret-123", RefreshToken: "5Aep861refresh"},
			map[string]string{"grant_type": "refresh_token", "client_id": "cid", "client_secret": "csecret-123", "refresh_token": "5Aep861refresh"}},
		{"refresh token without secret", Auth{Flow: FlowRefreshToken, ClientID: "cid", RefreshToken: "5Aep861refresh"},
			map[string]string{"grant_type": "refresh_token", "client_id": "cid", "refresh_token": "5Aep861refresh", "client_secret": ""}},
		{"password with security token", Auth{Flow: FlowPassword, ClientID: "cid", ClientSecret: "csecret-123", Username: "int@acme.com", Password: "hunter22", SecurityToken: "SECTOK"},
			map[string]string{"grant_type": "password", "client_id": "cid", "client_secret": "csecret-123", "username": "int@acme.com", "password": "hunter22SECTOK"}},
		{"jwt bearer from PEM", Auth{Flow: FlowJWTBearer, ClientID: "cid", Username: "int@acme.com", PrivateKeyPEM: pemPKCS8(t, testKey())},
			map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "client_secret": ""}},
		{"jwt bearer from file", Auth{Flow: FlowJWTBearer, ClientID: "cid", Username: "int@acme.com", PrivateKeyFile: keyFile, Audience: "https://test.salesforce.com"},
			map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSF(t)
			c, err := New(Config{LoginURL: f.URL(), Auth: tt.auth, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			lim, err := c.Limits(context.Background())
			require.NoError(t, err)
			require.Equal(t, int64(99000), lim["DailyApiRequests"].Remaining)
			require.Equal(t, Usage{Used: 1000, Max: 100000, At: c.Usage().At}, c.Usage(), "the limits call refreshed the usage")

			forms := f.forms()
			require.Len(t, forms, 1)
			for k, v := range tt.want {
				require.Equal(t, v, forms[0].Get(k), k)
			}
			if tt.auth.Flow == FlowJWTBearer {
				aud := tt.auth.Audience
				if aud == "" {
					aud = "https://login.salesforce.com"
				}
				checkJWT(t, forms[0].Get("assertion"), &testKey().PublicKey, "cid", "int@acme.com", aud)
			}
			require.Equal(t, int64(1), c.TokenRequests())
		})
	}
}

// checkJWT verifies an RS256 assertion and its claims.
func checkJWT(t *testing.T, assertion string, pub *rsa.PublicKey, iss, sub, aud string) {
	t.Helper()
	parts := strings.Split(assertion, ".")
	require.Len(t, parts, 3)
	enc := base64.RawURLEncoding
	head, err := enc.DecodeString(parts[0])
	require.NoError(t, err)
	require.JSONEq(t, `{"alg":"RS256","typ":"JWT"}`, string(head))
	sig, err := enc.DecodeString(parts[2])
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig), "signature")
	raw, err := enc.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Iss, Sub, Aud string
		Exp           int64
	}
	require.NoError(t, json.Unmarshal(raw, &claims))
	require.Equal(t, iss, claims.Iss)
	require.Equal(t, sub, claims.Sub)
	require.Equal(t, aud, claims.Aud)
	require.InDelta(t, time.Now().Add(jwtLifetime).Unix(), claims.Exp, 30)
}

func TestJWTAudience(t *testing.T) {
	t.Parallel()
	require.Equal(t, "https://login.salesforce.com", jwtAudience("", "https://login.salesforce.com"))
	require.Equal(t, "https://login.salesforce.com", jwtAudience("", "https://acme.my.salesforce.com"))
	require.Equal(t, "https://test.salesforce.com", jwtAudience("", "https://test.salesforce.com"))
	require.Equal(t, "https://test.salesforce.com", jwtAudience("", "https://acme--uat.sandbox.my.salesforce.com"))
	require.Equal(t, "https://acme.my.site.com", jwtAudience("https://acme.my.site.com", "https://test.salesforce.com"))
}

func TestLoadPrivateKey(t *testing.T) {
	t.Parallel()
	_, err := loadPrivateKey(pemPKCS1(testKey()), "")
	require.NoError(t, err)
	_, err = loadPrivateKey(pemPKCS8(t, testKey()), "")
	require.NoError(t, err)
	_, err = loadPrivateKey("not a key", "")
	require.ErrorContains(t, err, "no PEM block")
	_, err = loadPrivateKey("", filepath.Join(t.TempDir(), "missing.pem"))
	require.ErrorContains(t, err, "auth.private_key_file")
	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}))
	_, err = loadPrivateKey(cert, "")
	require.ErrorContains(t, err, "not a private key")
	garbage := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("MIIsecretbytes")}))
	_, err = loadPrivateKey(garbage, "")
	require.ErrorContains(t, err, "not a PKCS#1 RSA key")
	require.NotContains(t, err.Error(), "MIIsecretbytes")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no flow", Config{LoginURL: "https://login.salesforce.com"}, []string{"auth.flow: required"}},
		{"unknown flow", Config{LoginURL: "https://x.my.salesforce.com", Auth: Auth{Flow: "magic"}}, []string{`unknown flow "magic"`}},
		{"client credentials on the generic host", Config{LoginURL: "https://login.salesforce.com", Auth: Auth{Flow: FlowClientCredentials, ClientID: "a", ClientSecret: "b"}}, []string{"must use the org's My Domain"}},
		{"client credentials missing secret", Config{LoginURL: "https://acme.my.salesforce.com", Auth: Auth{Flow: FlowClientCredentials, ClientID: "a"}}, []string{"auth.client_secret: required by the client_credentials flow"}},
		{"jwt without key", Config{LoginURL: "https://login.salesforce.com", Auth: Auth{Flow: FlowJWTBearer, ClientID: "a", Username: "u"}}, []string{"auth.private_key: set exactly one"}},
		{"password missing", Config{LoginURL: "https://login.salesforce.com", Auth: Auth{Flow: FlowPassword}}, []string{"auth.client_id", "auth.client_secret", "auth.username", "auth.password"}},
		{"access token needs instance", Config{Auth: Auth{Flow: FlowAccessToken, AccessToken: "x"}}, []string{"instance_url: required"}},
		{"bad login url", Config{LoginURL: "login.salesforce.com", Auth: Auth{Flow: FlowRefreshToken, ClientID: "a", RefreshToken: "r"}}, []string{"login_url:"}},
		{"plain http to a remote host", Config{LoginURL: "http://login.example.com", Auth: Auth{Flow: FlowRefreshToken, ClientID: "a", RefreshToken: "r"}}, []string{"plain http is only allowed for localhost"}},
		{"api version too old", Config{LoginURL: "https://login.salesforce.com", APIVersion: "45.0", Auth: Auth{Flow: FlowRefreshToken, ClientID: "a", RefreshToken: "r"}}, []string{"45.0 is too old"}},
		{"login url with path", Config{LoginURL: "https://login.salesforce.com/services", Auth: Auth{Flow: FlowRefreshToken, ClientID: "a", RefreshToken: "r"}}, []string{"bare host URL"}},
		{"bad numbers", Config{LoginURL: "https://login.salesforce.com", APIVersion: "v62", MaxConcurrency: -1, APIReserve: 1.5, Auth: Auth{Flow: FlowRefreshToken, ClientID: "a", RefreshToken: "r"}},
			[]string{"api_version", "max_concurrency", "api_reserve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			_, err = New(tt.cfg)
			require.Error(t, err)
		})
	}
	ok := Config{LoginURL: "https://acme.my.salesforce.com/", APIVersion: "v62.0", Auth: Auth{Flow: FlowClientCredentials, ClientID: "a", ClientSecret: "b"}}
	require.NoError(t, ok.Validate())
	for _, loop := range []string{"http://127.0.0.1:8443", "http://localhost:1", "http://[::1]:2"} {
		require.NoError(t, Config{LoginURL: loop, Auth: Auth{Flow: FlowRefreshToken, ClientID: "a", RefreshToken: "r"}}.Validate(), loop)
	}
	d := Config{Auth: Auth{Flow: FlowJWTBearer}}.withDefaults()
	require.Equal(t, DefaultLoginURL, d.LoginURL)
	require.Empty(t, Config{Auth: Auth{Flow: FlowClientCredentials}}.withDefaults().LoginURL, "client_credentials needs the My Domain, no default")
}

func TestPasswordFlowWarnsOnce(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	var logs logBuffer
	c, err := New(Config{LoginURL: f.URL(), Logger: logs.logger(),
		Auth: Auth{Flow: FlowPassword, ClientID: "cid", ClientSecret: "csecret-123", Username: "u@x.com", Password: "hunter22"}})
	require.NoError(t, err)
	for range 3 {
		_, err := c.Limits(context.Background())
		require.NoError(t, err)
	}
	f.expire()
	_, err = c.Limits(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(logs.String(), "username-password flow is being retired"))
	require.Contains(t, logs.String(), "level=WARN")
}

// TestTokenExpiryUnderConcurrency: the org's sessions expire while N calls
// are in flight; every call sees 401 INVALID_SESSION_ID, and exactly one
// token request replaces the token before all of them are replayed.
func TestTokenExpiryUnderConcurrency(t *testing.T) {
	t.Parallel()
	const n = 20
	f := newFakeSF(t)
	c, err := New(Config{LoginURL: f.URL(), MaxConcurrency: MaxLongRunning, Logger: slog.New(slog.DiscardHandler),
		Auth: Auth{Flow: FlowClientCredentials, ClientID: "cid", ClientSecret: "csecret-123"}})
	require.NoError(t, err)
	_, err = c.Login(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), f.tokenCalls.Load())

	f.expire()
	// Answer no 401 before all n calls have arrived with the stale token,
	// so that all of them see the expiry and race for the refresh.
	arrived := make(chan struct{})
	f.mu.Lock()
	f.hold401 = func(k int64) {
		if k == n {
			close(arrived)
		}
		if k <= n {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
			}
		}
	}
	f.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.Limits(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(n), f.unauthCalls.Load(), "every call was refused once")
	require.Equal(t, int64(2), f.tokenCalls.Load(), "one login and exactly one refresh")
	require.Equal(t, int64(2), c.TokenRequests())
	require.Equal(t, int64(n), f.dataCalls.Load(), "every call was replayed once")
}

func TestStaticTokenCannotRefresh(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	_, err := c.Limits(context.Background())
	require.NoError(t, err)
	f.expire()
	_, err = c.Limits(context.Background())
	require.Error(t, err)
	require.ErrorIs(t, err, errCannotRefresh)
	require.Equal(t, ClassFatal, Classify(err).Class)
	require.True(t, failure.IsFatal(err))
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "INVALID_SESSION_ID", apiErr.Code)
	require.Zero(t, f.tokenCalls.Load())
	require.NotContains(t, err.Error(), "AQ0AQstatic")
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		class  Class
		code   string
	}{
		{"bad credentials", 400, `{"error":"invalid_grant","error_description":"authentication failure"}`, ClassFatal, "invalid_grant"},
		{"unknown client", 400, `{"error":"invalid_client_id","error_description":"client identifier invalid"}`, ClassFatal, "invalid_client_id"},
		{"oauth rate limit", 400, `{"error":"rate_limit_exceeded","error_description":"too many"}`, ClassThrottle, "rate_limit_exceeded"},
		{"maintenance page", 503, `<html><head><title>Maintenance</title></head><body>back soon</body></html>`, ClassRetry, ""},
		{"wrong login URL", 404, `not found`, ClassFatal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSF(t)
			f.tokenStatus, f.tokenBody = tt.status, tt.body
			c, err := New(Config{LoginURL: f.URL(), Logger: slog.New(slog.DiscardHandler),
				Auth: Auth{Flow: FlowRefreshToken, ClientID: "cid", RefreshToken: "5Aep861refresh"}})
			require.NoError(t, err)
			_, err = c.Limits(context.Background())
			require.Error(t, err)
			require.Equal(t, tt.class, Classify(err).Class)
			var apiErr *APIError
			require.True(t, errors.As(err, &apiErr))
			require.Equal(t, tt.code, apiErr.Code)
			require.Equal(t, tt.status, apiErr.HTTPStatus)
			require.Contains(t, err.Error(), "refresh_token login at "+f.URL())
		})
	}
}

// TestSecretsNeverLeak drives every flow through successes and failures —
// including a token endpoint that echoes what it was sent — and checks that
// no secret, token or assertion appears in any error or log line.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const (
		secret  = "SECRET-client-0123456789"
		pass    = "SECRET-password-01234"
		sectok  = "SECRET-sectoken-0123"
		refresh = "SECRET-refresh-0123456"
		static  = "00D000000000001AAA!SECRET-static-token"
	)
	keyPEM := pemPKCS8(t, testKey())
	tests := []struct {
		auth    Auth
		secrets []string // what this client holds (a server could echo them)
		never   []string // what must not show either, though it never travels
	}{
		{Auth{Flow: FlowClientCredentials, ClientID: "cid", ClientSecret: secret}, []string{secret}, nil},
		{Auth{Flow: FlowPassword, ClientID: "cid", ClientSecret: secret, Username: "u@x.com", Password: pass, SecurityToken: sectok}, []string{secret, pass, sectok, pass + sectok}, nil},
		{Auth{Flow: FlowRefreshToken, ClientID: "cid", ClientSecret: secret, RefreshToken: refresh}, []string{secret, refresh}, nil},
		{Auth{Flow: FlowJWTBearer, ClientID: "cid", Username: "u@x.com", PrivateKeyPEM: keyPEM}, nil, []string{keyPEM[30:60], keyPEM[200:230]}},
		{Auth{Flow: FlowAccessToken, AccessToken: static}, []string{static}, nil},
	}
	for _, tt := range tests {
		a := tt.auth
		t.Run(string(a.Flow), func(t *testing.T) {
			t.Parallel()
			f := newFakeSF(t)
			var logs logBuffer
			var texts []string
			cfg := Config{LoginURL: f.URL(), Auth: a, Logger: logs.logger()}
			if a.Flow == FlowAccessToken {
				cfg.InstanceURL = f.URL()
				f.allow(static)
			}
			c, err := New(cfg)
			require.NoError(t, err)
			texts = append(texts, fmt.Sprint(cfg), fmt.Sprintf("%+v %#v %s", a, a, a))
			logs.logger().Info("auth", "auth", a)

			// Success, then an expired session and a refresh.
			_, err = c.Limits(context.Background())
			require.NoError(t, err)
			var assertion string
			if forms := f.forms(); len(forms) > 0 {
				assertion = forms[0].Get("assertion")
			}
			f.expire()
			_, err = c.Limits(context.Background())
			if err != nil {
				texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
			}
			// A token endpoint that echoes the request body in its error.
			f.mu.Lock()
			f.tokenStatus = 400
			f.tokenBody = fmt.Sprintf(`{"error":"invalid_grant","error_description":"bad: %s %s"}`, strings.Join(tt.secrets, " "), assertion)
			f.mu.Unlock()
			f.expire()
			_, err = c.Limits(context.Background())
			require.Error(t, err)
			texts = append(texts, err.Error())
			// A data endpoint that echoes the Authorization header.
			f.mu.Lock()
			f.tokenStatus = 0
			f.mu.Unlock()
			f.allow(static)
			f.setData(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 400, fmt.Sprintf(`[{"message":%q,"errorCode":"INVALID_FIELD"}]`, r.Header.Get("Authorization")))
			})
			_, err = c.Limits(context.Background())
			require.Error(t, err)
			texts = append(texts, err.Error(), logs.String())

			all := strings.Join(texts, "\n")
			for _, s := range append(append(tt.secrets, tt.never...), "AQ0AQtoken") {
				require.NotContains(t, all, s)
			}
			if assertion != "" {
				require.NotContains(t, all, assertion)
			}
			require.Contains(t, all, "[REDACTED]", "the echoes were redacted, not absent")
		})
	}
}
