package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tokenTimeout bounds one token request. The request runs detached from
// the context of the caller that started it, because other callers wait on
// the same request.
const tokenTimeout = time.Minute

// token is one access token and where to use it. It has no String method
// and is never logged.
type token struct {
	access      string
	instanceURL string
	orgID       string
	userID      string
}

// tokenFlight is one token request that several callers wait on.
type tokenFlight struct {
	done chan struct{}
	tok  *token
	err  error
}

// authenticator holds the one token all goroutines share, and fetches a new
// one at most once at a time (single flight).
type authenticator struct {
	cfg    Config
	key    *rsa.PrivateKey
	redact *redactor

	requests atomic.Int64 // token requests sent

	mu     sync.Mutex
	cur    *token
	flight *tokenFlight
}

func newAuthenticator(cfg Config, key *rsa.PrivateKey, r *redactor) *authenticator {
	a := &authenticator{cfg: cfg, key: key, redact: r}
	if cfg.Auth.Flow == FlowAccessToken {
		a.cur = &token{access: cfg.Auth.AccessToken, instanceURL: cfg.InstanceURL}
	}
	return a
}

// errCannotRefresh is returned when a static access token expired.
var errCannotRefresh = errors.New("the access_token flow cannot refresh an expired session; configure a new access token or a flow that can log in")

// token returns the current token, logging in first if there is none.
func (a *authenticator) token(ctx context.Context) (*token, error) {
	a.mu.Lock()
	if t := a.cur; t != nil {
		a.mu.Unlock()
		return t, nil
	}
	return a.joinLocked(ctx)
}

// refresh replaces stale, the token a call was refused with. Callers that
// saw the same stale token share one token request; a caller whose stale
// token was already replaced gets the new one without a request.
func (a *authenticator) refresh(ctx context.Context, stale *token) (*token, error) {
	a.mu.Lock()
	if a.cfg.Auth.Flow == FlowAccessToken {
		a.mu.Unlock()
		return nil, errCannotRefresh
	}
	if a.cur != nil && a.cur != stale {
		t := a.cur
		a.mu.Unlock()
		return t, nil
	}
	a.cur = nil
	return a.joinLocked(ctx)
}

// joinLocked waits on the token request in flight, starting one if none.
// a.mu must be held; joinLocked releases it.
func (a *authenticator) joinLocked(ctx context.Context) (*token, error) {
	f := a.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		a.flight = f
		go a.run(context.WithoutCancel(ctx), f)
	}
	a.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *authenticator) run(ctx context.Context, f *tokenFlight) {
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	tok, err := a.fetch(ctx)
	a.mu.Lock()
	f.tok, f.err = tok, err
	if err == nil {
		a.cur = tok
	}
	a.flight = nil
	a.mu.Unlock()
	close(f.done)
}

// tokenResponse is the token endpoint's success body (fact sheet §1.2).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	ID          string `json:"id"`
	TokenType   string `json:"token_type"`
	IssuedAt    string `json:"issued_at"`
}

