package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
)

// Headers of the DLQ entries of a file's bad items (besides the
// Sfbridge-Input and Sfbridge-Location that event.Intake sets).
const (
	HeaderFile   = "Sfbridge-File"
	HeaderFolder = "Sfbridge-Folder"
)

// outcome is how an attempt at a file ended.
type outcome int

const (
	// outDone: every item settled, the file moved or deleted.
	outDone outcome = iota
	// outQuarantined: the file cannot be read; moved to quarantine_dir.
	outQuarantined
	// outGone: the file is no longer there, or no longer a regular file.
	outGone
	// outChanged: the file changed since it was last looked at, or while
	// it was read; it settles again before the next attempt.
	outChanged
	// outStopped: the source is stopping; the checkpoint covers what was
	// done.
	outStopped
	// outFailed: see the error; the file stays and is tried again.
	outFailed
)

// outageError marks a failure of the queue, the DLQ or the state store:
// every file would fail the same way, so the source pauses as a whole.
type outageError struct{ err error }

func (e *outageError) Error() string { return e.err.Error() }
func (e *outageError) Unwrap() error { return e.err }

func outage(err error) error { return &outageError{err: err} }

// take reads one file to its end and settles every item in it: events are
// published in batches, each confirmed by the broker, bad items are
// dead-lettered, and the checkpoint is saved after each batch. Only then is
// the file moved to processed_dir or deleted (DESIGN.md invariant 1); a
// file that cannot be read at all is quarantined (invariant 7).
func (s *Source) take(ctx context.Context, c *candidate) (outcome, error) {
	name := c.name
	log := s.log.With("file", name)
	format, gz, err := event.Detect(name, string(s.cfg.Format), string(s.cfg.Compression))
	if err != nil {
		return s.quarantine(ctx, name, "", err.Error())
	}
	full := filepath.Join(s.dir, name)
	// O_NOFOLLOW: a name swapped for a symbolic link is not followed;
	// O_NONBLOCK: one swapped for a FIFO does not block the open.
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ELOOP):
		return outGone, nil
	case errors.Is(err, fs.ErrPermission):
		return s.quarantine(ctx, name, "", "cannot open the file: "+errors.Unwrap(err).Error())
	case err != nil:
		return outFailed, fmt.Errorf("file %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return outFailed, fmt.Errorf("file %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return outGone, nil
	}
	id := identityOf(fi)
	if !id.equal(c.id) {
		return outChanged, nil
	}

	cp, err := s.loadCheckpoint(ctx, name)
	if err != nil {
		return outFailed, outage(fmt.Errorf("file %s: %w", name, err))
	}
	var skip int64
	switch {
	case cp.File == "":
	case cp.identity().equal(id):
		skip = cp.Items
		log.Info("files: finishing a file from its checkpoint", "items_done", cp.Items)
	default:
		log.Info("files: the file changed since its checkpoint; reading it from the start", "items_before", cp.Items)
		cp.Items, cp.Events = 0, 0
	}
	cp.Checkpoint = Checkpoint{File: shownName(name), Size: id.size, MTime: id.mtime, Inode: id.inode, Items: cp.Items, Events: cp.Events}

	cr := &countingReader{r: f}
	defer func() { s.bytes.Add(cr.n) }()
	in, err := event.Open(cr, gz)
	if err != nil {
		var ie *event.InputError
		if errors.As(err, &ie) {
			return s.quarantine(ctx, name, locText(ie.Loc), ie.Reason)
		}
		return outFailed, fmt.Errorf("file %s: %w", name, err)
	}
	shown := shownName(name)
	fr := &fileRun{
		s:        s,
		name:     shown,
		input:    "file " + shown,
		headers:  map[string]string{HeaderFile: shown, HeaderFolder: strings.ToValidUTF8(s.dir, "\uFFFD")},
		received: id.mtime,
		cp:       cp,
	}
	// The file is read one batch ahead: the next batch is being built
	// while the broker confirms the one in hand.
	rd := event.NewReader(in, format, s.intake.Spec)
	rctx, stopReading := context.WithCancel(ctx)
	batches := make(chan *batch, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		fr.read(rctx, rd, skip, batches)
	}()
	defer func() { stopReading(); <-readerDone }()
	var items int64
	for {
		var b *batch
		select {
		case b = <-batches:
		case <-ctx.Done():
			return outFailed, outage(fmt.Errorf("file %s: %w", name, ctx.Err()))
		}
		switch {
		case b.inErr != nil:
			return s.quarantine(ctx, name, locText(b.inErr.Loc), b.inErr.Reason)
		case b.err != nil:
			return outFailed, fmt.Errorf("file %s: %w", name, b.err)
		}
		if err := fr.flush(ctx, b); err != nil {
			if errors.Is(err, errStopping) {
				return outStopped, nil
			}
			return outFailed, err
		}
		items = b.items
		if b.last {
			break
		}
		if s.isStopping() {
			return outStopped, nil
		}
	}
	if items < skip {
		log.Warn("files: the file has fewer items than its checkpoint says were done; nothing was published again", "items", items, "items_done", skip)
	}

	// A file written to while it was read, or replaced under its name,
	// is not moved: what was added would be lost. It settles and is read
	// again (from the start: its identity changed).
	if now, err := f.Stat(); err != nil || !identityOf(now).equal(id) {
		log.Warn("files: the file changed while it was read; it is read again once it settles (write files elsewhere and rename them into the folder)")
		return outChanged, nil
	}
	switch now, err := os.Lstat(full); {
	case errors.Is(err, fs.ErrNotExist):
		log.Warn("files: the file was removed by someone else before it could be moved; every event in it was published")
		s.dropCheckpoint(ctx, log, fr.cp)
		return outGone, nil
	case err != nil:
		return outFailed, fmt.Errorf("file %s: %w", name, err)
	case !identityOf(now).equal(id):
		log.Warn("files: the file was replaced while it was read; the new one is read once it settles")
		return outChanged, nil
	}
	if err := s.finish(log, full, name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.dropCheckpoint(ctx, log, fr.cp)
			return outGone, nil
		}
		return outFailed, fmt.Errorf("file %s: every event is published, but %w", name, err)
	}
	s.dropCheckpoint(ctx, log, fr.cp)
	s.files.Add(1)
	if fr.deadLettered > 0 {
		log.Warn("files: some events of the file were bad and are in the DLQ (sfbridge dlq list)", "dead_lettered", fr.deadLettered, "published", fr.published)
	}
	log.Debug("files: file done", "items", items, "skipped", min(skip, items), "published", fr.published, "dead_lettered", fr.deadLettered)
	return outDone, nil
}

