package event

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"
)

// Format is an input format.
type Format string

// Formats.
const (
	NDJSON Format = "ndjson"
	JSON   Format = "json"
	CSV    Format = "csv"
)

// Detect chooses the format and compression of a file from its name when
// format or compression is "auto" (or ""): .ndjson/.jsonl, .json and .csv,
// each optionally followed by .gz. An explicit format or compression wins.
func Detect(name, format, compression string) (Format, bool, error) {
	base := strings.ToLower(path.Base(name))
	gz := false
	switch compression {
	case "", "auto":
		if strings.HasSuffix(base, ".gz") {
			gz = true
		}
	case "gzip":
		gz = true
	case "none":
	default:
		return "", false, fmt.Errorf("compression %q is not auto, none or gzip", compression)
	}
	base = strings.TrimSuffix(base, ".gz")
	switch format {
	case "", "auto":
		switch path.Ext(base) {
		case ".ndjson", ".jsonl":
			return NDJSON, gz, nil
		case ".json":
			return JSON, gz, nil
		case ".csv":
			return CSV, gz, nil
		}
		return "", false, fmt.Errorf("%s: cannot tell the format from the name (.ndjson, .jsonl, .json or .csv, optionally .gz); set format", name)
	case string(NDJSON), string(JSON), string(CSV):
		return Format(format), gz, nil
	}
	return "", false, fmt.Errorf("format %q is not auto, ndjson, json or csv", format)
}

// Open returns r decompressed when gz; a stream that is not gzip is an
// *InputError. Later corruption surfaces as an InputError from Next.
func Open(r io.Reader, gz bool) (io.Reader, error) {
	if !gz {
		return r, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &InputError{Reason: "empty: no gzip data"}
		}
		return nil, &InputError{Reason: "not gzip: " + err.Error()}
	}
	return zr, nil
}

// maxHeld bounds the syntax errors held back before the first event
// parses; an input whose first maxHeld items are all unreadable is not an
// input of this format.
const maxHeld = 100

// Reader streams the events of one input. It is not safe for concurrent
// use.
type Reader struct {
	spec   Spec
	format Format
	cr     *countingReader
	br     *bufio.Reader
	csv    *csv.Reader
	header []string

	started bool
	done    bool
	err     error // the InputError, once
	index   int
	line    int
	parsed  int          // items whose syntax was good
	good    int          // events returned
	held    []*ItemError // syntax errors before the first parsed item
	queue   []pending    // results waiting to be returned, in order
	jsonDec *json.Decoder
	array   bool
}

// NewReader returns a Reader of r in format f.
func NewReader(r io.Reader, f Format, spec Spec) *Reader {
	cr := &countingReader{r: r}
	return &Reader{spec: spec, format: f, cr: cr, br: bufio.NewReaderSize(cr, 16<<10)}
}

// Events returns how many events Next has returned.
func (r *Reader) Events() int { return r.good }

// Next returns the next event; an *ItemError for a bad event (call Next
// again for the rest); an *InputError when the input cannot be read (the
// end); io.EOF after the last event.
func (r *Reader) Next() (Event, error) {
	for {
		if len(r.queue) > 0 {
			p := r.queue[0]
			r.queue = r.queue[1:]
			if p.err == nil {
				r.good++
			}
			return p.ev, p.err
		}
		if r.done {
			if r.err != nil {
				return Event{}, r.err
			}
			return Event{}, io.EOF
		}
		ev, ierr, err := r.next()
		switch {
		case err != nil:
			r.finish(err)
		case ierr != nil && ierr.syntax:
			if r.parsed == 0 {
				r.held = append(r.held, ierr.ItemError)
				if len(r.held) >= maxHeld {
					r.finish(&InputError{Reason: fmt.Sprintf("not %s: the first %d items are all unreadable; %s", r.format, maxHeld, r.held[0])})
				}
				continue
			}
			return Event{}, ierr.ItemError
		case ierr != nil:
			r.release()
			r.queue = append(r.queue, pending{err: ierr.ItemError})
		default:
			r.release()
			r.queue = append(r.queue, pending{ev: ev})
		}
	}
}

