package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Validate checks the config as it is (defaults already set) and returns a
// *Problems listing every problem, or nil. It does no I/O: nothing is
// connected to, no file is opened.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.config()
	probs := &Problems{File: c.file, List: v.problems}
	return probs.Err()
}

type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Line: v.c.Line(path), Message: fmt.Sprintf(format, args...)})
}

// show quotes a (non-secret) value for a message, or names the reference it
// came from.
func (v *validator) show(path, s string) string {
	if r, ok := v.c.refs[path]; ok {
		return "the value of " + r
	}
	return strconv.Quote(shorten(s))
}

// required reports an empty value, saying which reference it came from.
func (v *validator) required(path, why string) {
	msg := "required"
	if why != "" {
		msg += " " + why
	}
	if r, ok := v.c.refs[path]; ok {
		msg += fmt.Sprintf(" (it comes from %s, which is empty)", r)
	}
	v.add(path, "%s", msg)
}

func (v *validator) config() {
	c := v.c
	switch {
	case c.Version == 0:
		v.add("version", "required; write \"version: %d\" at the top", Version)
	case c.Version != Version:
		v.add("version", "must be %d, got %d", Version, c.Version)
	}
	v.nats()
	if c.NATS.Embedded() && c.DataDir == "" {
		v.required("data_dir", "with nats: embedded")
	}
	enum(v, "log.level", c.Log.Level, []LogLevel{LogDebug, LogInfo, LogWarn, LogError})
	enum(v, "log.format", c.Log.Format, []LogFormat{LogText, LogJSON})
	v.salesforce()
	v.sources()
	v.syncs()
	v.delivery()
	v.queue()
	v.alerts()
	v.admin()
}

func (v *validator) nats() {
	n := v.c.NATS
	if n.URL.IsZero() {
		v.required("nats", `("embedded" or nats:// URLs)`)
		return
	}
	if n.Embedded() {
		return
	}
	for i, s := range n.Servers() {
		// A URL may carry credentials: never echo it.
		u, err := url.Parse(s.Reveal())
		switch {
		case err != nil:
			v.add("nats", `server %d is not a URL (expected "embedded" or nats://host:4222[,nats://host2:4222])`, i+1)
		case !oneOf(u.Scheme, []string{"nats", "tls", "ws", "wss"}):
			v.add("nats", `server %d: scheme must be nats, tls, ws or wss (or write "embedded")`, i+1)
		case u.Host == "":
			v.add("nats", "server %d has no host", i+1)
		}
	}
}

var apiVersion = regexp.MustCompile(`^([0-9]{2,3})\.0$`)

func (v *validator) salesforce() {
	sf := v.c.Salesforce
	a := sf.Auth
	if a.Flow == "" {
		v.required("salesforce.auth.flow", "(one of "+list(AuthFlows)+")")
	} else if enum(v, "salesforce.auth.flow", a.Flow, AuthFlows) {
		keys := authKeys[a.Flow]
		set := a.set()
		uses := append(append([]string{}, keys.required...), keys.optional...)
		for _, k := range keys.required {
			if !set[k] {
				v.required("salesforce.auth."+k, "for flow "+string(a.Flow))
			}
		}
		for _, k := range []string{"client_id", "client_secret", "username", "password", "security_token", "private_key", "audience", "refresh_token", "access_token"} {
			if set[k] && !oneOf(k, uses) {
				v.add("salesforce.auth."+k, "not used by flow %s (it uses %s)", a.Flow, strings.Join(uses, ", "))
			}
		}
		v.loginURL(sf)
		if a.Flow == FlowJWTBearer && !a.PrivateKey.IsZero() {
			v.privateKey("salesforce.auth.private_key", a.PrivateKey)
		}
		if a.Flow == FlowJWTBearer && a.Audience != "" {
			v.httpURL("salesforce.auth.audience", a.Audience, false)
		}
	}
	if sf.APIVersion == "" {
		v.required("salesforce.api_version", `(like "62.0")`)
	} else if m := apiVersion.FindStringSubmatch(sf.APIVersion); m == nil {
		v.add("salesforce.api_version", `expected a version like "62.0", got %s`, v.show("salesforce.api_version", sf.APIVersion))
	} else if n, _ := strconv.Atoi(m[1]); n < 46 {
		v.add("salesforce.api_version", "must be 46.0 or later (sObject Collections upsert needs it), got %s", v.show("salesforce.api_version", sf.APIVersion))
	}
	v.intRange("salesforce.max_concurrency", sf.MaxConcurrency, 1, 25, " (Salesforce allows 25 long-running requests per org)")
	if sf.BudgetWait < time.Second || sf.BudgetWait > 24*time.Hour {
		v.add("salesforce.budget_wait", "must be from 1s to 24h, got %s", sf.BudgetWait)
	}
	if sf.APIReserve < 0 || sf.APIReserve >= 100 {
		v.add("salesforce.api_reserve", "must be from 0%% to below 100%%, got %s", sf.APIReserve)
	}
	if sf.BulkThreshold < 1 {
		v.add("salesforce.bulk_threshold", "must be at least 1, got %d", sf.BulkThreshold)
	}
}

