package sfemu

import (
	"bytes"
	"fmt"
	"strings"
)

// Bulk 2.0 CSV (fact sheet §8.1, §8.2): one delimiter byte per job, LF or
// CRLF record endings, fields quoted with '"' and '""' inside quotes,
// nothing trimmed. The scanner works on the uploaded bytes and reports
// each record's byte range, so a job keeps only its upload plus a few
// words per row and re-reads a row when it writes result files.

// bulkDelimiters maps columnDelimiter values to their byte.
var bulkDelimiters = map[string]byte{
	"COMMA": ',', "TAB": '\t', "PIPE": '|', "SEMICOLON": ';', "CARET": '^', "BACKQUOTE": '`',
}

// bulkDelimiterNames lists the columnDelimiter values in the order the
// documentation does.
const bulkDelimiterNames = "BACKQUOTE, CARET, COMMA, PIPE, SEMICOLON, TAB"

// bulkUTF8BOM is stripped from the start of an upload (docs/emulator.md).
const bulkUTF8BOM = "\xef\xbb\xbf"

// bulkCSVFormat is a job's CSV dialect.
type bulkCSVFormat struct {
	delim byte
	crlf  bool
}

func (f bulkCSVFormat) eol() string {
	if f.crlf {
		return "\r\n"
	}
	return "\n"
}

// bulkCSVSyntaxError is malformed CSV at a 1-based record number.
type bulkCSVSyntaxError struct {
	record int
	msg    string
}

func (e *bulkCSVSyntaxError) Error() string {
	return fmt.Sprintf("%s in row %d", e.msg, e.record)
}

// bulkCSVScanner reads records from data.
type bulkCSVScanner struct {
	data   []byte
	pos    int
	f      bulkCSVFormat
	record int // records read so far, blank lines included
	buf    []byte
}

func newBulkCSVScanner(data []byte, f bulkCSVFormat) *bulkCSVScanner {
	return &bulkCSVScanner{data: data, f: f}
}

// atEOL reports whether an end of line starts at i.
func (s *bulkCSVScanner) atEOL(i int) bool {
	if s.f.crlf {
		return i+1 < len(s.data) && s.data[i] == '\r' && s.data[i+1] == '\n'
	}
	return s.data[i] == '\n'
}

func (s *bulkCSVScanner) eolLen() int {
	if s.f.crlf {
		return 2
	}
	return 1
}

// next reads the next non-blank record into fields (reused) and returns
// it with the record's byte range [start, end) excluding its line ending.
// ok is false at the end of the data.
func (s *bulkCSVScanner) next(fields []string) (out []string, start, end int, ok bool, err error) {
	for s.pos < len(s.data) && s.atEOL(s.pos) { // blank lines
		s.pos += s.eolLen()
		s.record++
	}
	if s.pos >= len(s.data) {
		return fields[:0], 0, 0, false, nil
	}
	s.record++
	start = s.pos
	fields = fields[:0]
	for {
		var v string
		if s.data[s.pos] == '"' {
			v, err = s.quoted()
			if err != nil {
				return nil, 0, 0, false, err
			}
		} else {
			i := s.pos
			for i < len(s.data) && s.data[i] != s.f.delim && !s.atEOL(i) {
				i++
			}
			v = string(s.data[s.pos:i])
			s.pos = i
		}
		fields = append(fields, v)
		switch {
		case s.pos >= len(s.data):
			return fields, start, s.pos, true, nil
		case s.data[s.pos] == s.f.delim:
			s.pos++
			if s.pos >= len(s.data) || s.atEOL(s.pos) { // trailing empty field
				fields = append(fields, "")
				end = s.pos
				if s.pos < len(s.data) {
					s.pos += s.eolLen()
				}
				return fields, start, end, true, nil
			}
		default: // end of line
			end = s.pos
			s.pos += s.eolLen()
			return fields, start, end, true, nil
		}
	}
}

// quoted reads a quoted field starting at s.pos.
func (s *bulkCSVScanner) quoted() (string, error) {
	s.pos++
	s.buf = s.buf[:0]
	for {
		q := bytes.IndexByte(s.data[s.pos:], '"')
		if q < 0 {
			return "", &bulkCSVSyntaxError{s.record, "unterminated quoted field"}
		}
		s.buf = append(s.buf, s.data[s.pos:s.pos+q]...)
		s.pos += q + 1
		if s.pos < len(s.data) && s.data[s.pos] == '"' {
			s.buf = append(s.buf, '"')
			s.pos++
			continue
		}
		if s.pos < len(s.data) && s.data[s.pos] != s.f.delim && !s.atEOL(s.pos) {
			return "", &bulkCSVSyntaxError{s.record, fmt.Sprintf("unexpected character %q after a closing quote", s.data[s.pos])}
		}
		return string(s.buf), nil
	}
}

// fieldsAt re-reads the record in data[start:end].
func (f bulkCSVFormat) fieldsAt(data []byte, start, end int) []string {
	var r bulkRowReader
	return r.read(data, f, start, end)
}

// bulkRowReader re-reads records whose ranges were scanned before,
// reusing its buffers: the slice read returns is valid until the next call.
type bulkRowReader struct {
	s      bulkCSVScanner
	fields []string
}

func (r *bulkRowReader) read(data []byte, f bulkCSVFormat, start, end int) []string {
	r.s.data, r.s.pos, r.s.f, r.s.record = data[start:end], 0, f, 0
	fields, _, _, _, err := r.s.next(r.fields)
	if err != nil { // cannot happen: the range was scanned before
		return []string{string(data[start:end])}
	}
	r.fields = fields
	return fields
}

// bulkCSVWriter writes result files: values always quoted, names quoted only
// when they need it, as in the documentation's examples (fact sheet §8.5).
type bulkCSVWriter struct {
	buf   bytes.Buffer
	delim byte
	eol   string
}

func newBulkCSVWriter(delim byte, eol string) *bulkCSVWriter {
	return &bulkCSVWriter{delim: delim, eol: eol}
}

// quotedValue writes v in quotes.
func (w *bulkCSVWriter) quotedValue(v string) {
	w.buf.WriteByte('"')
	if strings.IndexByte(v, '"') < 0 {
		w.buf.WriteString(v)
	} else {
		w.buf.WriteString(strings.ReplaceAll(v, `"`, `""`))
	}
	w.buf.WriteByte('"')
}

// name writes a column name, quoting it only when it contains the
// delimiter, a quote or a line break.
func (w *bulkCSVWriter) name(v string) {
	if v == "" || strings.ContainsAny(v, "\"\r\n"+string(w.delim)) {
		w.quotedValue(v)
		return
	}
	w.buf.WriteString(v)
}

func (w *bulkCSVWriter) sep() { w.buf.WriteByte(w.delim) }

func (w *bulkCSVWriter) endRecord() { w.buf.WriteString(w.eol) }

func (w *bulkCSVWriter) bytes() []byte { return w.buf.Bytes() }
