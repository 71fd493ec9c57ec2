package salesforce

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/retry"
)

// Defaults, in one place.
const (
	DefaultAPIVersion = "62.0"
	// DefaultLoginURL is where the jwt_bearer, refresh_token and password
	// flows log in unless LoginURL says otherwise.
	DefaultLoginURL       = "https://login.salesforce.com"
	DefaultMaxConcurrency = 10
	// MaxLongRunning is Salesforce's limit of concurrent long-running
	// requests per production or sandbox org (5 in Developer Edition).
	MaxLongRunning    = 25
	DefaultAPIReserve = 0.20
	// DefaultBudgetWait is how long callers are told to wait once the daily
	// allowance is below the reserve or exhausted; after it one probe call
	// goes through to learn whether usage has recovered.
	DefaultBudgetWait = 15 * time.Minute
	// DefaultThrottleWait is the suggested wait after the concurrent-request
	// limit was hit.
	DefaultThrottleWait = 2 * time.Second
	// DefaultBulkMaxBytes keeps each Bulk upload under Salesforce's 150 MB
	// (base64-encoded) per-job limit.
	DefaultBulkMaxBytes = 100_000_000
	// CollectionLimit is the most records one sObject Collections call takes.
	CollectionLimit = 200
)

// DefaultBulkPoll is the backoff between polls of a Bulk job's state.
func DefaultBulkPoll() retry.Policy {
	return retry.Policy{Initial: 500 * time.Millisecond, Max: 15 * time.Second, Multiplier: 1.5, Jitter: 0.2, Rand: rand.Float64}
}

// Flow is an OAuth login flow. The names match the `auth.flow` config key.
type Flow string

// The login flows.
const (
	FlowClientCredentials Flow = "client_credentials"
	FlowJWTBearer         Flow = "jwt_bearer"
	FlowRefreshToken      Flow = "refresh_token"
	// FlowPassword is the OAuth username-password flow. Salesforce is
	// retiring it; the client warns once when it is used.
	FlowPassword    Flow = "password"
	FlowAccessToken Flow = "access_token"
)

// Auth holds the credentials of one flow. Printing it (fmt, slog) shows the
// flow, the client ID and the username only.
type Auth struct {
	Flow         Flow
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	// SecurityToken is appended to Password (password flow) when the
	// caller's IP is not trusted by the org.
	SecurityToken string
	// PrivateKeyPEM is an RSA private key in PEM (PKCS#1 or PKCS#8) for the
	// JWT bearer flow, e.g. read from an environment variable. Set it or
	// PrivateKeyFile.
	PrivateKeyPEM  string
	PrivateKeyFile string
	// Audience is the JWT `aud` claim. Empty means https://test.salesforce.com
	// when LoginURL is a sandbox host and https://login.salesforce.com
	// otherwise; an Experience Cloud site or My Domain URL can be set here.
	Audience     string
	RefreshToken string
	// AccessToken is a static token (access_token flow, which needs
	// Config.InstanceURL and cannot refresh).
	AccessToken string
}

// String shows no secret.
func (a Auth) String() string {
	return fmt.Sprintf("salesforce.Auth{Flow:%s ClientID:%q Username:%q}", a.Flow, a.ClientID, a.Username)
}

// Format makes every fmt verb print String.
func (a Auth) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(a.String())) }

// LogValue shows no secret.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("flow", string(a.Flow)), slog.String("client_id", a.ClientID), slog.String("username", a.Username))
}

// Config configures a Client. The zero value of every field but Auth and
// LoginURL (or InstanceURL for the access_token flow) has a default.
type Config struct {
	// LoginURL is the OAuth host: https://login.salesforce.com (the default
	// for jwt_bearer, refresh_token and password), https://test.salesforce.com
	// or the org's My Domain (required for client_credentials).
	LoginURL string
	// InstanceURL is the org's API host, needed by the access_token flow only
	// (the others learn it from the token response).
	InstanceURL string
	// APIVersion such as "62.0" (a leading "v" is accepted).
	APIVersion string
	Auth       Auth
	// HTTPClient sends every request, token requests included.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// MaxConcurrency bounds the requests in flight (default 10).
	MaxConcurrency int
	// APIReserve is the fraction (0–1) of the org's daily API allowance left
	// to others. 0 means DefaultAPIReserve; a negative value spends it all.
	APIReserve   float64
	BudgetWait   time.Duration
	ThrottleWait time.Duration
	// BulkPoll is the backoff between Bulk job polls; zero means
	// DefaultBulkPoll.
	BulkPoll retry.Policy
	// BulkMaxBytes caps the CSV uploaded per Bulk job (default 100 MB).
	BulkMaxBytes int64
	// CallOptions is sent as Sforce-Call-Options (default client=sfbridge).
	CallOptions string
	// Now is the clock (tests inject one).
	Now func() time.Time
}

var versionRE = regexp.MustCompile(`^[0-9]{2,3}\.0$`)

// minAPIVersion is the oldest version with sObject Collections upsert.
const minAPIVersion = 46