// release queues the held syntax errors once something parsed.
func (r *Reader) release() {
	for _, e := range r.held {
		r.queue = append(r.queue, pending{err: e})
	}
	r.held = nil
}

// pending is a result Next has yet to return.
type pending struct {
	ev  Event
	err error
}

// finish ends the input: err is io.EOF or an *InputError.
func (r *Reader) finish(err error) {
	r.done = true
	var in *InputError
	switch {
	case errors.As(err, &in):
	case errors.Is(err, io.EOF):
		if r.parsed > 0 {
			return
		}
		if len(r.held) > 0 {
			in = &InputError{Loc: r.held[0].Loc, Reason: fmt.Sprintf("not %s: no item could be parsed (%d tried); %s", r.format, len(r.held), r.held[0].Reason)}
			r.held = nil
		} else {
			in = &InputError{Loc: r.loc(), Reason: "empty: no events"}
		}
	default:
		in = &InputError{Loc: r.loc(), Reason: "read: " + err.Error()}
	}
	if r.parsed > 0 {
		// Events came out before the input broke: keep them, and report
		// the break as one bad item so what follows is accounted for.
		r.release()
		r.queue = append(r.queue, pending{err: &ItemError{Loc: in.Loc, Reason: "the input breaks off here, nothing after it was read: " + in.Reason}})
		return
	}
	r.held = nil
	r.err = in
}

func (r *Reader) loc() Loc {
	return Loc{Index: r.index, Line: r.line, Offset: r.cr.n - int64(r.br.Buffered())}
}

// itemErr is an ItemError with whether it is about syntax (the item is not
// JSON at all, or not a row) rather than content.
type itemErr struct {
	*ItemError
	syntax bool
}

func (r *Reader) next() (Event, *itemErr, error) {
	if !r.started {
		r.started = true
		if err := r.start(); err != nil {
			return Event{}, nil, err
		}
	}
	switch r.format {
	case NDJSON:
		return r.nextLine()
	case JSON:
		return r.nextJSON()
	case CSV:
		return r.nextRow()
	}
	return Event{}, nil, &InputError{Reason: fmt.Sprintf("format %q is not ndjson, json or csv", r.format)}
}

// start looks at the beginning of the input: empty, or binary.
func (r *Reader) start() error {
	peek, err := r.br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return &InputError{Reason: "read: " + err.Error()}
	}
	if len(bytes.TrimSpace(peek)) == 0 && len(peek) < 4096 {
		return &InputError{Reason: "empty: no events"}
	}
	if i := bytes.IndexByte(peek, 0); i >= 0 {
		return &InputError{Loc: Loc{Offset: int64(i)}, Reason: "binary data: byte 0x00, not text"}
	}
	switch r.format {
	case JSON:
		trimmed := bytes.TrimLeft(peek, " \t\r\n\ufeff")
		if len(trimmed) > 0 {
			switch trimmed[0] {
			case '[':
				r.array = true
			case '{':
			default:
				off := int64(len(peek) - len(trimmed))
				return &InputError{Loc: Loc{Offset: off}, Reason: fmt.Sprintf("not JSON: starts with %q, not an object or an array", firstRune(trimmed))}
			}
		}
		r.jsonDec = json.NewDecoder(r.br)
		r.jsonDec.UseNumber()
		if r.array {
			if _, err := r.jsonDec.Token(); err != nil {
				return &InputError{Reason: "not JSON: " + err.Error()}
			}
		}
	case CSV:
		r.csv = csv.NewReader(r.br)
		r.csv.FieldsPerRecord = -1
		r.csv.ReuseRecord = false
		head, err := r.csv.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return &InputError{Reason: "empty: no header row"}
			}
			return &InputError{Loc: Loc{Line: 1}, Reason: "header: " + csvReason(err)}
		}
		if len(head) > 0 {
			head[0] = strings.TrimPrefix(head[0], "\ufeff")
		}
		seen := map[string]int{}
		for i, h := range head {
			switch {
			case !utf8.ValidString(h):
				return &InputError{Loc: Loc{Line: 1}, Reason: fmt.Sprintf("header: column %d is not valid UTF-8", i+1)}
			case strings.TrimSpace(h) == "":
				return &InputError{Loc: Loc{Line: 1}, Reason: fmt.Sprintf("header: column %d has no name", i+1)}
			case seen[h] > 0:
				return &InputError{Loc: Loc{Line: 1}, Reason: fmt.Sprintf("header: column %d repeats %q (column %d)", i+1, h, seen[h])}
			}
			seen[h] = i + 1
		}
		r.header = head
		r.line = 1
	}
	return nil
}