// shownName is a file's name as records, DLQ entries and checkpoints hold
// it: valid UTF-8, U+FFFD in place of bytes that are not.
func shownName(name string) string { return strings.ToValidUTF8(name, "\uFFFD") }

// finish moves a file whose every item is settled to processed_dir, or
// deletes it.
func (s *Source) finish(log *slog.Logger, full, name string) error {
	if s.cfg.After == config.AfterDelete {
		if err := os.Remove(full); err != nil {
			return fmt.Errorf("cannot delete it: %w", err)
		}
		syncDir(log, s.dir)
		return nil
	}
	target, err := moveAside(log, full, s.processedDir, name, false)
	if err != nil {
		return fmt.Errorf("cannot move it to processed_dir %s: %w", s.processedDir, err)
	}
	if target != name {
		log.Info("files: processed_dir had a file of that name; moved under another", "moved_as", target)
	}
	return nil
}

// dropCheckpoint deletes a finished file's checkpoint. A failure is only
// logged: the next start removes checkpoints of files no longer in the
// folder.
func (s *Source) dropCheckpoint(ctx context.Context, log *slog.Logger, cp checkpoint) {
	if cp.rev == 0 {
		return
	}
	if err := s.deleteCheckpoint(ctx, cp.name); err != nil {
		log.Warn("files: cannot delete the checkpoint of a finished file (removed at the next start)", "err", err)
	}
}

// fileRun is the reading of one file.
type fileRun struct {
	s        *Source
	name     string            // the file's name, as valid UTF-8
	input    string            // names the file in DLQ entries
	headers  map[string]string // of DLQ entries
	received time.Time         // the file's modification time
	// cp is the checkpoint saved last (the settling side only).
	cp checkpoint

	published, deadLettered int64
}

// batch is a run of a file's items, read and ready to be settled.
type batch struct {
	msgs  []queue.Message
	bad   []*event.ItemError
	bytes int
	// items counts the file's items read up to the end of this batch.
	items int64
	// last: the reading ended with this batch, at the end of the file
	// unless inErr (the file cannot be read: no item came before it) or
	// err (reading failed) says otherwise.
	last  bool
	inErr *event.InputError
	err   error
}

