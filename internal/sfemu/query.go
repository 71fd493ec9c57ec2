package sfemu

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	cursorTTL  = 15 * time.Minute
	maxCursors = 1000
)

// cursor holds the rows of a query not yet returned (fact sheet §13.1).
type cursor struct {
	id       string // set once stored
	rows     []orderedMap
	pageSize int
	lastUsed time.Time
}

// pageSize reads Sforce-Query-Options: batchSize=N (200–2000, §2.4).
func (c *Call) pageSize() int {
	n := c.e.opts.QueryPageSize
	for _, opt := range strings.Split(c.Req.Header.Get("Sforce-Query-Options"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(opt), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "batchSize") {
			if b, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				n = min(max(b, 200), 2000)
			}
		}
	}
	return n
}

// queryParam prepares the query of the q parameter; when it is missing or
// does not compile it answers 400 and returns nil.
func (e *Emulator) queryParam(c *Call) *plan {
	soql := c.Req.URL.Query().Get("q")
	if strings.TrimSpace(soql) == "" {
		c.Error(http.StatusBadRequest, CodeMalformedQuery, "A query string has to be specified")
		return nil
	}
	p, qerr := e.org.prepare(soql)
	if qerr != nil {
		c.Error(http.StatusBadRequest, qerr.Code, qerr.Message)
		return nil
	}
	return p
}

// query answers GET /query?q= and /queryAll?q= (§6.1, §6.2).
func (e *Emulator) query(c *Call) {
	p := e.queryParam(c)
	if p == nil {
		return
	}
	all := strings.HasPrefix(c.Endpoint, "query_all")
	var rows []orderedMap
	total := 0
	c.read(func() {
		recs := p.execute(e.org, all)
		switch {
		case p.countOnly:
			total = len(recs)
			rows = []orderedMap{}
		case p.aggregate:
			names, vals := p.aggregateRow(e.org, recs)
			row := orderedMap{{"attributes", orderedMap{{"type", "AggregateResult"}}}}
			for i := range names {
				row = append(row, kv{names[i], vals[i]})
			}
			rows, total = []orderedMap{row}, 1
		default:
			refs := make([]colRef, len(p.cols))
			for i := range p.cols {
				refs[i] = p.cols[i].ref
			}
			rows = make([]orderedMap, len(recs))
			for i, r := range recs {
				rows[i] = c.nest(r, refs, 0)
			}
			total = len(recs)
		}
	})
	c.respondPage(&cursor{rows: rows, pageSize: c.pageSize()}, 0, total)
}

// nest renders a query row: attributes, then the selected fields, parent
// fields nested under their relationship name (null when there is no
// parent), in select order (§6.2).
func (c *Call) nest(r *record, refs []colRef, depth int) orderedMap {
	m := make(orderedMap, 0, len(refs)+1)
	m = append(m, kv{"attributes", attributes(r.obj.Name, c.DataPath("/sobjects/"+r.obj.Name+"/"+r.id))})
	done := map[string]bool{}
	for i, ref := range refs {
		if len(ref.hops) == depth {
			f := ref.leaf
			if depth > 0 {
				f = r.obj.Field(ref.leaf.Name)
			}
			var v any
			if f != nil {
				v = r.vals[f.Name]
			}
			m = append(m, kv{ref.leaf.Name, v})
			continue
		}
		hop := ref.hops[depth]
		if done[hop.RelationshipName] {
			continue
		}
		done[hop.RelationshipName] = true
		var group []colRef
		for _, o := range refs[i:] {
			if len(o.hops) > depth && o.hops[depth] == hop {
				group = append(group, o)
			}
		}
		if parent := follow(c.e.org, r, hop); parent != nil {
			m = append(m, kv{hop.RelationshipName, c.nest(parent, group, depth+1)})
		} else {
			m = append(m, kv{hop.RelationshipName, nil})
		}
	}
	return m
}

// respondPage answers one page of cur from offset; a cursor with rows left
// is kept under a locator (01g…-offset, one path segment, §6.3).
func (c *Call) respondPage(cur *cursor, offset, total int) {
	end := min(offset+cur.pageSize, len(cur.rows))
	page := cur.rows[offset:end]
	c.Records = len(page)
	m := orderedMap{{"totalSize", total}, {"done", end >= len(cur.rows)}}
	if end < len(cur.rows) {
		id := c.e.org.storeCursor(cur)
		endpoint := "/query/"
		if strings.HasPrefix(c.Endpoint, "query_all") {
			endpoint = "/queryAll/"
		}
		m = append(m, kv{"nextRecordsUrl", c.DataPath(endpoint + id + "-" + strconv.Itoa(end))})
	}
	m = append(m, kv{"records", page})
	c.JSON(http.StatusOK, m)
}

// queryMore answers GET /query/{locator} (§6.1).
func (e *Emulator) queryMore(c *Call) {
	loc := c.Req.PathValue("locator")
	id, off, ok := strings.Cut(loc, "-")
	offset, err := strconv.Atoi(off)
	var cur *cursor
	if ok && err == nil {
		cur = e.org.loadCursor(id)
	}
	if cur == nil || offset <= 0 || offset >= len(cur.rows) {
		c.Error(http.StatusBadRequest, CodeInvalidQueryLocator, "invalid query locator")
		return
	}
	if offset+cur.pageSize >= len(cur.rows) {
		e.org.dropCursor(id)
	}
	c.respondPage(cur, offset, len(cur.rows))
}

// storeCursor keeps cur (if not kept yet) and returns its Id.
func (o *Org) storeCursor(cur *cursor) string {
	o.curMu.Lock()
	defer o.curMu.Unlock()
	now := o.now()
	if cur.id != "" {
		cur.lastUsed = now
		return cur.id
	}
	var oldest string
	for id, k := range o.cursors {
		if now.Sub(k.lastUsed) > cursorTTL {
			delete(o.cursors, id)
		} else if oldest == "" || k.lastUsed.Before(o.cursors[oldest].lastUsed) {
			oldest = id
		}
	}
	if len(o.cursors) >= maxCursors {
		delete(o.cursors, oldest)
	}
	cur.lastUsed = now
	cur.id = o.NewID("01g")
	o.cursors[cur.id] = cur
	return cur.id
}

func (o *Org) loadCursor(id string) *cursor {
	o.curMu.Lock()
	defer o.curMu.Unlock()
	cur := o.cursors[id]
	if cur == nil {
		return nil
	}
	if o.now().Sub(cur.lastUsed) > cursorTTL {
		delete(o.cursors, id)
		return nil
	}
	cur.lastUsed = o.now()
	return cur
}

func (o *Org) dropCursor(id string) {
	o.curMu.Lock()
	delete(o.cursors, id)
	o.curMu.Unlock()
}