func (v *validator) loginURL(sf Salesforce) {
	switch sf.Auth.Flow {
	case FlowAccessToken:
		if sf.LoginURL != "" {
			v.add("salesforce.login_url", "not used by flow access_token (set instance_url)")
		}
		if sf.InstanceURL == "" {
			v.required("salesforce.instance_url", "for flow access_token (your org's URL, e.g. https://acme.my.salesforce.com)")
		} else {
			v.httpURL("salesforce.instance_url", sf.InstanceURL, false)
		}
		return
	case FlowClientCredentials:
		if sf.LoginURL == "" {
			v.required("salesforce.login_url", "for flow client_credentials: your org's My Domain, e.g. https://acme.my.salesforce.com")
			break
		}
		if u, err := url.Parse(sf.LoginURL); err == nil {
			switch strings.ToLower(u.Hostname()) {
			case "login.salesforce.com", "test.salesforce.com":
				v.add("salesforce.login_url", "flow client_credentials must use your org's My Domain (e.g. https://acme.my.salesforce.com); %s answers invalid_grant", v.show("salesforce.login_url", u.Hostname()))
				return
			}
		}
	}
	if sf.LoginURL != "" {
		v.httpURL("salesforce.login_url", sf.LoginURL, false)
	}
	if sf.InstanceURL != "" {
		v.add("salesforce.instance_url", "only used by flow access_token (flow %s learns it from the token response)", sf.Auth.Flow)
	}
}

// privateKey checks that a secret holds a usable RSA key, never echoing it.
func (v *validator) privateKey(path string, key Secret) {
	block, _ := pem.Decode([]byte(key.Reveal()))
	if block == nil {
		v.add(path, "not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
		return
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		v.add(path, "encrypted private keys are not supported; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
		return
	}
	var parsed any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
		v.add(path, "holds a PEM %s; expected PRIVATE KEY or RSA PRIVATE KEY", block.Type)
		return
	default:
		v.add(path, "holds an unexpected PEM block; expected PRIVATE KEY or RSA PRIVATE KEY")
		return
	}
	if err != nil {
		v.add(path, "the PEM private key does not parse")
		return
	}
	if _, ok := parsed.(*rsa.PrivateKey); !ok {
		v.add(path, "must be an RSA key (the JWT bearer flow signs with RS256)")
	}
}

// httpURL checks an http(s) URL. http is allowed only for loopback hosts
// (an emulator) unless plainOK. Secret URLs are never echoed: pass secret.
func (v *validator) httpURL(path, s string, plainOK bool) {
	v.checkURL(path, s, plainOK, false)
}

func (v *validator) secretURL(path string, s Secret, plainOK bool) {
	v.checkURL(path, s.Reveal(), plainOK, true)
}

func (v *validator) checkURL(path, s string, plainOK, secret bool) {
	got := ""
	if !secret {
		got = ", got " + v.show(path, s)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		v.add(path, "expected an https:// URL%s", got)
	case u.Scheme == "http" && !plainOK && !loopback(u.Hostname()):
		v.add(path, "must use https (plain http is allowed only for localhost)%s", got)
	}
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var hostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// listen checks a host:port listen address; it returns whether it is valid.
func (v *validator) listen(path, addr string) bool {
	if addr == "" {
		v.required(path, "(host:port, e.g. 127.0.0.1:8080)")
		return false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "expected host:port (e.g. 127.0.0.1:8080 or :8080), got %s", v.show(path, addr))
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "port must be a number from 0 to 65535, got %s", v.show(path, port))
		return false
	}
	if host != "" && net.ParseIP(host) == nil && !hostname.MatchString(host) {
		v.add(path, "host %s is neither an IP address nor a host name", v.show(path, host))
		return false
	}
	return true
}

func listenLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopback(host)
}

// enum checks that val is one of allowed (an empty val is left to required
// checks); it reports whether val is allowed.
func enum[T enumString](v *validator, path string, val T, allowed []T) bool {
	if oneOf(val, allowed) {
		return true
	}
	if val == "" {
		v.required(path, "(one of "+list(allowed)+")")
		return false
	}
	v.add(path, "must be one of %s, got %s", list(allowed), v.show(path, string(val)))
	return false
}

func (v *validator) intRange(path string, n, lo, hi int, why string) {
	if n < lo || n > hi {
		v.add(path, "must be from %d to %d%s, got %d", lo, hi, why, n)
	}
}

// concurrency checks batches in flight per sync: at most
// salesforce.max_concurrency (when that is itself valid).
func (v *validator) concurrency(path string, n int) {
	limit := v.c.Salesforce.MaxConcurrency
	if limit < 1 || limit > 25 {
		v.intRange(path, n, 1, 25, "")
		return
	}
	v.intRange(path, n, 1, limit, " (salesforce.max_concurrency)")
}