func firstRune(b []byte) string {
	ru, _ := utf8.DecodeRune(b)
	return string(ru)
}

// nextLine reads one NDJSON line.
func (r *Reader) nextLine() (Event, *itemErr, error) {
	max := r.spec.maxEvent()
	for {
		start := r.loc().Offset
		line, long, err := readLine(r.br, max)
		if err != nil && len(line) == 0 && !long {
			return Event{}, nil, err
		}
		r.line++
		at := Loc{Index: r.index, Line: r.line, Offset: start}
		trimmed := bytes.TrimSpace(line)
		if long {
			r.index++
			return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: fmt.Sprintf("longer than max_event_bytes (%d bytes); skipped to the next line", max), Raw: clip(line)}, syntax: true}, nil
		}
		if len(trimmed) == 0 {
			if err != nil {
				return Event{}, nil, err
			}
			continue
		}
		r.index++
		ev, ie := r.object(at, trimmed)
		return ev, ie, nil
	}
}

// readLine reads up to and without the next '\n' (and a CR before it). A
// line over max bytes is read to its end and dropped: long is true and line
// holds its first max bytes.
func readLine(br *bufio.Reader, max int) (line []byte, long bool, err error) {
	for {
		chunk, e := br.ReadSlice('\n')
		if len(line)+len(chunk) > max+2 { // room for "\r\n"
			if !long {
				room := max - len(line)
				if room > 0 {
					line = append(line, chunk[:min(room, len(chunk))]...)
				}
			}
			long = true
		} else if !long {
			line = append(line, chunk...)
		}
		switch {
		case e == nil:
			if long {
				return line, true, nil
			}
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) > max {
				return line[:max], true, nil
			}
			return line, false, nil
		case errors.Is(e, bufio.ErrBufferFull):
			continue
		default:
			if long {
				return line, true, nil
			}
			if len(line) > max {
				return line[:max], true, nil
			}
			return line, false, e
		}
	}
}

// object decodes one JSON object (a line or an array element).
func (r *Reader) object(at Loc, raw []byte) (Event, *itemErr) {
	if !utf8.Valid(raw) {
		i := invalidUTF8At(raw)
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: fmt.Sprintf("not valid UTF-8 at byte %d of the event", i), Raw: clip(raw)}, syntax: true}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: "not JSON: " + jsonReason(err), Raw: clip(raw)}, syntax: true}
	}
	if dec.More() || !atEOF(dec.Token()) {
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: fmt.Sprintf("not JSON: more data after the value at byte %d", dec.InputOffset()), Raw: clip(raw)}, syntax: true}
	}
	r.parsed++
	fields, ok := v.(map[string]any)
	if !ok {
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: "an event must be a JSON object, got " + kind(v), Raw: clip(raw)}}
	}
	ev := Event{Fields: fields, Loc: at, Size: len(raw)}
	if ie := r.spec.identify(&ev, raw); ie != nil {
		return Event{}, &itemErr{ItemError: ie}
	}
	return ev, nil
}

// atEOF tells whether a Decoder's Token found the end of the input.
func atEOF(_ json.Token, err error) bool { return errors.Is(err, io.EOF) }

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		ru, n := utf8.DecodeRune(b[i:])
		if ru == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d of the event)", se.Error(), se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of JSON input (truncated)"
	}
	return err.Error()
}

