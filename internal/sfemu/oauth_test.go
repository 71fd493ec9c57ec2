package sfemu_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// authSignJWT signs claims with key (RS256 unless alg says otherwise).
func authSignJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	hdr, err := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	require.NoError(t, err)
	body, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(hdr) + "." + enc.EncodeToString(body)
	h := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	require.NoError(t, err)
	return signed + "." + enc.EncodeToString(sig)
}

// authCertPEM makes a self-signed certificate PEM for key, as a connected app
// would have uploaded.
func authCertPEM(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jwt"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

const authJWTAppID = "3MVG9jwt.app"

// authOptions configures an app with the test key's certificate, a user
// with a security token, and an app whose client_credentials is disabled.
func authOptions(t *testing.T) sfemu.Options {
	return sfemu.Options{Auth: sfemu.AuthConfig{
		Apps: []sfemu.ConnectedApp{
			{Name: "Demo", ClientID: sfemu.DemoClientID, ClientSecret: sfemu.DemoClientSecret},
			{Name: "JWT", ClientID: authJWTAppID, ClientSecret: "jwt-secret", Certificate: authCertPEM(t, authRSAKey(t)), Audiences: []string{"https://acme.my.salesforce.com"}},
			{Name: "No run-as", ClientID: "norunas", ClientSecret: "s", RunAs: sfemu.RunAsNone},
		},
		Users: []sfemu.UserCredential{
			{Username: "admin@sfbridge.example", Password: "pw"},
			{Username: "integration@sfbridge.example", Password: "pw2", SecurityToken: "TOKEN"},
		},
	}}
}

func TestTokenClientCredentialsGolden(t *testing.T) {
	t.Parallel()
	e, clk := newAuthEmu(t, sfemu.Options{})
	r := authPost(e, "/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret},
	})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, "application/json;charset=UTF-8", r.Header.Get("Content-Type"))
	authGolden(t, "oauth_token_client_credentials.json", []byte(r.Body))

	m := authDecode(t, r)
	tok := m["access_token"].(string)
	require.Regexp(t, `^00D\w{12}![.\w]+$`, tok, "sfdx-core's token shape")
	require.Equal(t, e.Org().ID()[:15], tok[:15])
	require.Equal(t, authURL, m["instance_url"])
	uid, _ := e.Org().DefaultUser()
	require.Equal(t, authURL+"/id/"+e.Org().ID()+"/"+uid, m["id"])
	require.Equal(t, strconv.FormatInt(clk.Now().UnixMilli(), 10), m["issued_at"])
	mac := hmac.New(sha256.New, []byte(sfemu.DemoClientSecret))
	mac.Write([]byte(m["id"].(string) + m["issued_at"].(string)))
	require.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), m["signature"])
	require.NotContains(t, m, "refresh_token")
	require.NotContains(t, m, "expires_in")

	lim := authServe(e, http.MethodGet, authV+"/limits", nil, authBearer(tok))
	require.Equal(t, http.StatusOK, lim.Status, lim.Body)
}