// fetch sends one token request for the configured flow.
func (a *authenticator) fetch(ctx context.Context) (*token, error) {
	cfg, auth := a.cfg, a.cfg.Auth
	form := url.Values{}
	switch auth.Flow {
	case FlowClientCredentials:
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", auth.ClientID)
		form.Set("client_secret", auth.ClientSecret)
	case FlowJWTBearer:
		assertion, err := signJWT(a.key, auth.ClientID, auth.Username, jwtAudience(auth.Audience, cfg.LoginURL), cfg.Now())
		if err != nil {
			return nil, classified(fmt.Errorf("salesforce: jwt_bearer login: %w", err), Verdict{Class: ClassFatal})
		}
		a.redact.add(assertion)
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", assertion)
	case FlowRefreshToken:
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", auth.RefreshToken)
		form.Set("client_id", auth.ClientID)
		if auth.ClientSecret != "" {
			form.Set("client_secret", auth.ClientSecret)
		}
	case FlowPassword:
		form.Set("grant_type", "password")
		form.Set("client_id", auth.ClientID)
		form.Set("client_secret", auth.ClientSecret)
		form.Set("username", auth.Username)
		form.Set("password", auth.Password+auth.SecurityToken)
	default:
		return nil, classified(fmt.Errorf("salesforce: flow %q cannot log in", auth.Flow), Verdict{Class: ClassFatal})
	}
	what := fmt.Sprintf("salesforce: %s login at %s", auth.Flow, cfg.LoginURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.LoginURL+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, classified(fmt.Errorf("%s: %w", what, err), Verdict{Class: ClassFatal})
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	a.requests.Add(1)
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, a.redact.err(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the response: %w", what, a.redact.err(err))
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := a.redact.apiError(parseError(resp.StatusCode, resp.Header, body))
		v := classifyCode(resp.StatusCode, apiErr.Code, apiErr.Message)
		if apiErr.Code == "" && resp.StatusCode < 500 && resp.StatusCode != 429 {
			v = Verdict{Class: ClassFatal} // e.g. a 404: the login URL is wrong
		}
		return nil, classified(fmt.Errorf("%s: %w", what, apiErr), v)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("%s: the token response is not JSON: %s", what, bodyText(resp.StatusCode, resp.Header.Get("Content-Type"), body))
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("%s: the token response has no access_token", what)
	}
	a.redact.add(tr.AccessToken)
	if err := checkBaseURL(strings.TrimRight(tr.InstanceURL, "/")); err != nil {
		return nil, fmt.Errorf("%s: the token response's instance_url: %v", what, err)
	}
	tok := &token{access: tr.AccessToken, instanceURL: strings.TrimRight(tr.InstanceURL, "/")}
	tok.orgID, tok.userID = parseIdentityURL(tr.ID)
	cfg.Logger.Debug("salesforce: logged in", "flow", string(auth.Flow), "instance_url", tok.instanceURL, "org_id", tok.orgID)
	return tok, nil
}

// parseIdentityURL takes the org and user IDs from the token's id URL
// (…/id/{orgId}/{userId}), as jsforce and sfdx-core do.
func parseIdentityURL(id string) (org, user string) {
	parts := strings.Split(strings.TrimRight(id, "/"), "/")
	if len(parts) < 2 {
		return "", ""
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

// redactor removes known secrets from error text: the configured
// credentials and every token or assertion this client has handled. It is
// a last line of defence; nothing puts secrets in errors on purpose.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

func newRedactor(a Auth) *redactor {
	r := &redactor{}
	for _, s := range []string{a.ClientSecret, a.Password, a.Password + a.SecurityToken, a.SecurityToken, a.PrivateKeyPEM, a.RefreshToken, a.AccessToken} {
		r.add(s)
	}
	return r
}

// add registers a secret; very short strings are ignored (they would
// redact ordinary words).
func (r *redactor) add(s string) {
	if len(s) < 6 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.secrets {
		if have == s {
			return
		}
	}
	// Longest first, so a password+token is removed before the password.
	r.secrets = append(r.secrets, s)
	for i := len(r.secrets) - 1; i > 0 && len(r.secrets[i]) > len(r.secrets[i-1]); i-- {
		r.secrets[i], r.secrets[i-1] = r.secrets[i-1], r.secrets[i]
	}
}

func (r *redactor) string(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

func (r *redactor) apiError(e *APIError) *APIError {
	e.Message = r.string(e.Message)
	for i := range e.More {
		e.More[i].Message = r.string(e.More[i].Message)
	}
	return e
}

// err returns err, or a plain error with the secrets removed when its text
// held one (the chain is kept otherwise, so net errors stay recognisable).
func (r *redactor) err(err error) error {
	if err == nil {
		return nil
	}
	if s := err.Error(); r.string(s) != s {
		return errors.New(r.string(s))
	}
	return err
}

// warnPasswordFlow tells the operator, once per client, that the
// username-password flow is retiring.
func warnPasswordFlow(log *slog.Logger) {
	log.Warn("salesforce: the OAuth username-password flow is being retired by Salesforce (blocked by default in new orgs, enforced from 2027); switch to client_credentials or jwt_bearer — see docs/salesforce-setup.md",
		"flow", string(FlowPassword))
}