// withDefaults returns c with every unset field defaulted.
func (c Config) withDefaults() Config {
	c.APIVersion = strings.TrimPrefix(strings.TrimSpace(c.APIVersion), "v")
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.HTTPClient == nil {
		// A transport of its own: the shared http.DefaultTransport has its
		// idle connections closed by anything else in the process (an
		// httptest.Server's Close does it), which breaks a request that was
		// about to reuse one.
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	switch {
	case c.APIReserve == 0:
		c.APIReserve = DefaultAPIReserve
	case c.APIReserve < 0:
		c.APIReserve = 0
	}
	if c.BudgetWait == 0 {
		c.BudgetWait = DefaultBudgetWait
	}
	if c.ThrottleWait == 0 {
		c.ThrottleWait = DefaultThrottleWait
	}
	if c.BulkPoll.Initial == 0 {
		c.BulkPoll = DefaultBulkPoll()
	}
	if c.BulkMaxBytes == 0 {
		c.BulkMaxBytes = DefaultBulkMaxBytes
	}
	if c.CallOptions == "" {
		c.CallOptions = "client=sfbridge"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.LoginURL = strings.TrimRight(strings.TrimSpace(c.LoginURL), "/")
	if c.LoginURL == "" {
		switch c.Auth.Flow {
		case FlowJWTBearer, FlowRefreshToken, FlowPassword:
			c.LoginURL = DefaultLoginURL
		}
	}
	c.InstanceURL = strings.TrimRight(strings.TrimSpace(c.InstanceURL), "/")
	return c
}

// Validate reports every problem with c (after defaults), each naming its
// field. It does no I/O; the private key file is read by New.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !versionRE.MatchString(c.APIVersion) {
		add("api_version: %q is not a version like 62.0", c.APIVersion)
	} else if v, _ := strconv.Atoi(strings.TrimSuffix(c.APIVersion, ".0")); v < minAPIVersion {
		add("api_version: %s is too old; sObject Collections upsert needs %d.0 or later", c.APIVersion, minAPIVersion)
	}
	if c.MaxConcurrency < 1 {
		add("max_concurrency: must be ≥ 1, got %d", c.MaxConcurrency)
	}
	if c.APIReserve >= 1 {
		add("api_reserve: must be below 100%%, got %g%%", c.APIReserve*100)
	}
	if c.BudgetWait < 0 || c.ThrottleWait < 0 {
		add("budget_wait, throttle_wait: must be ≥ 0")
	}
	if c.BulkMaxBytes < 1<<16 {
		add("bulk_max_bytes: must be ≥ 64KiB, got %d", c.BulkMaxBytes)
	}
	if err := c.BulkPoll.Validate(); err != nil {
		add("bulk_poll: %v", err)
	}
	a := c.Auth
	need := func(name, v string) {
		if v == "" {
			add("auth.%s: required by the %s flow", name, a.Flow)
		}
	}
	if a.Flow != FlowAccessToken {
		if err := checkBaseURL(c.LoginURL); err != nil {
			add("login_url: %v", err)
		}
	}
	switch a.Flow {
	case FlowClientCredentials:
		need("client_id", a.ClientID)
		need("client_secret", a.ClientSecret)
		if u, err := url.Parse(c.LoginURL); err == nil && isGenericLoginHost(u.Hostname()) {
			add("login_url: the client_credentials flow must use the org's My Domain (https://<name>.my.salesforce.com), not %s", u.Hostname())
		}
	case FlowJWTBearer:
		need("client_id", a.ClientID)
		need("username", a.Username)
		if (a.PrivateKeyPEM == "") == (a.PrivateKeyFile == "") {
			add("auth.private_key: set exactly one of the PEM text and the key file")
		}
	case FlowRefreshToken:
		need("client_id", a.ClientID)
		need("refresh_token", a.RefreshToken)
	case FlowPassword:
		need("client_id", a.ClientID)
		need("client_secret", a.ClientSecret)
		need("username", a.Username)
		need("password", a.Password)
	case FlowAccessToken:
		need("access_token", a.AccessToken)
		if err := checkBaseURL(c.InstanceURL); err != nil {
			add("instance_url: %v (required by the access_token flow)", err)
		}
	case "":
		add("auth.flow: required (one of client_credentials, jwt_bearer, refresh_token, password, access_token)")
	default:
		add("auth.flow: unknown flow %q (one of client_credentials, jwt_bearer, refresh_token, password, access_token)", a.Flow)
	}
	return errors.Join(errs...)
}

// checkBaseURL accepts an https URL of a host, or plain http for loopback
// hosts only (the emulator): a bearer token never crosses a network in
// clear text.
func checkBaseURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q: plain http is only allowed for localhost and loopback addresses; use https", s)
	}
	if u.User != nil {
		return errors.New("must not carry credentials")
	}
	if u.Path != "" || u.RawQuery != "" {
		return fmt.Errorf("%q must be a bare host URL, without path or query", s)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isGenericLoginHost(host string) bool {
	host = strings.ToLower(host)
	return host == "login.salesforce.com" || host == "test.salesforce.com"
}

// isSandboxHost reports whether host is test.salesforce.com or a sandbox My
// Domain.
func isSandboxHost(host string) bool {
	host = strings.ToLower(host)
	return host == "test.salesforce.com" || strings.HasSuffix(host, ".sandbox.my.salesforce.com")
}
