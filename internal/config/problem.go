package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a config: where (the YAML path and line)
// and what. A Problem never contains the value of a secret.
type Problem struct {
	// Path is the YAML path, e.g. "syncs[1].external_id".
	Path string `json:"path"`
	// Line is the 1-based line in the config file, 0 when unknown (a config
	// built in code rather than loaded).
	Line int `json:"line,omitempty"`
	// Message says what is wrong and, where it helps, what is allowed.
	Message string `json:"message"`
}

// String formats the problem as "path: message (line N)".
func (p Problem) String() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	return b.String()
}

// Problems is the error Load and Validate return when a config has one or
// more problems. It holds every problem found, not just the first.
type Problems struct {
	// File is the config file the problems are in ("" for a config built in code).
	File string
	// List is sorted by line; problems without a line (about something
	// missing from the top level, or in a config built in code) come first,
	// in the order they were found.
	List []Problem
}

// Error prints one problem per line, sorted by line.
func (p *Problems) Error() string {
	lines := make([]string, len(p.List))
	for i, pr := range p.List {
		lines[i] = pr.String()
	}
	return strings.Join(lines, "\n")
}

// Len is the number of problems.
func (p *Problems) Len() int { return len(p.List) }

// Add appends a problem; later packages (e.g. the sync package compiling
// expressions) use it with (*Config).Line to report in the same form.
func (p *Problems) Add(path string, line int, format string, args ...any) {
	p.List = append(p.List, Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// Err returns p sorted, or nil when it holds no problem.
func (p *Problems) Err() error {
	if p == nil || len(p.List) == 0 {
		return nil
	}
	p.sort()
	return p
}

func (p *Problems) sort() {
	sort.SliceStable(p.List, func(i, j int) bool {
		return p.List[i].Line < p.List[j].Line
	})
}
