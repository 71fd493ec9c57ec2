package sfemu

import (
	"fmt"
	"net/http"
	"strings"
)

// releaseLabel names the release of an API version: 60.0 is Spring '24 and
// each release adds one (Spring, Summer, Winter '+1), fact sheet §0.1.
func releaseLabel(v int) string {
	r := v - 60
	cycle := r / 3
	pos := r % 3
	if pos < 0 {
		pos += 3
		cycle--
	}
	year := 24 + cycle
	season := [...]string{"Spring", "Summer", "Winter"}[pos]
	if pos == 2 {
		year++
	}
	return fmt.Sprintf("%s '%02d", season, year)
}

// versions answers GET /services/data: every served version, ascending,
// without authentication, counting or Sforce-Limit-Info (fact sheet §2.1).
func (e *Emulator) versions(c *Call) {
	out := make([]orderedMap, 0, e.opts.MaxVersion-e.opts.MinVersion+1)
	for v := e.opts.MinVersion; v <= e.opts.MaxVersion; v++ {
		out = append(out, orderedMap{
			{"label", releaseLabel(v)},
			{"url", fmt.Sprintf("/services/data/v%d.0", v)},
			{"version", fmt.Sprintf("%d.0", v)},
		})
	}
	c.JSON(http.StatusOK, out)
}

// versionRoot answers GET /services/data/vXX.X: the resource directory.
// "jobs" and "identity" are served by the Bulk and OAuth parts.
func (e *Emulator) versionRoot(c *Call) {
	p := c.DataPath
	c.JSON(http.StatusOK, orderedMap{
		{"composite", p("/composite")},
		{"identity", c.BaseURL() + "/id/" + e.org.ID() + "/" + c.Session.UserID},
		{"jobs", p("/jobs")},
		{"limits", p("/limits")},
		{"query", p("/query")},
		{"queryAll", p("/queryAll")},
		{"sobjects", p("/sobjects")},
	})
}

// registerCore registers the REST routes of this package.
func (e *Emulator) registerCore() {
	const d = "/services/data/{version}"
	e.handle("GET /services/data", "versions", accessPublic, e.versions)
	e.handle("GET "+d, "version.root", accessAPI, e.versionRoot)
	e.handle("GET "+d+"/limits", "limits", accessAPI, e.limits)

	e.handle("GET "+d+"/sobjects", "describe.global", accessAPI, e.describeGlobal)
	e.handle("GET "+d+"/sobjects/{object}", "sobject.info", accessAPI, e.sobjectInfo)
	e.handle("POST "+d+"/sobjects/{object}", "sobject.create", accessAPI, e.sobjectCreate)
	e.handle("GET "+d+"/sobjects/{object}/describe", "describe.sobject", accessAPI, e.describeSObject)
	e.handle("GET "+d+"/sobjects/{object}/{id}", "sobject.read", accessAPI, e.sobjectRead)
	e.handle("PATCH "+d+"/sobjects/{object}/{id}", "sobject.update", accessAPI, e.sobjectUpdate)
	e.handle("DELETE "+d+"/sobjects/{object}/{id}", "sobject.delete", accessAPI, e.sobjectDelete)
	e.handle("POST "+d+"/sobjects/{object}/{id}", "sobject.create", accessAPI, e.sobjectCreateID)
	e.handle("GET "+d+"/sobjects/{object}/{field}/{value}", "sobject.read_by_external_id", accessAPI, e.sobjectReadByExt)
	e.handle("PATCH "+d+"/sobjects/{object}/{field}/{value}", "sobject.upsert", accessAPI, e.sobjectUpsert)
	e.handle("POST "+d+"/sobjects/{object}/{field}/{value}", "sobject.upsert", accessAPI, e.sobjectUpsert)
	e.handle("DELETE "+d+"/sobjects/{object}/{field}/{value}", "sobject.delete_by_external_id", accessAPI, e.sobjectDeleteByExt)

	e.handle("POST "+d+"/composite/sobjects", "collections.create", accessAPI, e.collectionsCreate)
	e.handle("PATCH "+d+"/composite/sobjects", "collections.update", accessAPI, e.collectionsUpdate)
	e.handle("DELETE "+d+"/composite/sobjects", "collections.delete", accessAPI, e.collectionsDelete)
	e.handle("GET "+d+"/composite/sobjects/{object}", "collections.retrieve", accessAPI, e.collectionsRetrieve)
	e.handle("POST "+d+"/composite/sobjects/{object}", "collections.retrieve", accessAPI, e.collectionsRetrieve)
	e.handle("PATCH "+d+"/composite/sobjects/{object}/{field}", "collections.upsert", accessAPI, e.collectionsUpsert)
	e.handle("POST "+d+"/composite", "composite", accessAPI, e.composite)

	e.handle("GET "+d+"/query", "query", accessAPI, e.query)
	e.handle("GET "+d+"/queryAll", "query_all", accessAPI, e.query)
	e.handle("GET "+d+"/query/{locator}", "query.more", accessAPI, e.queryMore)
	e.handle("GET "+d+"/queryAll/{locator}", "query_all.more", accessAPI, e.queryMore)

	e.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Unknown resources under a version still carry Sforce-Limit-Info (§2.3).
		c := newCall(e, r, "", strings.HasPrefix(r.URL.Path, "/services/data/v"))
		c.Error(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		c.writeTo(w)
	})
}
