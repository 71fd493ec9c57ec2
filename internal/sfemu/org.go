package sfemu

import (
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Org is one emulated org: schema, records, sessions, API usage and
// counters. All methods are safe for concurrent use.
type Org struct {
	schema   *Schema
	now      func() time.Time
	pod      string
	id       string // 18-char org Id (00D…), also the Organization record
	userID   string // the default user (005…)
	name     string
	username string
	ttl      time.Duration

	seq atomic.Uint64 // Id sequence shared by all key prefixes

	mu       sync.RWMutex // guards tables, autoNums, written, hook
	tables   map[*Object]*table
	autoNums map[*Object]int64
	written  map[string]map[Op]int64
	hook     RecordHook

	rngMu sync.Mutex
	rng   *rand.Rand

	sessMu   sync.Mutex
	sessions map[string]*Session

	apiMax  atomic.Int64
	apiUsed atomic.Int64
	callsMu sync.Mutex
	calls   map[string]int64

	curMu   sync.Mutex
	cursors map[string]*cursor
	curSeq  uint64
}

// builtinIDs is how many Ids the org hands out for itself (org, user).
const builtinIDs = 2

func newOrg(opts Options) *Org {
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x5f0bd6e1a7c3))
	pod := string([]byte{base62[10+rng.IntN(26)], base62[rng.IntN(62)]})
	o := &Org{
		schema: opts.Schema, now: opts.Now, pod: pod, rng: rng,
		name: opts.OrgName, username: opts.Username, ttl: opts.SessionTTL,
		sessions: map[string]*Session{},
	}
	o.id = makeID("00D", pod, 1)
	o.userID = makeID("005", pod, 2)
	o.apiMax.Store(opts.DailyAPILimit)
	o.reset()
	return o
}

// ID returns the org's 18-character Id (00D…).
func (o *Org) ID() string { return o.id }

// DefaultUser returns the Id (005…) and username of the org's user, the
// user every session runs as unless told otherwise.
func (o *Org) DefaultUser() (id, username string) { return o.userID, o.username }

// Schema returns the org's schema. It is never modified.
func (o *Org) Schema() *Schema { return o.schema }

// Now returns the org's clock reading.
func (o *Org) Now() time.Time { return o.now() }

// NewID returns a fresh 18-character Id with the given 3-character key
// prefix (e.g. "750" for a Bulk job, "01g" for a query locator).
func (o *Org) NewID(prefix string) string {
	return makeID(prefix, o.pod, o.seq.Add(1))
}

// SetRecordHook installs fn to be called for every DML row after validation
// and before the write; a non-nil *RecordError fails that row. nil removes
// the hook. fn runs under the org's write lock and must not block.
func (o *Org) SetRecordHook(fn RecordHook) {
	o.mu.Lock()
	o.hook = fn
	o.mu.Unlock()
}

// Reset removes every record, query cursor and counter and sets API usage
// to zero; sessions, the schema, the API limit and the record hook are kept.
// The Organization and default User records are recreated with their Ids.
func (o *Org) Reset() {
	o.callsMu.Lock()
	o.calls = map[string]int64{}
	o.callsMu.Unlock()
	o.apiUsed.Store(0)
	o.curMu.Lock()
	o.cursors = map[string]*cursor{}
	o.curMu.Unlock()
	o.reset()
}

func (o *Org) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.calls == nil {
		o.calls = map[string]int64{}
		o.cursors = map[string]*cursor{}
	}
	o.seq.Store(builtinIDs)
	o.tables = make(map[*Object]*table, len(o.schema.Objects))
	for _, obj := range o.schema.Objects {
		o.tables[obj] = newTable(obj)
	}
	o.autoNums = map[*Object]int64{}
	o.written = map[string]map[Op]int64{}
	tx := &Tx{org: o}
	now := formatDatetime(o.now())
	tx.insertBuiltin(o.schema.Object("Organization"), o.id, map[string]any{
		"Name": o.name, "InstanceName": "EMU1", "IsSandbox": false, "OrganizationType": "Developer Edition",
	}, now)
	tx.insertBuiltin(o.schema.Object("User"), o.userID, map[string]any{
		"Username": o.username, "FirstName": "Emulator", "LastName": "Admin", "Email": o.username,
		"Alias": "emuadmin", "IsActive": true, "TimeZoneSidKey": "GMT",
	}, now)
}

// Counters is a snapshot of what the org has been asked to do.
type Counters struct {
	// Calls counts API calls by endpoint name (e.g. "sobject.create").
	Calls map[string]int64 `json:"calls"`
	// Written counts records written by object and operation
	// (insert, update, delete; an upsert counts as insert or update).
	Written map[string]map[Op]int64 `json:"written"`
	// APIUsed and APIMax are the daily API usage and allocation.
	APIUsed int64 `json:"apiUsed"`
	APIMax  int64 `json:"apiMax"`
}

// Counters returns a copy of the org's counters.
func (o *Org) Counters() Counters {
	c := Counters{Calls: map[string]int64{}, Written: map[string]map[Op]int64{}, APIUsed: o.apiUsed.Load(), APIMax: o.apiMax.Load()}
	o.callsMu.Lock()
	for k, v := range o.calls {
		c.Calls[k] = v
	}
	o.callsMu.Unlock()
	o.mu.RLock()
	for obj, m := range o.written {
		c.Written[obj] = map[Op]int64{}
		for op, n := range m {
			c.Written[obj][op] = n
		}
	}
	o.mu.RUnlock()
	return c
}

// Dump returns the records of object as field maps (stored values, nulls
// omitted) in creation order; deleted records only when includeDeleted.
// ok is false when the object does not exist.
func (o *Org) Dump(object string, includeDeleted bool) (recs []map[string]any, ok bool) {
	obj := o.schema.Object(object)
	if obj == nil {
		return nil, false
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	recs = []map[string]any{}
	for _, r := range o.tables[obj].order {
		if r.deleted && !includeDeleted {
			continue
		}
		m := make(map[string]any, len(r.vals))
		for k, v := range r.vals {
			m[k] = v
		}
		recs = append(recs, m)
	}
	return recs, true
}

// ObjectCounts returns the number of live records per object name.
func (o *Org) ObjectCounts() map[string]int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := map[string]int{}
	for obj, t := range o.tables {
		out[obj.Name] = t.live
	}
	return out
}

func (o *Org) countCall(endpoint string) {
	o.callsMu.Lock()
	o.calls[endpoint]++
	o.callsMu.Unlock()
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
