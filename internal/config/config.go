package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Version is the config format this sfbridge reads.
const Version = 1

// Config is a whole sfbridge configuration (DESIGN.md §4). The YAML keys are
// documented in docs/configuration.md.
type Config struct {
	// Version of the format; must be 1.
	Version int `yaml:"version"`
	// DataDir holds the embedded JetStream store.
	DataDir string `yaml:"data_dir"`
	// NATS is "embedded" or a comma-separated list of nats:// URLs.
	NATS NATS `yaml:"nats"`
	// Queue tunes the queue's streams.
	Queue Queue `yaml:"queue"`
	// Log configures the process's slog output.
	Log Log `yaml:"log"`
	// Salesforce says which org to write to and how to log in.
	Salesforce Salesforce `yaml:"salesforce"`
	// Sources read changes and publish them as records.
	Sources []Source `yaml:"sources"`
	// Syncs map records onto one Salesforce object each.
	Syncs []Sync `yaml:"syncs"`
	// Delivery holds the defaults of every sync's delivery loop.
	Delivery Delivery `yaml:"delivery"`
	// Alerts are where sfbridge reports what someone must act on.
	Alerts []Alert `yaml:"alerts"`
	// Admin is the admin HTTP server (health, metrics, dashboard, API).
	Admin Admin `yaml:"admin"`

	file  string            // the file it was loaded from
	lines map[string]int    // YAML path → line
	nulls map[string]bool   // paths written as null/empty
	refs  map[string]string // YAML path → the ${…} references its value came from
}

// NATS is the `nats` key: "embedded" (the default) or one or more nats://
// URLs, written comma-separated or as a list. URLs may carry credentials, so
// the value is a Secret.
type NATS struct {
	URL Secret
}

// EmbeddedNATS is the value of `nats` that runs the server in-process.
const EmbeddedNATS = "embedded"

// Embedded reports whether the embedded server is used.
func (n NATS) Embedded() bool { return n.URL.Reveal() == EmbeddedNATS }

// Servers lists the external server URLs (none when embedded).
func (n NATS) Servers() []Secret {
	if n.Embedded() || n.URL.IsZero() {
		return nil
	}
	var out []Secret
	for _, u := range strings.Split(n.URL.Reveal(), ",") {
		out = append(out, Secret{value: strings.TrimSpace(u)})
	}
	return out
}

func (n *NATS) unmarshalNode(d *decoder, node *yaml.Node, path string) {
	if node.Kind == yaml.SequenceNode {
		var urls []string
		d.value(node, valueOf(&urls), path)
		n.URL = Secret{value: strings.Join(urls, ",")}
		return
	}
	if s, ok := d.scalar(node, path, `"embedded" or nats:// URLs`); ok {
		n.URL = Secret{value: s}
	}
}

// LogLevel is the lowest level logged.
type LogLevel string

// Log levels.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// LogFormat is the slog handler used.
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// Log configures logging.
type Log struct {
	Level  LogLevel  `yaml:"level"`
	Format LogFormat `yaml:"format"`
}

// Options change how a config is loaded; the zero value reads the real
// environment and file system.
type Options struct {
	// LookupEnv resolves ${env:NAME}. Nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// ReadFile reads the config file and ${file:/path} references. Nil means os.ReadFile.
	ReadFile func(path string) ([]byte, error)
	// Dir is the base of relative paths (data_dir, files paths, ${file:…}).
	// Load sets it to the config file's directory; Parse leaves it as given
	// ("" keeps relative paths relative to the working directory).
	Dir string
	// Name is the file name used in messages and Problems.File (Load sets
	// it to the path; empty, messages start with "config:").
	Name string
}

func (o Options) withDefaults() Options {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	return o
}

// Load reads, decodes, defaults and validates the config file at path.
// Every failure is an error meant to be printed as-is: one line for a
// missing, unreadable, empty or non-YAML file or an unsupported version, or
// a *Problems listing every problem found, each with its YAML path and line.
func Load(path string) (*Config, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with injectable environment and file reader.
func LoadWith(path string, opts Options) (*Config, error) {
	opts = opts.withDefaults()
	opts.Name = path
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(path)
	}
	data, err := opts.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %s", path, fileReason(err))
	}
	return Parse(data, opts)
}

