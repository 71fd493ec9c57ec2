package sfemu

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Admin endpoints live outside /services, under adminPrefix. They need no
// authentication (the emulator serves loopback by default), are never
// touched by faults, never count against the API limit, and answer JSON;
// errors are {"error":"…"}. docs/emulator.md "Admin endpoints" lists them.
const adminPrefix = "/__emulator"

func init() {
	extend(func(e *Emulator) {
		a := &admin{e: e}
		p := adminPrefix
		e.handle("GET "+p, "admin.index", accessPublic, a.index)
		e.handle("GET "+p+"/records/{object}", "admin.records", accessPublic, a.records)
		e.handle("GET "+p+"/counters", "admin.counters", accessPublic, a.counters)
		e.handle("POST "+p+"/reset", "admin.reset", accessPublic, a.reset)
		e.handle("GET "+p+"/limits", "admin.limits", accessPublic, a.limits)
		e.handle("PUT "+p+"/limits", "admin.limits", accessPublic, a.setLimits)
		e.handle("POST "+p+"/limits", "admin.limits", accessPublic, a.setLimits)
		e.handle("POST "+p+"/sessions/expire", "admin.sessions_expire", accessPublic, a.expireSessions)
		e.handle("GET "+p+"/faults", "admin.faults", accessPublic, a.faults)
		e.handle("PUT "+p+"/faults", "admin.faults", accessPublic, a.setFaults)
		e.handle("POST "+p+"/faults", "admin.faults", accessPublic, a.addFaults)
		e.handle("DELETE "+p+"/faults", "admin.faults", accessPublic, a.clearFaults)
	})
}

type admin struct{ e *Emulator }

func adminError(c *Call, status int, msg string) {
	c.JSON(status, orderedMap{{"error", msg}})
}

// index answers GET /__emulator: what a script needs to point a client at
// the emulator.
func (a *admin) index(c *Call) {
	o := a.e.org
	uid, uname := o.DefaultUser()
	base := c.BaseURL()
	c.JSON(http.StatusOK, orderedMap{
		{"organizationId", o.ID()},
		{"userId", uid},
		{"username", uname},
		{"instanceUrl", base},
		{"loginUrl", base},
		{"tokenUrl", base + "/services/oauth2/token"},
		{"apiVersions", orderedMap{{"min", a.e.opts.MinVersion}, {"max", a.e.opts.MaxVersion}}},
		{"endpoints", orderedMap{
			{"records", base + adminPrefix + "/records/{object}"},
			{"counters", base + adminPrefix + "/counters"},
			{"reset", base + adminPrefix + "/reset"},
			{"limits", base + adminPrefix + "/limits"},
			{"sessionsExpire", base + adminPrefix + "/sessions/expire"},
			{"faults", base + adminPrefix + "/faults"},
			{"token", base + adminPrefix + "/token"},
			{"jwtKey", base + adminPrefix + "/jwt-key"},
		}},
	})
}

// records answers GET /__emulator/records/{object}[?deleted=true]: every
// record of the object as stored, in creation order.
func (a *admin) records(c *Call) {
	obj := a.e.org.Schema().Object(c.Req.PathValue("object"))
	if obj == nil {
		adminError(c, http.StatusNotFound, "no such object: "+c.Req.PathValue("object"))
		return
	}
	deleted, _ := strconv.ParseBool(c.Req.URL.Query().Get("deleted"))
	recs, _ := a.e.org.Dump(obj.Name, deleted)
	c.JSON(http.StatusOK, orderedMap{{"object", obj.Name}, {"totalSize", len(recs)}, {"records", recs}})
}

// counters answers GET /__emulator/counters: API calls by endpoint (admin
// calls left out), records written by object and operation, live records
// by object, daily API usage and the fault counters.
func (a *admin) counters(c *Call) {
	cn := a.e.org.Counters()
	for k := range cn.Calls {
		if strings.HasPrefix(k, "admin.") {
			delete(cn.Calls, k)
		}
	}
	st := a.e.faults.Status()
	c.JSON(http.StatusOK, orderedMap{
		{"calls", cn.Calls},
		{"written", cn.Written},
		{"records", a.e.org.ObjectCounts()},
		{"apiUsed", cn.APIUsed},
		{"apiMax", cn.APIMax},
		{"faults", orderedMap{
			{"recordsFired", st.RecordsFired},
			{"httpFired", st.HTTPFired},
			{"concurrencyRejected", st.ConcurrencyRejected},
			{"outageHits", st.OutageHits},
			{"inFlight", st.InFlight},
		}},
	})
}

