package s3src

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
)

// outcome is how the processing of one object ended well.
type outcome int

const (
	// processed: read to the end, every event confirmed, marked.
	processed outcome = iota + 1
	// already: it was marked processed before.
	already
	// gone: it is no longer in the bucket.
	gone
	// quarantined: unreadable; moved under quarantine_prefix.
	quarantined
)

func (o outcome) String() string {
	switch o {
	case processed:
		return "processed"
	case already:
		return "already processed"
	case gone:
		return "gone"
	case quarantined:
		return "quarantined"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Headers of the DLQ entries of bad items, besides those event.Intake sets
// (Sfbridge-Input "s3://bucket/key", Sfbridge-Location).
const (
	HeaderBucket = "Sfbridge-Bucket"
	HeaderKey    = "Sfbridge-Key"
	HeaderETag   = "Sfbridge-Etag"
)

// syntheticETag starts the content identity made up for an object its
// store gave no ETag (it cannot be a copy condition).
const syntheticETag = "modified-"

// errStopping: Stop was called after a batch; the object's checkpoint
// covers what was confirmed, the rest is read on the next start.
var errStopping = errors.New("the source is stopping")

// uri names an object in messages and DLQ entries: "s3://bucket/key".
func (s *Source) uri(key string) string { return "s3://" + s.cfg.Bucket + "/" + key }

// process reads one object unless it is marked processed, publishes its
// events in confirmed batches, dead-letters its bad items, and marks it,
// resuming after its checkpoint. etag is what the listing or the
// notification said the object's ETag is ("" when unknown); the object
// read decides.
func (s *Source) process(ctx context.Context, key, etag string) (outcome, error) {
	unlock := s.locks.lock(key)
	defer unlock()
	ck, err := s.loadCheckpoint(ctx, key)
	if err != nil {
		return 0, err
	}
	etag = trimETag(etag)
	if etag != "" && ck.ETag == etag {
		if ck.Marked {
			return already, nil
		}
		if ck.Complete {
			return s.finish(ctx, &ck)
		}
	}
	if s.cfg.Mark == config.MarkTag {
		// The tag is the mark; the checkpoint only caches it.
		tagged, err := s.tagged(ctx, key)
		if isNoSuchKey(err) {
			return gone, s.dropCheckpoint(ctx, key, ck.rev)
		}
		if err != nil {
			return 0, fmt.Errorf("get the tags of %s: %w", s.uri(key), err)
		}
		if tagged {
			if etag != "" {
				ck.Checkpoint = Checkpoint{Key: key, ETag: etag, Complete: true, Marked: true}
				if err := s.saveCheckpoint(ctx, &ck); err != nil {
					return 0, err
				}
			}
			return already, nil
		}
	}
	resp, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if isNoSuchKey(err) {
		return gone, s.dropCheckpoint(ctx, key, ck.rev)
	}
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", s.uri(key), err)
	}
	defer resp.Body.Close()
	modified := aws.ToTime(resp.LastModified)
	actual := trimETag(aws.ToString(resp.ETag))
	if actual == "" {
		// A store without ETags: the content's identity is its time and size.
		actual = fmt.Sprintf("%s%d-size-%d", syntheticETag, modified.UnixNano(), aws.ToInt64(resp.ContentLength))
	}
	if ck.ETag != actual {
		// New, or overwritten since the checkpoint: from the start.
		ck.Checkpoint = Checkpoint{Key: key, ETag: actual}
	}
	switch {
	case ck.Marked:
		return already, nil
	case ck.Complete:
		_ = resp.Body.Close()
		return s.finish(ctx, &ck)
	}
	if modified.IsZero() {
		modified = s.now()
	}
	return s.read(ctx, &ck, resp.Body, modified)
}

// read streams the object's events after ck.Items, publishing them in
// confirmed batches and saving ck after each, then marks the object. An
// unreadable object is quarantined; a read that breaks (the network) is an
// error, retried later from the checkpoint.
func (s *Source) read(ctx context.Context, ck *checkpoint, r io.Reader, modified time.Time) (outcome, error) {
	key := ck.Key
	body := &body{r: r}
	defer func() { s.bytes.Add(body.n) }()
	broken := func() error {
		return fmt.Errorf("read %s: %w", s.uri(key), body.err)
	}
	format, gz, err := event.Detect(key, string(s.cfg.Format), string(s.cfg.Compression))
	if err != nil {
		return s.quarantine(ctx, ck, locText(event.Loc{}), err.Error())
	}
	in, err := event.Open(body, gz)
	if err != nil {
		if body.err != nil {
			return 0, broken()
		}
		var inErr *event.InputError
		if errors.As(err, &inErr) {
			return s.quarantine(ctx, ck, locText(inErr.Loc), inErr.Reason)
		}
		return s.quarantine(ctx, ck, locText(event.Loc{}), err.Error())
	}
	rd := event.NewReader(in, format, s.intake.Spec)
	var (
		batch []queue.Message
		size  int
		items int64 // results read, good and bad
	)
	// flush publishes the batch and saves the checkpoint. Invariant 1:
	// the checkpoint moves only once the broker confirmed the batch (and
	// the DLQ stored the bad items before it), and the object is marked
	// only after the last one.
	flush := func(complete bool) error {
		if len(batch) > 0 {
			if err := s.intake.Publish(ctx, batch); err != nil {
				return sinkErr(fmt.Errorf("publish %d events of %s: %w", len(batch), s.uri(key), err))
			}
			s.events.Add(int64(len(batch)))
			ck.Events += int64(len(batch))
		}
		if items > ck.Items || complete {
			ck.Items = max(ck.Items, items)
			ck.Complete = complete
			ck.Marked = complete && s.cfg.Mark == config.MarkState
			if err := s.saveCheckpoint(ctx, ck); err != nil {
				return err
			}
		}
		batch, size = batch[:0], 0
		return nil
	}
	meta := map[string]string{"object": s.uri(key)}
	for {
		ev, err := rd.Next()
		if body.err != nil {
			return 0, broken()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		var ie *event.ItemError
		var inErr *event.InputError
		switch {
		case errors.As(err, &inErr):
			// Nothing of it parsed, so nothing was published.
			return s.quarantine(ctx, ck, locText(inErr.Loc), inErr.Reason)
		case errors.As(err, &ie):
			items++
			if items <= ck.Items {
				continue
			}
			if err := s.deadLetter(ctx, ck, ie); err != nil {
				return 0, err
			}
		case err != nil:
			return 0, fmt.Errorf("read %s: %w", s.uri(key), err)
		default:
			items++
			if items <= ck.Items {
				continue
			}
			setLocation(meta, ev.Loc)
			msg, ie := s.message(ev, modified, meta)
			if ie != nil {
				if err := s.deadLetter(ctx, ck, ie); err != nil {
					return 0, err
				}
				break
			}
			batch = append(batch, msg)
			size += len(msg.Data)
		}
		if len(batch) >= s.batchSize || size >= maxBatchBytes {
			if err := flush(false); err != nil {
				return 0, err
			}
			if s.isStopping() {
				return 0, errStopping
			}
		}
	}
	if err := flush(true); err != nil {
		return 0, err
	}
	return s.finish(ctx, ck)
}

// locText renders where an object broke, for the .error object and the
// log: "line 3 (byte 120)", "event 2 (byte 57)" (a JSON array's element),
// or "byte 0".
func locText(l event.Loc) string {
	switch {
	case l.Line > 0:
		return fmt.Sprintf("line %d (byte %d)", l.Line, l.Offset)
	case l.Index > 0:
		return fmt.Sprintf("event %d (byte %d)", l.Index, l.Offset)
	}
	return fmt.Sprintf("byte %d", l.Offset)
}

// setLocation puts where an event is in its object into its record's
// metadata: "line" (NDJSON, CSV) or "index" (JSON).
func setLocation(meta map[string]string, loc event.Loc) {
	delete(meta, "line")
	delete(meta, "index")
	if loc.Line > 0 {
		meta["line"] = strconv.Itoa(loc.Line)
	} else {
		meta["index"] = strconv.Itoa(loc.Index)
	}
}

// message makes ev's queue message; an event the queue cannot hold is an
// ItemError, dead-lettered like a bad line.
func (s *Source) message(ev event.Event, modified time.Time, meta map[string]string) (queue.Message, *event.ItemError) {
	bad := func(reason string) *event.ItemError {
		raw, _ := json.Marshal(ev.Fields)
		if len(raw) > 64<<10 {
			raw = raw[:64<<10]
		}
		return &event.ItemError{Loc: ev.Loc, ID: ev.ID, Reason: reason, Raw: raw}
	}
	msg, err := s.intake.Message(ev, modified, meta)
	if err != nil {
		return queue.Message{}, bad("cannot make a record of it: " + err.Error())
	}
	if size := len(msg.Data) + len(msg.ID) + 64; s.maxMsg > 0 && size > s.maxMsg {
		// 64 bytes cover the ID header's framing.
		return queue.Message{}, bad(fmt.Sprintf("its record is %d bytes, more than the queue's largest message (%d bytes)", size, s.maxMsg))
	}
	if err := queue.CheckMessage(queue.InRoot, msg); err != nil {
		return queue.Message{}, bad("the queue cannot hold it: " + err.Error())
	}
	return msg, nil
}

// deadLetter stores a bad item of the object in the DLQ (invariant 7: the
// events around it go on).
func (s *Source) deadLetter(ctx context.Context, ck *checkpoint, ie *event.ItemError) error {
	headers := map[string]string{HeaderBucket: s.cfg.Bucket, HeaderKey: ck.Key, HeaderETag: ck.ETag}
	if err := s.intake.DeadLetter(ctx, s.uri(ck.Key), ie, headers); err != nil {
		return sinkErr(err)
	}
	s.deadLettered.Add(1)
	return nil
}

// body counts the bytes read through it and keeps the first read error
// that is not EOF: the object's stream broke (the network, S3), which is
// no fault of its content.
type body struct {
	r   io.Reader
	n   int64
	err error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}