// read reads the file's items into batches and sends them on out, the last
// one with last set, until the end of the file or ctx ends. The first skip
// items (settled before, says the checkpoint) are read and left out.
func (fr *fileRun) read(ctx context.Context, rd *event.Reader, skip int64, out chan<- *batch) {
	s := fr.s
	cur := &batch{}
	send := func() bool {
		select {
		case out <- cur:
			cur = &batch{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	var items int64
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var (
			inErr   *event.InputError
			itemErr *event.ItemError
		)
		switch {
		case errors.As(err, &inErr):
			if items == 0 {
				cur.last, cur.inErr = true, inErr
				send()
				return
			}
			// The Reader reports a break after good items as an
			// ItemError; should an InputError come late, nothing
			// after it can be read: settle it as the last bad item.
			itemErr = &event.ItemError{Loc: inErr.Loc, Reason: "the input breaks off here, nothing after it was read: " + inErr.Reason}
		case errors.As(err, &itemErr):
		case err != nil:
			cur.last, cur.err = true, err
			send()
			return
		}
		items++
		cur.items = items
		if items > skip {
			if itemErr != nil {
				cur.addBad(itemErr)
			} else {
				fr.addEvent(cur, ev)
			}
		}
		if inErr != nil {
			break
		}
		if len(cur.msgs)+len(cur.bad) >= s.batchEvents || cur.bytes >= s.batchBytes {
			if !send() {
				return
			}
		}
	}
	cur.items, cur.last = items, true
	send()
}

// addEvent adds an event's message to b. An event that cannot become a
// message is a bad item.
func (fr *fileRun) addEvent(b *batch, ev event.Event) {
	meta := map[string]string{"file": fr.name}
	if ev.Loc.Line > 0 {
		meta["line"] = strconv.Itoa(ev.Loc.Line)
	} else {
		meta["index"] = strconv.Itoa(ev.Loc.Index)
	}
	msg, err := fr.s.intake.Message(ev, fr.received, meta)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // without the location Spec.Record adds: the entry has it
		}
		b.addBad(&event.ItemError{Loc: ev.Loc, ID: ev.ID, Reason: "cannot become a record: " + err.Error(), Raw: rawOf(ev)})
		return
	}
	// The ID travels in a header too; 64 bytes cover the header framing.
	if size, limit := len(msg.Data)+len(msg.ID)+64, fr.s.maxMsg; limit > 0 && size > limit {
		b.addBad(&event.ItemError{Loc: ev.Loc, ID: ev.ID, Reason: fmt.Sprintf("its record is %d bytes, more than the queue's largest message (%d bytes); lower max_event_bytes or split the event", size, limit), Raw: rawOf(ev)})
		return
	}
	b.msgs = append(b.msgs, msg)
	b.bytes += ev.Size
}

func (b *batch) addBad(ie *event.ItemError) {
	b.bad = append(b.bad, ie)
	b.bytes += len(ie.Raw)
}

// flush settles b: publish its events (returning once the broker confirmed
// each), dead-letter its bad items, then save the checkpoint at b.items.
// An empty batch is a no-op.
func (fr *fileRun) flush(ctx context.Context, b *batch) error {
	s := fr.s
	if len(b.msgs) == 0 && len(b.bad) == 0 {
		return nil
	}
	if len(b.msgs) > 0 {
		if err := s.awaitBackpressure(ctx); err != nil {
			return err
		}
		if err := s.intake.Publish(ctx, b.msgs); err != nil {
			return outage(fmt.Errorf("file %s: publish %d events: %w", fr.name, len(b.msgs), err))
		}
		s.events.Add(int64(len(b.msgs)))
		fr.published += int64(len(b.msgs))
	}
	for _, ie := range b.bad {
		if err := s.intake.DeadLetter(ctx, fr.input, ie, fr.headers); err != nil {
			return outage(fmt.Errorf("file %s: %w", fr.name, err))
		}
		s.deadLettered.Add(1)
		fr.deadLettered++
	}
	// Invariant 1: every item up to this one is stored by the broker or
	// the DLQ; only now may the checkpoint pass it.
	next := fr.cp
	next.Items = b.items
	next.Events += int64(len(b.msgs))
	cp, err := s.saveCheckpoint(ctx, next)
	if err != nil {
		if errors.Is(err, errBusy) {
			return fmt.Errorf("file %s: %w", fr.name, err)
		}
		return outage(fmt.Errorf("file %s: %w", fr.name, err))
	}
	fr.cp = cp
	return nil
}

// locText renders where a file broke, for the .error file and the log:
// "line 3 (byte 120)", "event 2 (byte 57)" (a JSON array's element), or
// "byte 0".
func locText(l event.Loc) string {
	switch {
	case l.Line > 0:
		return fmt.Sprintf("line %d (byte %d)", l.Line, l.Offset)
	case l.Index > 0:
		return fmt.Sprintf("event %d (byte %d)", l.Index, l.Offset)
	}
	return fmt.Sprintf("byte %d", l.Offset)
}

// errStopping: the source stopped while a batch waited for flow control;
// the batch is left unpublished.
var errStopping = errors.New("the source is stopping")

// awaitBackpressure waits until Options.Backpressure lets the next batch be
// published. Stop ends the wait (errStopping).
func (s *Source) awaitBackpressure(ctx context.Context) error {
	if s.backpressure == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stopCtx, cancel)()
	err := s.backpressure(ctx)
	switch {
	case err == nil:
		return nil
	case s.isStopping():
		return errStopping
	}
	return outage(fmt.Errorf("waiting until the queue's backlog drains: %w", err))
}

// rawOf renders an event's fields for a DLQ entry (at most 64 KiB).
func rawOf(ev event.Event) []byte {
	b, err := json.Marshal(ev.Fields)
	if err != nil {
		return nil
	}
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	return b
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
