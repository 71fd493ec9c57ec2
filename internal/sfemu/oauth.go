package sfemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OAuth 2.0 token endpoint (fact sheet §1): the client_credentials,
// password, refresh_token and JWT bearer grants, token revocation. Every
// error is HTTP 400 with {"error","error_description"}: the fact sheet
// reports 400 for essentially all token errors and only unverified reports
// of 401 for invalid_client, so 400 it is (docs/emulator.md "OAuth").

const (
	grantClientCredentials = "client_credentials"
	grantPassword          = "password"
	grantRefreshToken      = "refresh_token"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// OAuth error pairs (fact sheet §1.3). Texts marked (unverified) there are
// used as written.
var (
	oauthAuthFailure      = oauthError{"invalid_grant", "authentication failure"}
	oauthExpiredToken     = oauthError{"invalid_grant", "expired access/refresh token"}
	oauthWrongDomain      = oauthError{"invalid_grant", "request not supported on this domain"}
	oauthNoRunAs          = oauthError{"invalid_grant", "no client credentials user enabled"}
	oauthNotApproved      = oauthError{"invalid_grant", "user hasn't approved this consumer"}
	oauthInvalidAssertion = oauthError{"invalid_grant", "invalid assertion"}
	oauthExpiredAssertion = oauthError{"invalid_grant", "expired authorization code"}
	oauthBadAudience      = oauthError{"invalid_grant", "Audience validation failed"}
	oauthInvalidClientID  = oauthError{"invalid_client_id", "client identifier invalid"}
	oauthInvalidClient    = oauthError{"invalid_client", "invalid client credentials"}
	oauthUnsupportedGrant = oauthError{"unsupported_grant_type", "grant type not supported"}
	oauthMissingGrant     = oauthError{"invalid_request", "grant type is missing"}
	oauthUnsupportedToken = oauthError{"unsupported_token_type", "this token type is not supported"}
)

// Refresh tokens look like Salesforce's: "5Aep861" and an opaque body.
const (
	refreshTokenPrefix     = "5Aep861"
	refreshTokenBodyLength = 80
)

type oauthError struct{ code, desc string }

// authServer serves the OAuth and identity endpoints of one emulator.
type authServer struct {
	e    *Emulator
	org  *Org
	apps []*compiledApp
	// users by lower-case username
	users map[string]UserCredential

	mu      sync.Mutex
	refresh map[string]refreshGrant
}

type refreshGrant struct {
	clientID string
	userID   string
}

func init() {
	extend(func(e *Emulator) {
		cfg := e.opts.Auth.WithDefaults(e.opts.Username)
		apps, err := compileAuth(cfg)
		if err != nil {
			// New has no error to return: the entries that failed are
			// still listed (their certificate unusable); say what is wrong.
			e.log.Error("emulator auth config is invalid", "error", err.Error())
		}
		a := &authServer{e: e, org: e.org, apps: apps, users: map[string]UserCredential{}, refresh: map[string]refreshGrant{}}
		for _, u := range cfg.Users {
			a.users[strings.ToLower(u.Username)] = u
		}
		e.handle("POST /services/oauth2/token", "oauth.token", accessPublic, a.token)
		e.handle("POST /services/oauth2/revoke", "oauth.revoke", accessPublic, a.revoke)
		e.handle("GET /services/oauth2/revoke", "oauth.revoke", accessPublic, a.revoke)
		e.handle("GET /services/oauth2/userinfo", "oauth.userinfo", accessSession, a.userinfo)
		e.handle("POST /services/oauth2/userinfo", "oauth.userinfo", accessSession, a.userinfo)
		e.handle("GET /id/{org}/{user}", "identity", accessPublic, a.identity)
		e.handle("POST "+adminPrefix+"/token", "admin.token", accessPublic, a.adminToken)
		e.handle("GET "+adminPrefix+"/jwt-key", "admin.jwt_key", accessPublic, a.adminJWTKey)
	})
}

func (c *Call) oauthError(err oauthError) {
	c.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	c.JSON(http.StatusBadRequest, orderedMap{{"error", err.code}, {"error_description", err.desc}})
}

// formParams returns the query parameters merged with a form-encoded body
// (clients send the body; Salesforce also reads the query string).
func (c *Call) formParams() url.Values {
	v := c.Req.URL.Query()
	ct := strings.ToLower(c.Req.Header.Get("Content-Type"))
	if ct == "" || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		if b, err := c.RequestBody(); err == nil && len(b) > 0 {
			if form, err := url.ParseQuery(string(b)); err == nil {
				for k, vs := range form {
					v[k] = append(vs, v[k]...)
				}
			}
		}
	}
	return v
}

