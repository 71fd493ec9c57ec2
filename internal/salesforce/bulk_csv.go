package salesforce

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// maxHeader is Bulk API 2.0's limit on the header row.
const maxHeader = 32_000

// csvColumns returns the union of the columns of ps: the key column first
// (when key is set), then the others sorted case-insensitively. Names are
// spelled as first seen.
func csvColumns(ps []*prepared, key string) ([]column, error) {
	seen := map[string]bool{}
	var cols []column
	if key != "" {
		cols = append(cols, column{name: key, field: key})
		seen[strings.ToLower(key)] = true
	}
	start := len(cols)
	for _, p := range ps {
		for _, c := range p.cols {
			if lc := strings.ToLower(c.name); !seen[lc] {
				seen[lc] = true
				cols = append(cols, c)
			}
		}
	}
	rest := cols[start:]
	sort.Slice(rest, func(i, j int) bool { return strings.ToLower(rest[i].name) < strings.ToLower(rest[j].name) })
	n := 0
	for _, c := range cols {
		n += len(c.name) + 1
	}
	if n > maxHeader {
		return nil, fmt.Errorf("the CSV header has %d characters, Bulk API 2.0 takes at most %d", n, maxHeader)
	}
	return cols, nil
}

// csvWriter encodes rows as Bulk API 2.0 CSV: comma-delimited, LF line
// endings, RFC 4180 quoting, #N/A for null, an empty field where a row does
// not set a column ("leave unchanged").
type csvWriter struct {
	cols   []column
	buf    bytes.Buffer
	enc    *csv.Writer
	record []string
}

func newCSVWriter(cols []column) *csvWriter {
	w := &csvWriter{cols: cols, record: make([]string, len(cols))}
	w.enc = csv.NewWriter(&w.buf)
	return w
}

// header returns the encoded header line.
func (w *csvWriter) header() []byte {
	for i, c := range w.cols {
		w.record[i] = c.name
	}
	return w.line()
}

// row returns the encoded line of p.
func (w *csvWriter) row(p *prepared) []byte {
	for i, c := range w.cols {
		if v, ok := p.cells[strings.ToLower(c.name)]; ok {
			w.record[i] = v.csv()
		} else {
			w.record[i] = ""
		}
	}
	return w.line()
}

func (w *csvWriter) line() []byte {
	w.buf.Reset()
	_ = w.enc.Write(w.record) // writes to a bytes.Buffer cannot fail
	w.enc.Flush()
	return w.buf.Bytes()
}

// writeCSV writes the header and as many rows of ps as fit in maxBytes (at
// least one), and returns how many rows it wrote.
func writeCSV(dst io.Writer, cols []column, ps []*prepared, maxBytes int64) (int, error) {
	w := newCSVWriter(cols)
	h := w.header()
	size := int64(len(h))
	if _, err := dst.Write(h); err != nil {
		return 0, err
	}
	for n, p := range ps {
		line := w.row(p)
		if n > 0 && size+int64(len(line)) > maxBytes {
			return n, nil
		}
		size += int64(len(line))
		if _, err := dst.Write(line); err != nil {
			return n, err
		}
	}
	return len(ps), nil
}

// resultRow is one row of a job's successful, failed or unprocessed results.
type resultRow struct {
	id      string // sf__Id
	created bool   // sf__Created
	errText string // sf__Error
	key     string // the key column's value as echoed
}

// readResults parses a results CSV: the sf__ columns, then the original
// columns (of which it reads keyCol, matched case-insensitively).
func readResults(r io.Reader, keyCol string, fn func(resultRow)) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil // no header: no rows
	}
	if err != nil {
		return fmt.Errorf("results header: %w", err)
	}
	idx := map[string]int{}
	for i, h := range head {
		h = strings.TrimPrefix(h, "\ufeff")
		if _, dup := idx[strings.ToLower(h)]; !dup {
			idx[strings.ToLower(h)] = i
		}
	}
	keyAt, ok := idx[strings.ToLower(keyCol)]
	if !ok {
		return fmt.Errorf("results have no %s column (header: %s)", keyCol, strings.Join(head, ","))
	}
	get := func(rec []string, name string) string {
		if i, ok := idx[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		row := resultRow{id: get(rec, "sf__id"), errText: get(rec, "sf__error"), created: strings.EqualFold(get(rec, "sf__created"), "true")}
		if keyAt < len(rec) {
			row.key = rec[keyAt]
		}
		fn(row)
	}
}

var statusCodeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// parseSFError reads a Bulk sf__Error, "STATUS_CODE:message:fields --"
// (e.g. "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --").
// The message may itself contain colons; the fields are after the last one.
func parseSFError(s string) *RecordError {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimSuffix(s, "--"))
	code, rest, ok := strings.Cut(s, ":")
	if !ok || !statusCodeRE.MatchString(code) {
		return &RecordError{Code: "UNKNOWN", Message: s}
	}
	msg, fields := rest, ""
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		msg, fields = rest[:i], rest[i+1:]
	}
	var names []string
	for _, f := range strings.Split(fields, ",") {
		if f = strings.TrimSpace(f); f != "" {
			names = append(names, f)
		}
	}
	for _, f := range names {
		if _, ok := parseColumn(f); !ok {
			// Not a field list: the colon belongs to the message.
			msg, names = rest, nil
			break
		}
	}
	return &RecordError{Code: code, Message: strings.TrimSpace(msg), Fields: names}
}
