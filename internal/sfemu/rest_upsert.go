package sfemu

import (
	"net/http"
	"strconv"
	"strings"
)

// objectExtField resolves the {SObject} segment and {field} as an
// external-ID field of it; when either fails it has answered (404, for the
// field "Provided external ID field does not exist or is not accessible",
// §3.5) and f is nil.
func (c *Call) objectExtField() (o *Object, f *Field) {
	if o = c.object(); o == nil {
		return nil, nil
	}
	name := c.Req.PathValue("field")
	if f = o.ExternalIDField(name); f == nil {
		c.Error(http.StatusNotFound, CodeNotFound, msgExternalIDFieldNotFound+name)
	}
	return o, f
}

// matchExternal returns the live records of o whose f equals value.
func (c *Call) matchExternal(o *Object, f *Field, value string) []string {
	t := c.e.org.tables[o]
	if f.Type == TypeID {
		id, ok := NormalizeID(value)
		if !ok || id[:3] != o.KeyPrefix {
			return nil
		}
		if r := t.recs[id]; r != nil && !r.deleted {
			return []string{id}
		}
		return nil
	}
	v, err := coerce(f, value)
	if err != nil || v == nil {
		return nil
	}
	return append([]string(nil), t.lookup(f, indexKey(f, v))...)
}

// sobjectUpsert answers PATCH /sobjects/{SObject}/{ExtField}/{value}
// (§3.5): 201 created, 200 updated (204 before v46), 300 several matches,
// 404 with ?updateOnly=true and no match. POST is treated the same
// (unverified; the Bulk guide's example uses POST).
func (e *Emulator) sobjectUpsert(c *Call) {
	o, f := c.objectExtField()
	if f == nil {
		return
	}
	value := c.Req.PathValue("value")
	body, ok := c.decodeRecord()
	if !ok {
		return
	}
	if _, present := fieldValue(body, f.Name); present {
		c.Errors(http.StatusBadRequest, errFieldSpecified(f.Name).API())
		return
	}
	row := Row{Fields: body}
	if f.Type == TypeID {
		row.ID = value
	} else {
		body[f.Name] = value
	}
	updateOnly := strings.EqualFold(c.Req.URL.Query().Get("updateOnly"), "true")
	res := c.applyOne(func() *DML {
		if updateOnly && len(c.matchExternal(o, f, value)) == 0 {
			c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
			return nil
		}
		return &DML{Op: OpUpsert, Object: o.Name, ExtIDField: f.Name, Rows: []Row{row}}
	})
	switch {
	case res == nil:
	case len(res.Matches) > 1:
		c.multipleChoices(o, res.Matches)
	case !res.Success:
		c.recordFailure(*res)
	case c.versionBefore(46):
		if res.Created {
			c.created(o, *res, false)
		} else {
			c.NoContent()
		}
	case res.Created:
		c.created(o, *res, true)
	default:
		c.JSON(http.StatusOK, saveResult(*res, true))
	}
}

// versionBefore reports whether the call's API version is below major.
func (c *Call) versionBefore(major int) bool {
	n, err := strconv.Atoi(strings.TrimSuffix(c.Version, ".0"))
	return err == nil && n < major
}

// sobjectReadByExt answers GET /sobjects/{SObject}/{ExtField}/{value}
// (§3.6): 200 record, 404, or 300 with the matching record URLs.
func (e *Emulator) sobjectReadByExt(c *Call) {
	o, f := c.objectExtField()
	if f == nil {
		return
	}
	fields, ok := c.fieldsParam(o, splitList(c.Req.URL.Query().Get("fields")))
	if !ok {
		return
	}
	c.read(func() {
		ids := c.matchExternal(o, f, c.Req.PathValue("value"))
		switch len(ids) {
		case 0:
			c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		case 1:
			c.Records = 1
			c.JSON(http.StatusOK, c.recordJSON(c.e.org.tables[o].recs[ids[0]], fields))
		default:
			c.multipleChoices(o, ids)
		}
	})
}

// sobjectDeleteByExt answers DELETE /sobjects/{SObject}/{ExtField}/{value}
// (§3.4): 204, 404, or 300 when several records match.
func (e *Emulator) sobjectDeleteByExt(c *Call) {
	o, f := c.objectExtField()
	if f == nil {
		return
	}
	c.noContent(c.applyOne(func() *DML {
		ids := c.matchExternal(o, f, c.Req.PathValue("value"))
		switch len(ids) {
		case 0:
			c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
			return nil
		case 1:
			return deleteOne(o, ids[0])
		}
		c.multipleChoices(o, ids)
		return nil
	}))
}
