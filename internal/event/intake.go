package event

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/source"
)

// Publisher is the part of queue.Queue an event source uses: Publish returns
// nil only once the broker stored every message.
type Publisher interface {
	Publish(ctx context.Context, msgs ...queue.Message) error
}

// DeadLetters stores DLQ entries (dlq.Store does).
type DeadLetters interface {
	Put(ctx context.Context, e dlq.Entry) (uint64, error)
}

// Intake is what the files, s3 and http sources share: events become queue
// messages on "in.<source>.<type>", bad items become DLQ entries.
type Intake struct {
	// Source is the source's name.
	Source string
	// Spec locates each event's identity.
	Spec Spec
	// Queue receives the records; DLQ the bad items.
	Queue Publisher
	DLQ   DeadLetters
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (in *Intake) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// Message encodes ev as the queue message of its record. meta goes into the
// record's metadata (e.g. "file", "line").
func (in *Intake) Message(ev Event, received time.Time, meta map[string]string) (queue.Message, error) {
	r, err := in.Spec.Record(in.Source, ev, received, meta)
	if err != nil {
		return queue.Message{}, err
	}
	data, err := record.Encode(r)
	if err != nil {
		return queue.Message{}, fmt.Errorf("%s: %w", ev.Loc, err)
	}
	return queue.Message{Subject: source.Subject(in.Source, ev.Type), ID: r.ID, Data: data}, nil
}

// Publish stores msgs, returning once the broker confirmed every one.
func (in *Intake) Publish(ctx context.Context, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return in.Queue.Publish(ctx, msgs...)
}

// DeadLetter stores a bad item as a DLQ entry under the source's name
// (reason invalid_event). input names where it came from ("file
// a.ndjson", "request 7f3a…"); the same item of the same input stored twice
// is kept once (the entry's message ID is derived from both), so an input
// read again after a crash adds no duplicates.
func (in *Intake) DeadLetter(ctx context.Context, input string, ie *ItemError, headers map[string]string) error {
	now := in.now().UTC()
	msg := fmt.Sprintf("%s, %s", input, ie.Error())
	sum := sha256.Sum256([]byte(in.Source + "\x00" + input + "\x00" + strconv.FormatInt(ie.Loc.Offset, 10) + "\x00" + strconv.Itoa(ie.Loc.Index)))
	id := "invalid-" + hex.EncodeToString(sum[:16])
	h := make(map[string]string, len(headers)+2)
	for k, v := range headers {
		h[k] = v
	}
	h["Sfbridge-Input"] = input
	h["Sfbridge-Location"] = ie.Loc.String()
	if queue.CheckHeaders(h) != nil { // names or values a header cannot hold: keep the entry, drop them
		h = nil
	}
	var fields []string
	if ie.Field != "" {
		fields = []string{ie.Field}
	}
	e := dlq.Entry{
		Sync:    in.Source,
		Reason:  dlq.ReasonInvalidEvent,
		Code:    dlq.CodeInvalidEvent,
		Message: msg,
		Fields:  fields,
		Attempts: []dlq.Attempt{{
			N: 1, Delivery: 0, At: now, Class: "permanent", Code: dlq.CodeInvalidEvent, Message: msg, Fields: fields,
		}},
		DeadAt:    now,
		Subject:   source.Subject(in.Source, "%invalid"),
		MessageID: id,
		Headers:   h,
		Published: now,
		Raw:       ie.Raw,
	}
	if _, err := in.DLQ.Put(ctx, e); err != nil {
		return fmt.Errorf("source %s: dead-letter %s: %w", in.Source, msg, err)
	}
	return nil
}