// nextJSON reads the next element of a JSON array, or the one object.
func (r *Reader) nextJSON() (Event, *itemErr, error) {
	dec := r.jsonDec
	if !r.array {
		if r.index > 0 {
			return r.trailing(dec)
		}
	} else if !dec.More() {
		off := dec.InputOffset()
		if _, err := dec.Token(); err != nil {
			return Event{}, nil, &InputError{Loc: Loc{Index: r.index, Offset: off}, Reason: "not JSON: " + jsonReason(err)}
		}
		r.array = false // the closing bracket is read: only whitespace may follow
		return r.trailing(dec)
	}
	off := dec.InputOffset()
	var raw json.RawMessage
	at := Loc{Index: r.index, Offset: off}
	if err := dec.Decode(&raw); err != nil {
		if r.index == 0 && errors.Is(err, io.EOF) && !r.array {
			return Event{}, nil, io.EOF
		}
		return Event{}, nil, &InputError{Loc: at, Reason: "not JSON: " + jsonReason(err)}
	}
	r.index++
	at.Offset = dec.InputOffset() - int64(len(raw)) // where the element begins
	if max := r.spec.maxEvent(); len(raw) > max {
		r.parsed++
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: fmt.Sprintf("%d bytes, larger than max_event_bytes (%d)", len(raw), max), Raw: clip(raw)}}, nil
	}
	ev, ie := r.object(at, raw)
	return ev, ie, nil
}

// trailing checks that nothing but whitespace follows the document.
func (r *Reader) trailing(dec *json.Decoder) (Event, *itemErr, error) {
	off := dec.InputOffset()
	if _, err := dec.Token(); errors.Is(err, io.EOF) {
		return Event{}, nil, io.EOF
	}
	return Event{}, nil, &InputError{Loc: Loc{Index: r.index, Offset: off}, Reason: "not JSON: more data after the end of the document"}
}

// nextRow reads one CSV row.
func (r *Reader) nextRow() (Event, *itemErr, error) {
	start := r.csv.InputOffset()
	row, err := r.csv.Read()
	if errors.Is(err, io.EOF) {
		return Event{}, nil, io.EOF
	}
	var line int
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		line = pe.StartLine
	} else if err == nil && len(row) > 0 {
		line, _ = r.csv.FieldPos(0)
	}
	r.line = line
	at := Loc{Index: r.index, Line: line, Offset: start}
	r.index++
	if err != nil {
		if pe == nil {
			return Event{}, nil, &InputError{Loc: at, Reason: "read: " + err.Error()}
		}
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: "not CSV: " + csvReason(err)}, syntax: true}, nil
	}
	raw := rowBytes(row)
	if len(row) != len(r.header) {
		r.parsed++
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: fmt.Sprintf("%d fields, the header has %d (%s)", len(row), len(r.header), clipText(strings.Join(r.header, ","), 200)), Raw: clip(raw)}}, nil
	}
	if max := r.spec.maxEvent(); len(raw) > max {
		r.parsed++
		return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: fmt.Sprintf("%d bytes, larger than max_event_bytes (%d)", len(raw), max), Raw: clip(raw)}}, nil
	}
	fields := make(map[string]any, len(row))
	for i, v := range row {
		if !utf8.ValidString(v) {
			return Event{}, &itemErr{ItemError: &ItemError{Loc: at, Reason: fmt.Sprintf("column %q: not valid UTF-8", r.header[i]), Raw: clip(raw)}, syntax: true}, nil
		}
		fields[r.header[i]] = v
	}
	r.parsed++
	ev := Event{Fields: fields, Loc: at, Size: len(raw)}
	if ie := r.spec.identify(&ev, raw); ie != nil {
		return Event{}, &itemErr{ItemError: ie}, nil
	}
	return ev, nil, nil
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%v (line %d, column %d)", pe.Err, pe.Line, pe.Column)
	}
	return err.Error()
}

// rowBytes renders a row as one CSV line, for ItemError.Raw.
func rowBytes(row []string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(row)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
