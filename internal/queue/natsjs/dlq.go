package natsjs

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// DefaultListLimit is the page size of DLQ.List when none is given.
const DefaultListLimit = 100

// DLQ is the dead-letter stream. It is safe for concurrent use.
type DLQ struct {
	q      *Queue
	stream jetstream.Stream
}

// Put stores msg (subject under "dlq.") and waits for the confirmation.
func (d *DLQ) Put(ctx context.Context, msg queue.Message) (uint64, error) {
	if err := queue.CheckMessage(queue.DLQRoot, msg); err != nil {
		return 0, fmt.Errorf("natsjs: dlq put: %w", err)
	}
	ack, err := d.q.js.PublishMsg(ctx, d.q.natsMsg(msg))
	if err != nil {
		return 0, fmt.Errorf("natsjs: dlq put %s: %w", msg.Subject, err)
	}
	return ack.Sequence, nil
}

// List returns a page of entries, one server request per entry (a DLQ is
// read by people, a page at a time).
func (d *DLQ) List(ctx context.Context, opts queue.ListOptions) (queue.Page, error) {
	filter := opts.Subject
	if filter == "" {
		filter = queue.DLQRoot + ".>"
	}
	if err := queue.CheckFilter(queue.DLQRoot, filter); err != nil {
		return queue.Page{}, fmt.Errorf("natsjs: dlq list: %w", err)
	}
	limit := opts.Limit
	if limit < 0 {
		return queue.Page{}, fmt.Errorf("natsjs: dlq list: limit must not be negative, got %d", limit)
	}
	if limit == 0 {
		limit = DefaultListLimit
	}
	seq := max(opts.From, 1)
	var page queue.Page
	for len(page.Entries) < limit {
		raw, err := d.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(d.q.names.subject(filter)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return page, nil
		}
		if err != nil {
			return queue.Page{}, fmt.Errorf("natsjs: dlq list %s from %d: %w", filter, seq, err)
		}
		page.Entries = append(page.Entries, d.entry(raw))
		seq = raw.Sequence + 1
	}
	page.Next = seq
	return page, nil
}

// Get returns the entry at seq.
func (d *DLQ) Get(ctx context.Context, seq uint64) (queue.Entry, error) {
	raw, err := d.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return queue.Entry{}, fmt.Errorf("natsjs: dlq entry %d: %w", seq, queue.ErrNotFound)
	}
	if err != nil {
		return queue.Entry{}, fmt.Errorf("natsjs: dlq entry %d: %w", seq, err)
	}
	return d.entry(raw), nil
}

// Delete removes the entry at seq.
func (d *DLQ) Delete(ctx context.Context, seq uint64) error {
	err := d.stream.DeleteMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		// The server's reason is only text; ask whether the entry is there.
		if _, gerr := d.stream.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("natsjs: dlq delete %d: %w", seq, queue.ErrNotFound)
		}
	}
	if err != nil {
		return fmt.Errorf("natsjs: dlq delete %d: %w", seq, err)
	}
	return nil
}

// Count counts the entries matching subject ("" means all).
func (d *DLQ) Count(ctx context.Context, subject string) (uint64, error) {
	if subject == "" {
		info, err := d.stream.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("natsjs: dlq count: %w", err)
		}
		return info.State.Msgs, nil
	}
	if err := queue.CheckFilter(queue.DLQRoot, subject); err != nil {
		return 0, fmt.Errorf("natsjs: dlq count: %w", err)
	}
	info, err := d.stream.Info(ctx, jetstream.WithSubjectFilter(d.q.names.subject(subject)))
	if err != nil {
		return 0, fmt.Errorf("natsjs: dlq count %s: %w", subject, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

func (d *DLQ) entry(raw *jetstream.RawStreamMsg) queue.Entry {
	return queue.Entry{
		Message: queue.Message{
			Subject: d.q.names.logical(raw.Subject),
			ID:      messageID(raw.Header),
			Data:    raw.Data,
			Headers: userHeaders(raw.Header),
		},
		Seq:    raw.Sequence,
		Stored: raw.Time,
	}
}

var _ queue.DLQ = (*DLQ)(nil)
