package salesforce

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 1 << 20

// Client talks to one org. It is safe for concurrent use; all goroutines
// share its token, its API budget and its concurrency limit.
type Client struct {
	cfg    Config
	base   string // "/services/data/v62.0"
	auth   *authenticator
	redact *redactor
	budget *budget
	lim    *limiter

	requests atomic.Int64 // data API requests sent (what Salesforce counts)

	descMu    sync.Mutex
	describes map[string]*describeEntry
}

// New validates cfg and returns a Client. It does no network I/O; the first
// call logs in (or call Login). For the JWT bearer flow it reads and parses
// the private key now, so a bad key fails here.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("salesforce: invalid config: %w", err)
	}
	r := newRedactor(cfg.Auth)
	var key *rsa.PrivateKey
	if cfg.Auth.Flow == FlowJWTBearer {
		k, err := loadPrivateKey(cfg.Auth.PrivateKeyPEM, cfg.Auth.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("salesforce: invalid config: %w", err)
		}
		key = k
	}
	if cfg.Auth.Flow == FlowPassword {
		warnPasswordFlow(cfg.Logger)
	}
	c := &Client{
		cfg:       cfg,
		base:      "/services/data/v" + cfg.APIVersion,
		redact:    r,
		budget:    newBudget(cfg.APIReserve, cfg.BudgetWait, cfg.Now, cfg.Logger),
		lim:       newLimiter(cfg.MaxConcurrency),
		describes: map[string]*describeEntry{},
	}
	c.auth = newAuthenticator(cfg, key, r)
	return c, nil
}

// Login fetches a token now (the access_token flow has one already) and
// returns the org's instance URL.
func (c *Client) Login(ctx context.Context) (instanceURL string, err error) {
	tok, err := c.auth.token(ctx)
	if err != nil {
		return "", err
	}
	return tok.instanceURL, nil
}

// Usage returns the org's daily API usage as last reported.
func (c *Client) Usage() Usage { return c.budget.snapshot() }

// Requests returns how many data API requests this client has sent (token
// requests excluded; Salesforce does not count those either).
func (c *Client) Requests() int64 { return c.requests.Load() }

// TokenRequests returns how many token requests this client has sent.
func (c *Client) TokenRequests() int64 { return c.auth.requests.Load() }

// Concurrency returns the current concurrency limit and the requests in
// flight.
func (c *Client) Concurrency() (limit, inflight int) { return c.lim.state() }

// APIVersion returns the version the client speaks, e.g. "62.0".
func (c *Client) APIVersion() string { return c.cfg.APIVersion }

// request is one API call. Its body is a factory so the call can be
// replayed after a token refresh.
type request struct {
	method string
	// path is relative to /services/data/vXX.X ("/limits"), or absolute from
	// the instance root when it starts with "/services/" (nextRecordsUrl).
	path        string
	query       url.Values
	body        func() (io.Reader, error)
	contentType string
	accept      string
}

func (r request) String() string {
	return r.method + " " + r.path
}

// jsonBody returns a body factory for v encoded as JSON.
func jsonBody(v any) (func() (io.Reader, error), error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return func() (io.Reader, error) { return bytes.NewReader(data), nil }, nil
}

// send runs one call through the pipeline (budget → token → slot → request
// → usage → classify) and returns the response of a 2xx status. The caller
// must close its body, which frees the concurrency slot.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	if be := c.budget.admit(); be != nil {
		return nil, classified(fmt.Errorf("salesforce: %s: %w", r, be), Verdict{Class: ClassThrottle, Limit: LimitDaily, Wait: be.Wait})
	}
	tok, err := c.auth.token(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.lim.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("salesforce: %s: waiting for a request slot: %w", r, err)
	}
	resp, err := c.attempt(ctx, r, tok)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		apiErr := c.readError(resp)
		if normCode(apiErr.Code) != "INVALIDSESSIONID" {
			return nil, c.fail(r, s, apiErr)
		}
		c.cfg.Logger.Debug("salesforce: session expired; fetching a new token", "call", r.String())
		fresh, rerr := c.auth.refresh(ctx, tok)
		if rerr != nil {
			c.lim.release(s, outcomeOther)
			if errors.Is(rerr, errCannotRefresh) {
				return nil, classified(fmt.Errorf("salesforce: %s: %w; %w", r, apiErr, rerr), Verdict{Class: ClassFatal})
			}
			return nil, rerr
		}
		resp, err = c.attempt(ctx, r, fresh)
	}
	if err != nil {
		c.lim.release(s, outcomeOther)
		return nil, fmt.Errorf("salesforce: %s: %w", r, c.redact.err(err))
	}
	if resp.StatusCode >= 300 {
		return nil, c.fail(r, s, c.readError(resp))
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, release: func() { c.lim.release(s, outcomeSuccess) }}
	return resp, nil
}

// attempt sends r once with tok.
func (c *Client) attempt(ctx context.Context, r request, tok *token) (*http.Response, error) {
	path := r.path
	if !strings.HasPrefix(path, "/services/") {
		path = c.base + path
	}
	u := tok.instanceURL + path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		var err error
		if body, err = r.body(); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		if rc, ok := body.(io.Closer); ok {
			_ = rc.Close()
		}
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.access)
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Sforce-Call-Options", c.cfg.CallOptions)
	c.requests.Add(1)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	c.budget.observe(resp.Header)
	return resp, nil
}

// readError reads and closes an error response.
func (c *Client) readError(resp *http.Response) *APIError {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := parseError(resp.StatusCode, resp.Header, body)
	if resp.StatusCode == http.StatusMultipleChoices && e.Code == "" {
		e.Code = "MULTIPLE_CHOICES"
		e.Message = "the external ID matches several records"
	}
	return c.redact.apiError(e)
}

// fail classifies a request-level error, feeds the verdict to the budget
// and the limiter, frees the slot and returns the wrapped error.
func (c *Client) fail(r request, s slot, apiErr *APIError) error {
	v := classifyCode(apiErr.HTTPStatus, apiErr.Code, apiErr.Message)
	v.Wait = apiErr.RetryAfter
	o := outcomeOther
	if v.Class == ClassThrottle {
		switch v.Limit {
		case LimitDaily:
			c.budget.exhaust()
			v.Wait = max(v.Wait, c.cfg.BudgetWait)
		case LimitConcurrent:
			o = outcomeThrottled
			v.Wait = max(v.Wait, c.cfg.ThrottleWait)
		default:
			v.Wait = max(v.Wait, c.cfg.ThrottleWait)
		}
	}
	c.lim.release(s, o)
	return classified(fmt.Errorf("salesforce: %s: %w", r, apiErr), v)
}

// slotBody frees the request's concurrency slot when the body is closed.
type slotBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// doJSON sends r (with in as its JSON body when not nil) and decodes a JSON
// response into out (numbers as json.Number) when out is not nil.
func (c *Client) doJSON(ctx context.Context, r request, in, out any) error {
	if in != nil {
		body, err := jsonBody(in)
		if err != nil {
			return classified(fmt.Errorf("salesforce: %s: encoding the request: %w", r, err), Verdict{Class: ClassPermanent})
		}
		r.body, r.contentType = body, "application/json"
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("salesforce: %s: decoding the response: %w", r, err)
	}
	return nil
}
