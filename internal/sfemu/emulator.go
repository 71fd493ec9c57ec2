package sfemu

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure an Emulator. The zero value is a usable default org.
type Options struct {
	// Schema is the org's objects; nil means DefaultSchema().
	Schema *Schema
	// Seed makes everything random deterministic (Id pod characters,
	// token bodies).
	Seed int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what an operator must act on (handler panics).
	Logger *slog.Logger
	// OrgName is the Organization's Name ("sfbridge Emulator").
	OrgName string
	// Username is the default user's Username and Email
	// ("admin@sfbridge.example").
	Username string
	// DailyAPILimit is DailyApiRequests.Max (100000).
	DailyAPILimit int64
	// SessionTTL is the default session lifetime (2h); negative: never.
	SessionTTL time.Duration
	// MinVersion and MaxVersion bound the API versions served (31 and 66;
	// lower versions answer 410, higher ones 404).
	MinVersion, MaxVersion int
	// QueryPageSize is the default query batch size (2000); a request's
	// Sforce-Query-Options batchSize may ask for 200–2000.
	QueryPageSize int
	// Auth is the org's connected apps and users for OAuth (oauth_config.go);
	// the zero value is the demo app and user docs/emulator.md lists.
	Auth AuthConfig
}

func (o *Options) setDefaults() {
	if o.Schema == nil {
		o.Schema = DefaultSchema()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OrgName == "" {
		o.OrgName = "sfbridge Emulator"
	}
	if o.Username == "" {
		o.Username = "admin@sfbridge.example"
	}
	if o.DailyAPILimit == 0 {
		o.DailyAPILimit = 100000
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 2 * time.Hour
	}
	if o.MinVersion == 0 {
		o.MinVersion = 31
	}
	if o.MaxVersion == 0 {
		o.MaxVersion = 66
	}
	if o.QueryPageSize == 0 {
		o.QueryPageSize = 2000
	}
}

// Emulator is the Salesforce API emulator, an http.Handler serving one org.
type Emulator struct {
	opts    Options
	org     *Org
	log     *slog.Logger
	mux     *http.ServeMux
	groups  map[string]*routeGroup
	started time.Time

	hooksMu sync.RWMutex
	hooks   []CallHook

	// faults is the fault injector (faults.go); it sees every request
	// before routing, for outage windows.
	faults *Faults
	// bulkJobs holds the Bulk API 2.0 jobs (bulk.go).
	bulkJobs *bulkStore
}

var _ http.Handler = (*Emulator)(nil)

// extensions register routes defined in other files of this package (OAuth,
// Bulk 2.0, admin); see extend.
var extensions []func(*Emulator)

// extend registers f to run at the end of New; call it from an init func.
func extend(f func(*Emulator)) { extensions = append(extensions, f) }

// New returns an emulator serving a fresh org.
func New(opts Options) *Emulator {
	opts.setDefaults()
	e := &Emulator{
		opts: opts, org: newOrg(opts), log: opts.Logger,
		mux: http.NewServeMux(), groups: map[string]*routeGroup{}, started: opts.Now(),
	}
	e.registerCore()
	for _, f := range extensions {
		f(e)
	}
	return e
}

// Org returns the emulator's org.
func (e *Emulator) Org() *Org { return e.org }

// Use adds a per-request hook; hooks run in the order added (After in
// reverse order).
func (e *Emulator) Use(h CallHook) {
	e.hooksMu.Lock()
	e.hooks = append(e.hooks, h)
	e.hooksMu.Unlock()
}

func (e *Emulator) hookList() []CallHook {
	e.hooksMu.RLock()
	defer e.hooksMu.RUnlock()
	return e.hooks
}

// ServeHTTP normalises the request (fact sheet §0.3, §12.5: ?_HttpMethod=
// override, leading double slashes, one trailing slash, gzip bodies) and
// routes it.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.faults != nil && e.faults.front(w, r) {
		return
	}
	e.mux.ServeHTTP(w, normalizeRequest(r))
}

func normalizeRequest(r *http.Request) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	r2.URL = &u
	if r.Method == http.MethodPost {
		if m := r.URL.Query().Get("_HttpMethod"); m != "" {
			r2.Method = strings.ToUpper(m)
		}
	}
	// An instance URL stored with a trailing slash (the sf CLI keeps
	// --instance-url as URL.href, "https://host/") yields "//services/…";
	// an org serves it as "/services/…".
	if strings.HasPrefix(u.Path, "//") {
		u.Path = "/" + strings.TrimLeft(u.Path, "/")
		if u.RawPath != "" {
			u.RawPath = "/" + strings.TrimLeft(u.RawPath, "/")
		}
	}
	if len(u.Path) > 1 && strings.HasSuffix(u.Path, "/") {
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") && r.Body != nil {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			r2.Body = io.NopCloser(errReader{err})
		} else {
			r2.Body = zr
		}
		r2.Header = r.Header.Clone()
		r2.Header.Del("Content-Encoding")
		r2.ContentLength = -1
	}
	return r2
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return zw
}}

// gzipBody compresses b for a client that accepts gzip (fact sheet §0.3).
func gzipBody(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}