func TestTokenGrants(t *testing.T) {
	t.Parallel()
	e, clk := newAuthEmu(t, authOptions(t))
	key := authRSAKey(t)
	exp := clk.Now().Add(5 * time.Minute).Unix()
	tests := []struct {
		name   string
		form   url.Values
		basic  [2]string
		userID func() string
	}{
		{name: "client_credentials", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret}}},
		{name: "client_credentials with HTTP Basic", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{sfemu.DemoClientID, sfemu.DemoClientSecret}},
		{name: "password", form: url.Values{"grant_type": {"password"}, "client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret},
			"username": {"admin@sfbridge.example"}, "password": {"pw"}}},
		{name: "password with security token", form: url.Values{"grant_type": {"password"}, "client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret},
			"username": {"INTEGRATION@sfbridge.example"}, "password": {"pw2TOKEN"}}},
		{name: "jwt exp as number", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {
			authSignJWT(t, key, "RS256", map[string]any{"iss": authJWTAppID, "sub": "admin@sfbridge.example", "aud": "https://login.salesforce.com", "exp": exp})}}},
		{name: "jwt exp as string (go-salesforce)", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {
			authSignJWT(t, key, "RS256", map[string]any{"iss": authJWTAppID, "sub": "admin@sfbridge.example", "aud": "https://test.salesforce.com", "exp": strconv.FormatInt(exp, 10)})}}},
		{name: "jwt exp in milliseconds (sfdx-core)", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {
			authSignJWT(t, key, "RS256", map[string]any{"iss": authJWTAppID, "sub": "admin@sfbridge.example", "aud": "https://login.salesforce.com", "exp": clk.Now().UnixMilli() + 300})}}},
		{name: "jwt aud array, own URL, prn", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {
			authSignJWT(t, key, "RS256", map[string]any{"iss": authJWTAppID, "prn": "admin@sfbridge.example", "aud": []string{"https://x.example", authURL}, "exp": exp})}}},
		{name: "jwt configured audience", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {
			authSignJWT(t, key, "RS256", map[string]any{"iss": authJWTAppID, "sub": "admin@sfbridge.example", "aud": "https://acme.my.salesforce.com/", "exp": exp})}}},
	}
	for _, tt := range tests {
		req := strings.NewReader(tt.form.Encode())
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		if tt.basic[0] != "" {
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(tt.basic[0]+":"+tt.basic[1])))
		}
		r := authServe(e, http.MethodPost, "/services/oauth2/token", req, h)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", tt.name, r.Body)
		m := authDecode(t, r)
		require.Equal(t, "Bearer", m["token_type"], tt.name)
		require.Equal(t, "api", m["scope"], tt.name)
		info := authGetJSON(t, e, "/services/oauth2/userinfo", m["access_token"].(string))
		require.Equal(t, strings.TrimPrefix(m["id"].(string), authURL+"/id/"+e.Org().ID()+"/"), info["user_id"], tt.name)
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	e, clk := newAuthEmu(t, authOptions(t))
	key := authRSAKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	exp := clk.Now().Add(5 * time.Minute).Unix()
	jwt := func(k *rsa.PrivateKey, alg string, claims map[string]any) url.Values {
		c := map[string]any{"iss": authJWTAppID, "sub": "admin@sfbridge.example", "aud": "https://login.salesforce.com", "exp": exp}
		for k, v := range claims {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {authSignJWT(t, k, alg, c)}}
	}
	cc := func(id, secret string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	}
	pw := func(user, pass, secret string) url.Values {
		return url.Values{"grant_type": {"password"}, "client_id": {sfemu.DemoClientID}, "client_secret": {secret}, "username": {user}, "password": {pass}}
	}
	tests := []struct {
		name string
		form url.Values
		host string
		want string
	}{
		{"no grant_type", url.Values{}, "", `{"error":"invalid_request","error_description":"grant type is missing"}`},
		{"unknown grant", url.Values{"grant_type": {"authorization_code"}}, "", `{"error":"unsupported_grant_type","error_description":"grant type not supported"}`},
		{"unknown client", cc("nope", "x"), "", `{"error":"invalid_client_id","error_description":"client identifier invalid"}`},
		{"no client id", cc("", ""), "", `{"error":"invalid_client_id","error_description":"client identifier invalid"}`},
		{"wrong secret", cc(sfemu.DemoClientID, "wrong"), "", `{"error":"invalid_client","error_description":"invalid client credentials"}`},
		{"missing secret", cc(sfemu.DemoClientID, ""), "", `{"error":"invalid_client","error_description":"invalid client credentials"}`},
		{"client_credentials on the login host", cc(sfemu.DemoClientID, sfemu.DemoClientSecret), "login.salesforce.com", `{"error":"invalid_grant","error_description":"request not supported on this domain"}`},
		{"no run-as user", cc("norunas", "s"), "", `{"error":"invalid_grant","error_description":"no client credentials user enabled"}`},
		{"wrong password", pw("admin@sfbridge.example", "nope", sfemu.DemoClientSecret), "", `{"error":"invalid_grant","error_description":"authentication failure"}`},
		{"missing security token", pw("integration@sfbridge.example", "pw2", sfemu.DemoClientSecret), "", `{"error":"invalid_grant","error_description":"authentication failure"}`},
		{"unknown user", pw("ghost@sfbridge.example", "pw", sfemu.DemoClientSecret), "", `{"error":"invalid_grant","error_description":"authentication failure"}`},
		{"password with wrong secret", pw("admin@sfbridge.example", "pw", "bad"), "", `{"error":"invalid_client","error_description":"invalid client credentials"}`},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "client_id": {sfemu.DemoClientID}, "refresh_token": {"5Aep861nope"}}, "", `{"error":"invalid_grant","error_description":"expired access/refresh token"}`},
		{"jwt bad signature", jwt(other, "RS256", nil), "", `{"error":"invalid_grant","error_description":"invalid assertion"}`},
		{"jwt expired", jwt(key, "RS256", map[string]any{"exp": clk.Now().Add(-time.Second).Unix()}), "", `{"error":"invalid_grant","error_description":"expired authorization code"}`},
		{"jwt exp not numeric", jwt(key, "RS256", map[string]any{"exp": "tomorrow"}), "", `{"error":"invalid_grant","error_description":"invalid assertion"}`},
		{"jwt without exp", jwt(key, "RS256", map[string]any{"exp": nil}), "", `{"error":"invalid_grant","error_description":"invalid assertion"}`},
		{"jwt wrong audience", jwt(key, "RS256", map[string]any{"aud": "https://evil.example"}), "", `{"error":"invalid_grant","error_description":"Audience validation failed"}`},
		{"jwt unknown issuer", jwt(key, "RS256", map[string]any{"iss": "nope"}), "", `{"error":"invalid_client_id","error_description":"client identifier invalid"}`},
		{"jwt unknown subject", jwt(key, "RS256", map[string]any{"sub": "ghost@sfbridge.example"}), "", `{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}`},
		{"jwt alg other than RS256", jwt(key, "RS512", nil), "", `{"error":"invalid_grant","error_description":"invalid assertion"}`},
		{"jwt app without certificate", jwt(key, "RS256", map[string]any{"iss": "norunas"}), "", `{"error":"invalid_grant","error_description":"invalid assertion"}`},
		{"jwt garbage", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"not.a.jwt"}}, "", `{"error":"invalid_grant","error_description":"invalid assertion"}`},
	}
	for _, tt := range tests {
		req := authFormRequest(tt.form)
		if tt.host != "" {
			req.Host = tt.host
		}
		r := authServeReq(e, req)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tt.name, r.Body)
		require.Equal(t, tt.want, r.Body, tt.name)
		require.Equal(t, "application/json;charset=UTF-8", r.Header.Get("Content-Type"), tt.name)
	}
}