// Parse decodes, defaults and validates a config held in memory. Errors are
// as for Load.
func Parse(data []byte, opts Options) (*Config, error) {
	opts = opts.withDefaults()
	fail := func(format string, args ...any) error {
		if opts.Name == "" {
			return fmt.Errorf("config: %s", fmt.Sprintf(format, args...))
		}
		return fmt.Errorf("config file %s: %s", opts.Name, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail(`empty; expected a YAML mapping starting with "version: %d"`, Version)
	}
	if line, col, bad := binaryAt(data); bad {
		return nil, fail("not YAML: binary or non-UTF-8 content at line %d, column %d", line, col)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail(`holds no YAML document (only comments?); expected a YAML mapping starting with "version: %d"`, Version)
		}
		return nil, fail("not YAML: %s", yamlReason(err, data))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fail("holds more than one YAML document (a second starts on line %d); put everything in one", extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, fail("not YAML: %s", yamlReason(err, data))
	}
	if len(doc.Content) == 0 {
		return nil, fail(`empty; expected a YAML mapping starting with "version: %d"`, Version)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(`not a YAML mapping (the document is %s on line %d); expected keys like "version: %d"`, kindName(root), root.Line, Version)
	}
	if err := checkVersion(root, opts.Name); err != nil {
		return nil, err
	}

	d := newDecoder(opts)
	c := &Config{}
	d.value(root, valueOf(c), "")
	c.file, c.lines, c.nulls, c.refs = opts.Name, d.lines, d.nulls, d.refs
	c.SetDefaults()
	c.resolvePaths(opts.Dir)

	probs := &Problems{File: opts.Name, List: d.problems}
	if err := c.Validate(); err != nil {
		var vp *Problems
		if errors.As(err, &vp) {
			probs.List = append(probs.List, dropShadowed(vp.List, d.problems)...)
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkVersion stops early on a version this sfbridge does not read: the
// rest of the file may follow another schema, so no other problem is listed.
func checkVersion(root *yaml.Node, name string) error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "version" {
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			return nil // reported as "required" with the other problems
		}
		if v.Kind != yaml.ScalarNode || v.Value != fmt.Sprint(Version) {
			got := kindName(v)
			if v.Kind == yaml.ScalarNode {
				got = fmt.Sprintf("%q", shorten(v.Value))
			}
			prefix := "config"
			if name != "" {
				prefix = "config file " + name
			}
			return fmt.Errorf("%s: version %s is not supported; this sfbridge reads version %d (line %d)", prefix, got, Version, k.Line)
		}
		return nil
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlReason makes a yaml error one line without the "yaml: " prefix. In
// its parser errors ("did not find expected …") yaml/v3 gives the 0-based
// line of the enclosing list or mapping (or of the offending token when that
// starts on line 1): they become "near line N+1". Unquoted ${…} inside {…}
// or […] is a common cause of such errors, so it gets a hint.
func yamlReason(err error, data []byte) string {
	s := strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
	m := yamlLine.FindStringSubmatch(s)
	if m == nil || !strings.HasPrefix(m[2], "did not find expected") {
		return s
	}
	n, _ := strconv.Atoi(m[1])
	s = fmt.Sprintf("near line %d: %s", n+1, m[2])
	if bytes.Contains(data, []byte("${")) && (strings.HasSuffix(s, "'}'") || strings.HasSuffix(s, "']'")) {
		s += ` (inside {…} or […], quote values holding references: "${env:NAME}")`
	}
	return s
}

// binaryAt finds the first byte that cannot be in a YAML config: invalid
// UTF-8 or a control character other than tab, newline and carriage return.
func binaryAt(data []byte) (line, col int, found bool) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if (r == utf8.RuneError && size <= 1) || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return line, col, true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return 0, 0, false
}

// dropShadowed removes validation problems at or under a path that already
// has a decode problem (a wrong type also leaves a zero value behind; the
// user needs to hear about it once).
func dropShadowed(validation, decode []Problem) []Problem {
	bad := map[string]bool{}
	for _, p := range decode {
		bad[p.Path] = true
	}
	var out []Problem
next:
	for _, p := range validation {
		for q := p.Path; q != ""; q = parent(q) {
			if bad[q] {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// resolvePaths makes relative file system paths relative to dir (the config
// file's directory), so the result does not depend on where sfbridge starts.
func (c *Config) resolvePaths(dir string) {
	if dir == "" {
		return
	}
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.DataDir)
	for i := range c.Sources {
		if f := c.Sources[i].Files; f != nil {
			abs(&f.Path)
			abs(&f.ProcessedDir)
			abs(&f.QuarantineDir)
		}
	}
}

// File is the path the config was loaded from ("" when built in code).
func (c *Config) File() string { return c.file }

// Line returns the line of a YAML path such as "syncs[1].fields.Email", or
// of its nearest ancestor present in the file; 0 when unknown. Packages that
// check more later (expressions, describe) use it to report problems in the
// same form.
func (c *Config) Line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}

// present reports whether a path was written in the file with a non-null value.
func (c *Config) present(path string) bool {
	_, ok := c.lines[path]
	return ok && !c.nulls[path]
}

// Source returns the source with the given name.
func (c *Config) Source(name string) (*Source, bool) {
	for i := range c.Sources {
		if c.Sources[i].Name == name {
			return &c.Sources[i], true
		}
	}
	return nil, false
}

// Summary is one line saying what the config holds, e.g.
// "config ok: 2 sources (postgres_poll, files), 3 syncs, nats embedded, salesforce client_credentials".
// It never contains a secret.
func (c *Config) Summary() string {
	var types []string
	seen := map[SourceType]bool{}
	for _, s := range c.Sources {
		if !seen[s.Type] {
			seen[s.Type] = true
			types = append(types, string(s.Type))
		}
	}
	src := plural(len(c.Sources), "source")
	if len(types) > 0 {
		src += " (" + strings.Join(types, ", ") + ")"
	}
	nats := "nats embedded"
	if !c.NATS.Embedded() {
		nats = fmt.Sprintf("nats external (%s)", plural(len(c.NATS.Servers()), "server"))
	}
	return fmt.Sprintf("config ok: %s, %s, %s, salesforce %s", src, plural(len(c.Syncs), "sync"), nats, c.Salesforce.Auth.Flow)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