func (a *authServer) app(clientID string) *compiledApp {
	for _, app := range a.apps {
		if app.ClientID == clientID {
			return app
		}
	}
	return nil
}

// clientCredentials returns the client id and secret from the form or from HTTP
// Basic authentication (form-encoded per RFC 6749 §2.3.1).
func clientCredentials(c *Call, p url.Values) (id, secret string) {
	id, secret = p.Get("client_id"), p.Get("client_secret")
	if u, s, ok := c.Req.BasicAuth(); ok {
		if x, err := url.QueryUnescape(u); err == nil {
			u = x
		}
		if x, err := url.QueryUnescape(s); err == nil {
			s = x
		}
		if id == "" {
			id = u
		}
		if secret == "" {
			secret = s
		}
	}
	return id, secret
}

func equalSecret(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authenticateClient checks the calling client's id and, when required or
// given, its secret (see clientCredentials). On failure it answers the
// OAuth error and returns nil.
func (a *authServer) authenticateClient(c *Call, p url.Values, secretRequired bool) *compiledApp {
	id, secret := clientCredentials(c, p)
	app := a.app(id)
	switch {
	case id == "" || app == nil:
		c.oauthError(oauthInvalidClientID)
		return nil
	case (secretRequired || secret != "") && !equalSecret(secret, app.ClientSecret):
		c.oauthError(oauthInvalidClient)
		return nil
	}
	return app
}

func (a *authServer) token(c *Call) {
	p := c.formParams()
	switch p.Get("grant_type") {
	case "":
		c.oauthError(oauthMissingGrant)
	case grantClientCredentials:
		a.clientCredentialsGrant(c, p)
	case grantPassword:
		a.passwordGrant(c, p)
	case grantRefreshToken:
		a.refreshGrant(c, p)
	case grantJWTBearer:
		a.jwtGrant(c, p)
	default:
		c.oauthError(oauthUnsupportedGrant)
	}
}

// loginHost reports whether the request was sent to Salesforce's shared
// login hosts, where client_credentials is refused (fact sheet §1.1).
func loginHost(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return h == "login.salesforce.com" || h == "test.salesforce.com"
}

func (a *authServer) clientCredentialsGrant(c *Call, p url.Values) {
	if loginHost(c.Req.Host) {
		c.oauthError(oauthWrongDomain)
		return
	}
	app := a.authenticateClient(c, p, true)
	if app == nil {
		return
	}
	if app.RunAs == RunAsNone {
		c.oauthError(oauthNoRunAs)
		return
	}
	if app.RunAs != "" {
		a.issueFor(c, app, app.RunAs, oauthNoRunAs)
		return
	}
	userID, _ := a.org.DefaultUser()
	a.issue(c, app, userID, false, 0)
}

// issueFor issues app a token for the user named username (see userID), or
// answers fail when there is no such user.
func (a *authServer) issueFor(c *Call, app *compiledApp, username string, fail oauthError) {
	userID, ok := a.userID(username)
	if !ok {
		c.oauthError(fail)
		return
	}
	a.issue(c, app, userID, false, 0)
}

func (a *authServer) passwordGrant(c *Call, p url.Values) {
	app := a.authenticateClient(c, p, true)
	if app == nil {
		return
	}
	u, ok := a.users[strings.ToLower(p.Get("username"))]
	if !ok || !equalSecret(p.Get("password"), u.Password+u.SecurityToken) {
		c.oauthError(oauthAuthFailure)
		return
	}
	a.issueFor(c, app, u.Username, oauthAuthFailure)
}

func (a *authServer) refreshGrant(c *Call, p url.Values) {
	app := a.authenticateClient(c, p, false)
	if app == nil {
		return
	}
	a.mu.Lock()
	g, ok := a.refresh[p.Get("refresh_token")]
	a.mu.Unlock()
	if !ok || g.clientID != app.ClientID || !a.userExists(g.userID) {
		c.oauthError(oauthExpiredToken)
		return
	}
	a.issue(c, app, g.userID, false, 0)
}

func (a *authServer) jwtGrant(c *Call, p url.Values) {
	claims, signed, sig, err := parseJWT(p.Get("assertion"))
	if err != nil {
		c.oauthError(oauthInvalidAssertion)
		return
	}
	app := a.app(claims.Iss)
	if claims.Iss == "" || app == nil {
		c.oauthError(oauthInvalidClientID)
		return
	}
	key := app.key
	if app.demo {
		k, err := DemoJWTKey()
		if err != nil {
			c.oauthError(oauthInvalidAssertion)
			return
		}
		key = &k.PublicKey
	}
	if !verifyJWT(key, signed, sig) {
		c.oauthError(oauthInvalidAssertion)
		return
	}
	if !a.audienceOK(c, app, claims.Aud) {
		c.oauthError(oauthBadAudience)
		return
	}
	if !a.org.Now().Before(claims.Exp) {
		c.oauthError(oauthExpiredAssertion)
		return
	}
	u, ok := a.users[strings.ToLower(claims.Sub)]
	if !ok {
		c.oauthError(oauthNotApproved)
		return
	}
	a.issueFor(c, app, u.Username, oauthNotApproved)
}

// audienceOK accepts the login and test hosts, the emulator's own URL (a
// My Domain or Experience Cloud site URL) and the app's extra audiences.
func (a *authServer) audienceOK(c *Call, app *compiledApp, aud []string) bool {
	ok := map[string]bool{
		"https://login.salesforce.com": true, "https://test.salesforce.com": true,
		strings.ToLower(c.BaseURL()): true,
	}
	for _, x := range app.Audiences {
		ok[strings.ToLower(strings.TrimRight(x, "/"))] = true
	}
	for _, x := range aud {
		if ok[strings.ToLower(strings.TrimRight(x, "/"))] {
			return true
		}
	}
	return false
}

// issue mints a session for userID and answers with the token response
// (fact sheet §1.2); withRefresh adds a refresh token; ttl 0 is the org's
// session lifetime.
func (a *authServer) issue(c *Call, app *compiledApp, userID string, withRefresh bool, ttl time.Duration) {
	s := a.org.NewSession(userID, ttl)
	issued := strconv.FormatInt(s.Issued.UnixMilli(), 10)
	idURL := c.BaseURL() + "/id/" + a.org.ID() + "/" + userID
	mac := hmac.New(sha256.New, []byte(app.ClientSecret))
	mac.Write([]byte(idURL + issued))
	resp := orderedMap{{"access_token", s.Token}}
	if withRefresh {
		resp = append(resp, kv{"refresh_token", a.newRefreshToken(app.ClientID, userID)})
	}
	resp = append(resp,
		kv{"instance_url", c.BaseURL()},
		kv{"id", idURL},
		kv{"token_type", "Bearer"},
		kv{"issued_at", issued},
		kv{"signature", base64.StdEncoding.EncodeToString(mac.Sum(nil))},
		kv{"scope", app.Scope},
	)
	c.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	c.JSON(http.StatusOK, resp)
}

func (a *authServer) newRefreshToken(clientID, userID string) string {
	var b strings.Builder
	b.WriteString(refreshTokenPrefix)
	a.org.rngMu.Lock()
	for i := 0; i < refreshTokenBodyLength; i++ {
		b.WriteByte(tokenChars[a.org.rng.IntN(len(tokenChars))])
	}
	a.org.rngMu.Unlock()
	t := b.String()
	a.mu.Lock()
	a.refresh[t] = refreshGrant{clientID: clientID, userID: userID}
	a.mu.Unlock()
	return t
}

// revoke answers POST/GET /services/oauth2/revoke?token=: 200 with an
// empty body for a known access or refresh token, else 400
// unsupported_token_type (unverified; docs/emulator.md).
func (a *authServer) revoke(c *Call) {
	t := c.formParams().Get("token")
	a.mu.Lock()
	_, isRefresh := a.refresh[t]
	delete(a.refresh, t)
	a.mu.Unlock()
	if t == "" || !(isRefresh || a.org.RevokeSession(t)) {
		c.oauthError(oauthUnsupportedToken)
		return
	}
	c.Body(http.StatusOK, "", nil)
}