func TestRefreshAndRevoke(t *testing.T) {
	t.Parallel()
	e, _ := newAuthEmu(t, authOptions(t))
	r := authServe(e, http.MethodPost, "/__emulator/token", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	m := authDecode(t, r)
	refresh := m["refresh_token"].(string)
	require.True(t, strings.HasPrefix(refresh, "5Aep861"), refresh)

	// The refresh token grant mints a new access token and no new refresh token.
	r = authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {sfemu.DemoClientID}, "refresh_token": {refresh}})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	m2 := authDecode(t, r)
	require.NotContains(t, m2, "refresh_token")
	require.NotEqual(t, m["access_token"], m2["access_token"])
	authGetJSON(t, e, authV+"/limits", m2["access_token"].(string))

	// Another app cannot use it; a wrong secret is refused.
	r = authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {authJWTAppID}, "refresh_token": {refresh}})
	require.Equal(t, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`, r.Body)
	r = authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {sfemu.DemoClientID}, "client_secret": {"bad"}, "refresh_token": {refresh}})
	require.Equal(t, `{"error":"invalid_client","error_description":"invalid client credentials"}`, r.Body)

	// Revoking the access token ends its session; revoking the refresh token ends refreshes.
	tok := m2["access_token"].(string)
	r = authPost(e, "/services/oauth2/revoke", url.Values{"token": {tok}})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Empty(t, r.Body)
	r = authServe(e, http.MethodGet, authV+"/limits", nil, authBearer(tok))
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, authSessionInvalid, r.Body)

	r = authServe(e, http.MethodGet, "/services/oauth2/revoke?token="+url.QueryEscape(refresh), nil, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	r = authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {sfemu.DemoClientID}, "refresh_token": {refresh}})
	require.Equal(t, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`, r.Body)

	r = authPost(e, "/services/oauth2/revoke", url.Values{"token": {"nope"}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, `{"error":"unsupported_token_type","error_description":"this token type is not supported"}`, r.Body)
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e, clk := newAuthEmu(t, sfemu.Options{SessionTTL: time.Hour})
	tok := authLogin(t, e)
	authGetJSON(t, e, authV+"/sobjects", tok)

	clk.Add(59 * time.Minute)
	authGetJSON(t, e, authV+"/sobjects", tok)

	clk.Add(time.Minute)
	for _, path := range []string{authV + "/sobjects", authV + "/query?q=SELECT+Id+FROM+Account", "/services/oauth2/userinfo"} {
		r := authServe(e, http.MethodGet, path, nil, authBearer(tok))
		require.Equal(t, http.StatusUnauthorized, r.Status, path)
		require.Equal(t, authSessionInvalid, r.Body, path)
		require.Equal(t, "application/json;charset=UTF-8", r.Header.Get("Content-Type"), path)
	}
	// Logging in again works.
	authGetJSON(t, e, authV+"/sobjects", authLogin(t, e))
}

