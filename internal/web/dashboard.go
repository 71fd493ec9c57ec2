package web

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

//go:embed dashboard.html
var dashboardHTML string

var dashboardTmpl = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
	"pct": func(used, max int64) string {
		if max <= 0 {
			return "–"
		}
		return strconv.FormatFloat(float64(used)*100/float64(max), 'f', 1, 64) + "%"
	},
}).Parse(dashboardHTML))

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := dashboardTmpl.Execute(&buf, s.opts.Provider.Status(r.Context())); err != nil {
		http.Error(w, "dashboard: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}