// reset answers POST /__emulator/reset[?faults=true]: records, query
// cursors, counters and API usage are cleared (sessions and limits kept);
// with faults=true the faults too.
func (a *admin) reset(c *Call) {
	withFaults, err := strconv.ParseBool(orDefault(c.Req.URL.Query().Get("faults"), "false"))
	if err != nil {
		adminError(c, http.StatusBadRequest, "faults: want true or false")
		return
	}
	a.e.org.Reset()
	if withFaults {
		a.e.faults.Clear()
	}
	c.JSON(http.StatusOK, orderedMap{{"reset", true}, {"faults", withFaults}})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type limitsBody struct {
	APIMax  *int64 `json:"apiMax"`
	APIUsed *int64 `json:"apiUsed"`
}

func (a *admin) limits(c *Call) {
	used, max := a.e.org.APIUsage()
	c.JSON(http.StatusOK, orderedMap{{"apiUsed", used}, {"apiMax", max}})
}

// setLimits answers PUT/POST /__emulator/limits {"apiMax":N,"apiUsed":M}
// (either member may be left out).
func (a *admin) setLimits(c *Call) {
	var b limitsBody
	if !decodeAdmin(c, &b) {
		return
	}
	if (b.APIMax != nil && *b.APIMax < 0) || (b.APIUsed != nil && *b.APIUsed < 0) {
		adminError(c, http.StatusBadRequest, "apiMax and apiUsed must not be negative")
		return
	}
	if b.APIMax != nil {
		a.e.org.SetAPILimit(*b.APIMax)
	}
	if b.APIUsed != nil {
		a.e.org.SetAPIUsage(*b.APIUsed)
	}
	a.limits(c)
}

// decodeAdmin decodes a JSON body strictly; an empty body is an empty
// object.
func decodeAdmin(c *Call, v any) bool {
	b, err := c.RequestBody()
	if err != nil {
		adminError(c, http.StatusBadRequest, err.Error())
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(c, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

// expireSessions answers POST /__emulator/sessions/expire: every access
// token stops working now.
func (a *admin) expireSessions(c *Call) {
	n := a.e.org.ExpireSessions()
	c.JSON(http.StatusOK, orderedMap{{"expired", n}})
}

func (a *admin) faults(c *Call) { c.JSON(http.StatusOK, a.e.faults.Status()) }

// readFaults parses a fault document (JSON or YAML) from the body.
func readFaults(c *Call) (FaultConfig, bool) {
	b, err := c.RequestBody()
	if err != nil {
		adminError(c, http.StatusBadRequest, err.Error())
		return FaultConfig{}, false
	}
	cfg, err := ParseFaults(b)
	if err != nil {
		adminError(c, http.StatusBadRequest, strings.ReplaceAll(err.Error(), "\n", "; "))
		return FaultConfig{}, false
	}
	return cfg, true
}

// setFaults answers PUT /__emulator/faults: the body replaces the config.
func (a *admin) setFaults(c *Call) {
	if cfg, ok := readFaults(c); ok {
		_ = a.e.faults.Set(cfg) // validated by readFaults
		a.faults(c)
	}
}

// addFaults answers POST /__emulator/faults: the body is merged in.
func (a *admin) addFaults(c *Call) {
	if cfg, ok := readFaults(c); ok {
		_ = a.e.faults.Add(cfg)
		a.faults(c)
	}
}

// clearFaults answers DELETE /__emulator/faults.
func (a *admin) clearFaults(c *Call) {
	a.e.faults.Clear()
	a.faults(c)
}

// adminToken answers POST /__emulator/token[?username=&client_id=&ttl=]: a
// session minted without credentials, for scripts (SF_ACCESS_TOKEN for
// `sf org login access-token`), in the OAuth token response shape plus a
// refresh_token usable with the refresh_token grant.
func (a *authServer) adminToken(c *Call) {
	p := c.formParams()
	app := a.apps[0]
	if id := p.Get("client_id"); id != "" {
		if app = a.app(id); app == nil {
			adminError(c, http.StatusBadRequest, "client_id: no such connected app: "+id)
			return
		}
	}
	userID, _ := a.org.DefaultUser()
	if u := p.Get("username"); u != "" {
		id, ok := a.userID(u)
		if !ok {
			adminError(c, http.StatusBadRequest, "username: no such user: "+u)
			return
		}
		userID = id
	}
	var ttl time.Duration
	if s := p.Get("ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			adminError(c, http.StatusBadRequest, "ttl: want a positive duration such as 30m, got "+strconv.Quote(s))
			return
		}
		ttl = d
	}
	a.issue(c, app, userID, true, ttl)
}

// adminJWTKey answers GET /__emulator/jwt-key: the demo app's private key
// (PEM), to sign JWT bearer assertions with (sf org login jwt
// --jwt-key-file). 404 when the org has no demo app.
func (a *authServer) adminJWTKey(c *Call) {
	for _, app := range a.apps {
		if app.demo {
			b, err := DemoJWTKeyPEM()
			if err != nil {
				adminError(c, http.StatusInternalServerError, err.Error())
				return
			}
			c.Body(http.StatusOK, "application/x-pem-file", b)
			return
		}
	}
	adminError(c, http.StatusNotFound, "the org has no demo connected app; sign with the key of your configured certificate")
}