func TestConfiguredUserGetsAUserRecord(t *testing.T) {
	t.Parallel()
	e, _ := newAuthEmu(t, authOptions(t))
	r := authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {sfemu.DemoClientID},
		"client_secret": {sfemu.DemoClientSecret}, "username": {"integration@sfbridge.example"}, "password": {"pw2TOKEN"}})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	tok := authDecode(t, r)["access_token"].(string)
	info := authGetJSON(t, e, "/services/oauth2/userinfo", tok)
	require.Equal(t, "integration@sfbridge.example", info["preferred_username"])
	uid := info["user_id"].(string)
	require.True(t, strings.HasPrefix(uid, "005"), uid)
	// sfdx-core reads the username from the User record.
	rec := authGetJSON(t, e, authV+"/sobjects/User/"+uid, tok)
	require.Equal(t, "integration@sfbridge.example", rec["Username"])

	// A second authLogin finds the same record.
	r = authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {sfemu.DemoClientID},
		"client_secret": {sfemu.DemoClientSecret}, "username": {"integration@sfbridge.example"}, "password": {"pw2TOKEN"}})
	require.Contains(t, authDecode(t, r)["id"], uid)
}

func TestDemoJWTKeyLogsIn(t *testing.T) {
	t.Parallel()
	e, clk := newAuthEmu(t, sfemu.Options{})
	r := authServe(e, http.MethodGet, "/__emulator/jwt-key", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	block, _ := pem.Decode([]byte(r.Body))
	require.NotNil(t, block)
	require.Equal(t, "RSA PRIVATE KEY", block.Type)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)

	_, username := e.Org().DefaultUser()
	assertion, err := sfemu.SignJWT(key, sfemu.DemoClientID, username, "https://login.salesforce.com", clk.Now().Add(3*time.Minute))
	require.NoError(t, err)
	r = authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}})
	require.Equal(t, http.StatusOK, r.Status, r.Body)

	// An org with its own apps has no demo key.
	e3, _ := newAuthEmu(t, sfemu.Options{Auth: sfemu.AuthConfig{Apps: []sfemu.ConnectedApp{{ClientID: "mine", ClientSecret: "s"}}}})
	r = authServe(e3, http.MethodGet, "/__emulator/jwt-key", nil, nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Body)
}

func TestPublicKeyPEMForms(t *testing.T) {
	t.Parallel()
	key := authRSAKey(t)
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	forms := map[string]string{
		"PUBLIC KEY":     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})),
		"RSA PUBLIC KEY": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})),
		"CERTIFICATE":    authCertPEM(t, key),
	}
	for name, p := range forms {
		e, clk := newAuthEmu(t, sfemu.Options{Auth: sfemu.AuthConfig{Apps: []sfemu.ConnectedApp{{ClientID: "app", ClientSecret: "s", Certificate: p}}}})
		a, err := sfemu.SignJWT(key, "app", "admin@sfbridge.example", "https://login.salesforce.com", clk.Now().Add(time.Minute))
		require.NoError(t, err)
		r := authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}})
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Body)
	}
}

func TestAuthConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  sfemu.AuthConfig
		want []string
	}{
		{"empty is fine", sfemu.AuthConfig{}, nil},
		{"app fields", sfemu.AuthConfig{Apps: []sfemu.ConnectedApp{{}, {ClientID: "a", ClientSecret: "s"}, {ClientID: "a", ClientSecret: "s"}}},
			[]string{"auth.apps[0].clientId: required", "auth.apps[0].clientSecret: required", `auth.apps[2].clientId: "a" is listed twice`}},
		{"certificate", sfemu.AuthConfig{Apps: []sfemu.ConnectedApp{
			{ClientID: "a", ClientSecret: "s", Certificate: "junk"},
			{ClientID: "b", ClientSecret: "s", Certificate: "x", CertificateFile: "y"},
			{ClientID: "c", ClientSecret: "s", CertificateFile: "/no/such/file.pem"},
		}}, []string{"auth.apps[0].certificate: no PEM block found", "auth.apps[1].certificate: set certificate or certificateFile, not both", "auth.apps[2].certificateFile: open /no/such/file.pem"}},
		{"users", sfemu.AuthConfig{Users: []sfemu.UserCredential{{}, {Username: "bob", Password: "p"}, {Username: "a@b.c", Password: "p"}, {Username: "A@b.c"}}},
			[]string{"auth.users[0].username: required", "auth.users[0].password: required", `auth.users[1].username: "bob" is not in the form of an email address`,
				`auth.users[3].username: "A@b.c" is listed twice`, "auth.users[3].password: required"}},
		{"runAs", sfemu.AuthConfig{Apps: []sfemu.ConnectedApp{{ClientID: "a", ClientSecret: "s", RunAs: "x@y.z"}}, Users: []sfemu.UserCredential{{Username: "a@b.c", Password: "p"}}},
			[]string{`auth.apps[0].runAs: "x@y.z" is not one of auth.users`}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == nil {
			require.NoError(t, err, tt.name)
			continue
		}
		require.Error(t, err, tt.name)
		lines := strings.Split(err.Error(), "\n")
		require.Len(t, lines, len(tt.want), "%s: %v", tt.name, err)
		for i, w := range tt.want {
			require.True(t, strings.HasPrefix(lines[i], w), "%s: %q does not start with %q", tt.name, lines[i], w)
		}
	}
}

func TestParseOrgFile(t *testing.T) {
	t.Parallel()
	doc := `version: 1
base: default
auth:
  apps:
    - name: Mine
      clientId: my-app
      clientSecret: my-secret
  users:
    - username: ops@acme.example
      password: pw
objects:
  - name: Widget__c
    keyPrefix: a0W
    fields:
      - {name: Code__c, type: string, length: 20, externalId: true, unique: true}
`
	s, auth, err := sfemu.ParseOrgFile([]byte(doc))
	require.NoError(t, err)
	require.NotNil(t, s.Object("Widget__c"))
	require.NotNil(t, s.Object("Contact"), "base: default keeps the built-in objects")
	require.Equal(t, "my-app", auth.Apps[0].ClientID)
	require.Equal(t, "ops@acme.example", auth.Users[0].Username)

	// The org logs in with the configured credentials and user.
	e, _ := newAuthEmu(t, sfemu.Options{Schema: s, Auth: auth, Username: auth.Users[0].Username})
	r := authPost(e, "/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"my-app"},
		"client_secret": {"my-secret"}, "username": {"ops@acme.example"}, "password": {"pw"}})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	uid, _ := e.Org().DefaultUser()
	require.Contains(t, authDecode(t, r)["id"], uid)

	// No auth section: the schema alone, the zero AuthConfig.
	_, auth, err = sfemu.ParseOrgFile([]byte("version: 1\nbase: default\n"))
	require.NoError(t, err)
	require.Empty(t, auth.Apps)

	// Flow style works too.
	_, auth, err = sfemu.ParseOrgFile([]byte(`{version: 1, base: default, auth: {apps: [{clientId: f, clientSecret: s}]}}`))
	require.NoError(t, err)
	require.Equal(t, "f", auth.Apps[0].ClientID)

	// Errors: unknown auth keys, invalid auth, and schema errors keep their lines.
	_, _, err = sfemu.ParseOrgFile([]byte("auth:\n  apps:\n    - clientID: x\n"))
	require.ErrorContains(t, err, "line 3: field clientID not found")
	_, _, err = sfemu.ParseOrgFile([]byte("auth:\n  users:\n    - username: bob\n      password: p\n"))
	require.ErrorContains(t, err, `auth.users[0].username: "bob" is not in the form of an email address`)
	_, _, err = sfemu.ParseOrgFile([]byte("auth:\n  apps: []\nobjects:\n  - name: X__c\n    fields: {}\n"))
	require.ErrorContains(t, err, "line 5")
}

// authFormRequest and authServeReq let a test change the request before serving.
func authFormRequest(form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, authURL+"/services/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = authHost
	return req
}

func authServeReq(e http.Handler, req *http.Request) authResp {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return authResp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}