func (v *validator) durationMin(path string, d, lo time.Duration) {
	if d < lo {
		if lo == 0 {
			v.add(path, "must not be negative, got %s", d)
			return
		}
		v.add(path, "must be at least %s, got %s", lo, d)
	}
}

var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// identName checks a source, sync or alert name.
func (v *validator) identName(path, s string) bool {
	if s == "" {
		v.required(path, "")
		return false
	}
	if !namePattern.MatchString(s) {
		v.add(path, "%s is not a valid name: start with a letter, then letters, digits, _ or -, at most 64", v.show(path, s))
		return false
	}
	return true
}

// unique reports names used twice in a list.
func (v *validator) unique(listPath string, names []string) {
	first := map[string]int{}
	for i, n := range names {
		if n == "" {
			continue
		}
		if j, dup := first[n]; dup {
			p := index(listPath, i) + ".name"
			v.add(p, "%s is already the name of %s", v.show(p, n), index(listPath, j))
			continue
		}
		first[n] = i
	}
}

func (v *validator) admin() {
	a := v.c.Admin
	if !v.listen("admin.listen", a.Listen) {
		return
	}
	if !listenLoopback(a.Listen) && a.Token.IsZero() {
		v.required("admin.token", "when admin.listen is not a loopback address (anyone who can reach it could replay or drop records)")
	}
	// Two servers on one address cannot both start.
	seen := map[string]string{a.Listen: "admin.listen"}
	for i, s := range v.c.Sources {
		if s.Type != SourceHTTP || s.HTTP == nil || s.HTTP.Listen == "" {
			continue
		}
		p := index("sources", i) + ".listen"
		if strings.HasSuffix(s.HTTP.Listen, ":0") {
			continue // the system picks a free port for each
		}
		if other, dup := seen[s.HTTP.Listen]; dup {
			v.add(p, "%s is already used by %s", v.show(p, s.HTTP.Listen), other)
			continue
		}
		seen[s.HTTP.Listen] = p
	}
}

func (v *validator) delivery() {
	d := v.c.Delivery
	v.intRange("delivery.batch_size", d.BatchSize, 1, maxBatch, "")
	v.durationMin("delivery.linger", d.Linger, 0)
	v.concurrency("delivery.concurrency", d.Concurrency)
	v.intRange("delivery.max_attempts", d.MaxAttempts, 1, 1000, "")
	v.durationMin("delivery.backoff.initial", d.Backoff.Initial, time.Millisecond)
	if d.Backoff.Max < d.Backoff.Initial {
		v.add("delivery.backoff.max", "must be at least backoff.initial (%s), got %s", d.Backoff.Initial, d.Backoff.Max)
	}
	if d.DLQWindow.Size < 0 {
		v.add("delivery.dlq_window.size", "must be 0 (off) or more, got %d", d.DLQWindow.Size)
	}
	if d.DLQWindow.Size > 0 && (d.DLQWindow.Threshold <= 0 || d.DLQWindow.Threshold > 100) {
		v.add("delivery.dlq_window.threshold", "must be above 0%% and at most 100%%, got %s", d.DLQWindow.Threshold)
	}
	if d.MaxBacklog < 0 {
		v.add("delivery.max_backlog", "must be 0 (off) or more, got %d", d.MaxBacklog)
	}
	enum(v, "delivery.version_guard", d.VersionGuard, VersionGuards)
}

func (v *validator) queue() {
	if w := v.c.Queue.DedupWindow; w <= 0 {
		v.add("queue.dedup_window", "must be above 0, got %s", w)
	}
}

// maxBatch bounds batch sizes (Bulk API 2.0 takes larger batches, but a
// batch is held in memory).
const maxBatch = 10_000

func (v *validator) alerts() {
	names := make([]string, len(v.c.Alerts))
	for i, a := range v.c.Alerts {
		p := index("alerts", i)
		names[i] = a.Name
		v.identName(p+".name", a.Name)
		enum(v, p+".type", a.Type, AlertTypes)
		if a.URL.IsZero() {
			v.required(p+".url", "")
		} else {
			v.secretURL(p+".url", a.URL, true)
		}
		if len(a.Events) == 0 {
			v.add(p+".events", "list at least one of %s", list(AlertEvents))
		}
		seen := map[AlertEvent]bool{}
		for j, e := range a.Events {
			ep := index(p+".events", j)
			if enum(v, ep, e, AlertEvents) && seen[e] {
				v.add(ep, "%s is listed twice", v.show(ep, string(e)))
			}
			seen[e] = true
		}
		v.durationMin(p+".group_window", a.GroupWindow, 0)
		v.durationMin(p+".circuit_open_for", a.CircuitOpenFor, 0)
		v.durationMin(p+".timeout", a.Timeout, time.Millisecond)
	}
	v.unique("alerts", names)
}
