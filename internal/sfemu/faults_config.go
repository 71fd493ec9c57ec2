package sfemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FaultConfig is what the emulator injects: loaded from a YAML or JSON file
// (sfbridge emulator --faults, LoadFaults) or sent to the admin endpoint
// /__emulator/faults. docs/emulator.md "Faults" has an example of each knob.
type FaultConfig struct {
	// Seed makes probabilistic faults repeatable; nil means Options.Seed.
	Seed *int64 `yaml:"seed" json:"seed,omitempty"`
	// Records fail single DML rows (every API: REST, Collections,
	// Composite, Bulk).
	Records []RecordFault `yaml:"records" json:"records,omitempty"`
	// HTTP answers whole calls with an error status (500/503, HTML bodies).
	HTTP []HTTPFault `yaml:"http" json:"http,omitempty"`
	// Latency slows calls down: a fixed delay plus one per record.
	Latency []LatencyFault `yaml:"latency" json:"latency,omitempty"`
	// Concurrency limits the API calls in flight.
	Concurrency *ConcurrencyFault `yaml:"concurrency" json:"concurrency,omitempty"`
	// APILimit sets the daily API allocation and usage once, when the
	// config is applied.
	APILimit *APILimitFault `yaml:"apiLimit" json:"apiLimit,omitempty"`
	// Outage makes the emulator unreachable for a while.
	Outage *OutageFault `yaml:"outage" json:"outage,omitempty"`
	// ExpireSessions invalidates every session once, when the config is
	// applied (the next data call answers 401 INVALID_SESSION_ID).
	ExpireSessions bool `yaml:"expireSessions" json:"expireSessions,omitempty"`
}

