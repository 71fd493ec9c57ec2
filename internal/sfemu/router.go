package sfemu

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
)

// access says what a route requires before its handler runs.
type access int

const (
	// accessAPI: /services/data/{version}/…: version check, bearer session,
	// hooks, daily API limit, counted, Sforce-Limit-Info.
	accessAPI access = iota
	// accessSession: bearer session and hooks only.
	accessSession
	// accessPublic: hooks only.
	accessPublic
)

// CallHook observes or short-circuits requests (faults, latency,
// concurrency limits). Before runs after authentication and before the call
// is counted; returning true means it answered through the Call and the
// handler is skipped. After runs once the response is ready and before it
// is written, whenever Before ran.
type CallHook struct {
	Before func(c *Call) bool
	After  func(c *Call)
}

type route struct {
	endpoint string
	fn       func(*Call)
}

// routeGroup is every method of one path pattern.
type routeGroup struct {
	pattern string
	access  access
	methods map[string]route
}

// handle registers fn for spec ("METHOD /path/{wildcard}") under the
// endpoint name used by counters. All methods of one path share an access
// level.
func (e *Emulator) handle(spec, endpoint string, acc access, fn func(*Call)) {
	method, path, ok := strings.Cut(spec, " ")
	if !ok {
		panic("sfemu: route needs a method: " + spec)
	}
	g := e.groups[path]
	if g == nil {
		g = &routeGroup{pattern: path, access: acc, methods: map[string]route{}}
		e.groups[path] = g
		e.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { e.serve(g, w, r) })
	}
	if g.access != acc {
		panic("sfemu: mixed access levels on " + path)
	}
	g.methods[method] = route{endpoint: endpoint, fn: fn}
}

func (g *routeGroup) allowed() string {
	var ms []string
	for m := range g.methods {
		ms = append(ms, m)
		if m == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	sort.Strings(ms)
	return strings.Join(ms, ",")
}

type parentKey struct{}

// parentCall returns the Composite call a subrequest runs inside, if any.
func parentCall(ctx context.Context) *Call {
	c, _ := ctx.Value(parentKey{}).(*Call)
	return c
}

func (e *Emulator) serve(g *routeGroup, w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	rt, ok := g.methods[method]
	c := newCall(e, r, rt.endpoint, g.access == accessAPI)
	if parent := parentCall(r.Context()); parent != nil {
		c.Session, c.tx, c.inner, c.forceAllOrNone = parent.Session, parent.tx, true, parent.forceAllOrNone
		if c.checkVersion() {
			if ok {
				e.run(c, rt.fn)
			} else {
				c.methodNotAllowed(r.Method, g.allowed())
			}
		}
		parent.Records += c.Records
		c.writeTo(w)
		return
	}
	if g.access == accessAPI && !c.checkVersion() {
		c.writeTo(w)
		return
	}
	if g.access != accessPublic && !c.authenticate() {
		c.writeTo(w)
		return
	}
	if !ok {
		c.methodNotAllowed(r.Method, g.allowed())
		c.writeTo(w)
		return
	}
	hooks := e.hookList()
	ran, answered := 0, false
	for _, h := range hooks {
		ran++
		if h.Before != nil && h.Before(c) {
			answered = true
			break
		}
	}
	if !answered {
		if g.access == accessAPI && !e.org.takeAPICall() {
			c.Error(http.StatusForbidden, CodeRequestLimitExceeded, msgTotalRequestsExceeded)
		} else {
			e.org.countCall(rt.endpoint)
			e.run(c, rt.fn)
		}
	}
	for i := ran - 1; i >= 0; i-- {
		if hooks[i].After != nil {
			hooks[i].After(c)
		}
	}
	c.writeTo(w)
}

// run calls a handler, turning a panic into 500 UNKNOWN_EXCEPTION.
func (e *Emulator) run(c *Call, fn func(*Call)) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("emulator handler panicked", "endpoint", c.Endpoint, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.Reset()
			c.Error(http.StatusInternalServerError, CodeUnknownException,
				"An unexpected error occurred. Please include this ErrorId if you contact support: 0-emulator")
		}
	}()
	fn(c)
}

var versionRE = regexp.MustCompile(`^v([0-9]{1,3})\.0$`)

// checkVersion validates {version}: unknown -> 404, retired -> 410 (fact
// sheet §0.1; the 410 body is unverified).
func (c *Call) checkVersion() bool {
	v := c.Req.PathValue("version")
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		return false
	}
	n, _ := strconv.Atoi(m[1])
	switch {
	case n > c.e.opts.MaxVersion || n < 7:
		c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		return false
	case n < c.e.opts.MinVersion:
		c.Error(http.StatusGone, CodeUnsupportedAPIVersion, fmt.Sprintf("Version %s of the API is retired and no longer supported.", v))
		return false
	}
	c.Version = v[1:]
	return true
}

// authenticate checks the bearer token (fact sheet §1.4): a missing or
// garbled Authorization header is 401 INVALID_AUTH_HEADER, an unknown or
// expired token 401 INVALID_SESSION_ID.
func (c *Call) authenticate() bool {
	scheme, token, ok := strings.Cut(strings.TrimSpace(c.Req.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || token == "" || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "OAuth")) {
		c.Error(http.StatusUnauthorized, CodeInvalidAuthHeader, msgInvalidHeaderType)
		return false
	}
	s, found := c.e.org.Session(token)
	if !found {
		c.Error(http.StatusUnauthorized, CodeInvalidSessionID, msgSessionInvalid)
		return false
	}
	c.Session = s
	return true
}

func (c *Call) methodNotAllowed(method, allowed string) {
	c.Header().Set("Allow", allowed)
	c.Error(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
		fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are %s", method, allowed))
}