// Match selects calls; empty members match everything. Endpoint and Path
// are globs where * matches any run of characters.
type Match struct {
	// Endpoint is the counter name of the route, e.g. "collections.upsert",
	// "collections.*", "oauth.token" (GET /__emulator/counters lists them).
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`
	// Method is the HTTP method (after ?_HttpMethod=).
	Method string `yaml:"method" json:"method,omitempty"`
	// Path is the URL path, e.g. "/services/data/*/composite/sobjects*".
	Path string `yaml:"path" json:"path,omitempty"`
}

// RecordFault fails DML rows with a per-record error.
type RecordFault struct {
	// Object limits the fault to one object (case-insensitive).
	Object string `yaml:"object" json:"object,omitempty"`
	// Ops limits it to insert, update or delete (an upsert is one of the
	// first two).
	Ops []Op `yaml:"ops" json:"ops,omitempty"`
	// Keys limits it to these rows: external-ID values (the upsert key, or
	// any external-ID field of the row) or record Ids.
	Keys []string `yaml:"keys" json:"keys,omitempty"`
	// Field, with Keys, compares the keys to this field only.
	Field string `yaml:"field" json:"field,omitempty"`
	// Probability of failing a matching row (0 < p ≤ 1); default 1 with
	// Keys, required without.
	Probability float64 `yaml:"probability" json:"probability,omitempty"`
	// Times, with Keys, fails each key only its first Times attempts
	// (0: always), so a retry succeeds.
	Times int `yaml:"times" json:"times,omitempty"`
	// Error is the statusCode: UNABLE_TO_LOCK_ROW (default),
	// FIELD_CUSTOM_VALIDATION_EXCEPTION or any other upper-case code.
	Error string `yaml:"error" json:"error,omitempty"`
	// Message replaces the default message; Fields is the error's fields.
	Message string   `yaml:"message" json:"message,omitempty"`
	Fields  []string `yaml:"fields" json:"fields,omitempty"`
}

// HTTPFault answers matching calls with an error status instead of (or,
// with After, after) running them.
type HTTPFault struct {
	Match `yaml:",inline"`
	// Status is the HTTP status (400–599; default 503).
	Status int `yaml:"status" json:"status,omitempty"`
	// Body is "html" (default: an HTML error page), "json" (the REST error
	// array) or "empty".
	Body string `yaml:"body" json:"body,omitempty"`
	// ContentType overrides the body's content type (html: "text/html",
	// which jsforce reports as "HTTP response contains html content").
	ContentType string `yaml:"contentType" json:"contentType,omitempty"`
	// Message is the HTML page's text or the JSON error's message.
	Message string `yaml:"message" json:"message,omitempty"`
	// ErrorCode is the JSON error's errorCode (default SERVER_UNAVAILABLE
	// for 503, UNKNOWN_EXCEPTION otherwise).
	ErrorCode string `yaml:"errorCode" json:"errorCode,omitempty"`
	// Probability of answering a matching call (0 < p ≤ 1), or Next: the
	// next N matching calls. Neither: every matching call.
	Probability float64 `yaml:"probability" json:"probability,omitempty"`
	Next        int     `yaml:"next" json:"next,omitempty"`
	// After runs the call first and then replaces its answer: the records
	// are written but the client sees the error (replays must be
	// idempotent).
	After bool `yaml:"after" json:"after,omitempty"`
}

// LatencyFault delays matching calls by Fixed + PerRecord × records
// processed, before the answer is sent.
type LatencyFault struct {
	Match     `yaml:",inline"`
	Fixed     Duration `yaml:"fixed" json:"fixed,omitempty"`
	PerRecord Duration `yaml:"perRecord" json:"perRecord,omitempty"`
}

// ConcurrencyFault refuses API calls beyond Max in flight with 403
// REQUEST_LIMIT_EXCEEDED "ConcurrentRequests (Concurrent API Requests)
// Limit exceeded.".
type ConcurrencyFault struct {
	Max int `yaml:"max" json:"max"`
}

// APILimitFault sets DailyApiRequests: Max and/or Used; once used reaches
// max every API call answers 403 REQUEST_LIMIT_EXCEEDED.
type APILimitFault struct {
	Max  *int64 `yaml:"max" json:"max,omitempty"`
	Used *int64 `yaml:"used" json:"used,omitempty"`
}

// OutageFault makes the emulator unreachable for Duration, starting Delay
// after the config is applied. Mode "refuse" closes each connection
// without an answer (the client sees a reset connection); "503" answers
// 503 with Salesforce's maintenance page. Admin endpoints stay reachable.
type OutageFault struct {
	Mode     string   `yaml:"mode" json:"mode"`
	Duration Duration `yaml:"duration" json:"duration"`
	Delay    Duration `yaml:"delay" json:"delay,omitempty"`
}

// Outage modes.
const (
	OutageRefuse = "refuse"
	Outage503    = "503"
)

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// UnmarshalYAML reads a duration string such as "1.5s" or "200ms".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as \"250ms\"", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: want a duration such as \"250ms\", got %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"250ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"250ms\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// LoadFaults reads a fault file (YAML or JSON).
func LoadFaults(path string) (FaultConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return FaultConfig{}, fmt.Errorf("faults: %w", err)
	}
	cfg, err := ParseFaults(b)
	if err != nil {
		return FaultConfig{}, fmt.Errorf("faults %s: %w", path, err)
	}
	return cfg, nil
}

// ParseFaults decodes a fault document, YAML or JSON, strictly (unknown
// keys are errors) and validates it.
func ParseFaults(data []byte) (FaultConfig, error) {
	var cfg FaultConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("decode: %w", err)
	}
	return cfg, cfg.Validate()
}

var codeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Validate reports every problem, each with its path.
func (cfg FaultConfig) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}
	prob := func(path string, p float64) {
		if p < 0 || p > 1 {
			add(path, "must be between 0 and 1, got %v", p)
		}
	}
	match := func(path string, m Match) {
		if m.Method != "" && strings.ToUpper(m.Method) != m.Method {
			add(path+".method", "must be upper case, got %q", m.Method)
		}
		if m.Path != "" && !strings.HasPrefix(m.Path, "/") && !strings.HasPrefix(m.Path, "*") {
			add(path+".path", "must start with / or *, got %q", m.Path)
		}
	}
	for i, r := range cfg.Records {
		p := fmt.Sprintf("records[%d]", i)
		for j, op := range r.Ops {
			if op != OpInsert && op != OpUpdate && op != OpDelete {
				add(fmt.Sprintf("%s.ops[%d]", p, j), "must be insert, update or delete, got %q", op)
			}
		}
		prob(p+".probability", r.Probability)
		if len(r.Keys) == 0 {
			if r.Probability == 0 {
				add(p, "needs keys or a probability")
			}
			if r.Times != 0 {
				add(p+".times", "needs keys")
			}
			if r.Field != "" {
				add(p+".field", "needs keys")
			}
		}
		if r.Times < 0 {
			add(p+".times", "must not be negative")
		}
		if r.Error != "" && !codeRE.MatchString(r.Error) {
			add(p+".error", "must be an upper-case status code such as UNABLE_TO_LOCK_ROW, got %q", r.Error)
		}
	}
	for i, h := range cfg.HTTP {
		p := fmt.Sprintf("http[%d]", i)
		match(p, h.Match)
		if h.Status != 0 && (h.Status < 400 || h.Status > 599) {
			add(p+".status", "must be 400-599, got %d", h.Status)
		}
		switch h.Body {
		case "", "html", "json", "empty":
		default:
			add(p+".body", "must be html, json or empty, got %q", h.Body)
		}
		if h.ErrorCode != "" && !codeRE.MatchString(h.ErrorCode) {
			add(p+".errorCode", "must be an upper-case error code, got %q", h.ErrorCode)
		}
		prob(p+".probability", h.Probability)
		if h.Next < 0 {
			add(p+".next", "must not be negative")
		}
		if h.Next > 0 && h.Probability > 0 {
			add(p, "set probability or next, not both")
		}
	}
	for i, l := range cfg.Latency {
		p := fmt.Sprintf("latency[%d]", i)
		match(p, l.Match)
		if l.Fixed < 0 || l.PerRecord < 0 {
			add(p, "durations must not be negative")
		}
		if l.Fixed == 0 && l.PerRecord == 0 {
			add(p, "needs fixed or perRecord")
		}
	}
	if c := cfg.Concurrency; c != nil && c.Max < 1 {
		add("concurrency.max", "must be at least 1, got %d", c.Max)
	}
	if l := cfg.APILimit; l != nil {
		if l.Max == nil && l.Used == nil {
			add("apiLimit", "needs max or used")
		}
		if l.Max != nil && *l.Max < 0 {
			add("apiLimit.max", "must not be negative")
		}
		if l.Used != nil && *l.Used < 0 {
			add("apiLimit.used", "must not be negative")
		}
	}
	if o := cfg.Outage; o != nil {
		if o.Mode != OutageRefuse && o.Mode != Outage503 {
			add("outage.mode", "must be %q or %q, got %q", OutageRefuse, Outage503, o.Mode)
		}
		if o.Duration <= 0 {
			add("outage.duration", "must be positive")
		}
		if o.Delay < 0 {
			add("outage.delay", "must not be negative")
		}
	}
	return errors.Join(errs...)
}

// status returns the fault's HTTP status.
func (h *HTTPFault) status() int {
	if h.Status == 0 {
		return http.StatusServiceUnavailable
	}
	return h.Status
}
