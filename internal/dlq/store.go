package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// ErrNoConsumer is returned (wrapped) by Replay when the entry's sync has no
// durable consumer to receive the record.
var ErrNoConsumer = errors.New("the sync has no consumer")

// ErrNotReplayable is returned (wrapped) by Replay for an entry that is not
// a record a sync can deliver (an invalid event).
var ErrNotReplayable = errors.New("the entry cannot be replayed")

// Store reads and writes DLQ entries on a queue. It is safe for concurrent
// use.
type Store struct {
	q queue.Queue
}

// NewStore returns a Store on q's DLQ.
func NewStore(q queue.Queue) *Store { return &Store{q: q} }

// Put stores e under "dlq.<sync>" and returns its sequence. Storing the
// entry of one delivery twice (same sync and message ID) within the broker's
// deduplication window keeps one entry.
func (s *Store) Put(ctx context.Context, e Entry) (uint64, error) {
	data, err := e.Marshal()
	if err != nil {
		return 0, err
	}
	h := map[string]string{HeaderSync: e.Sync, HeaderReason: string(e.Reason)}
	if e.Code != "" && queue.CheckHeaders(map[string]string{HeaderCode: e.Code}) == nil {
		h[HeaderCode] = e.Code
	}
	seq, err := s.q.DLQ().Put(ctx, queue.Message{
		Subject: Subject(e.Sync),
		ID:      MessageID(e.Sync, e.MessageID),
		Data:    data,
		Headers: h,
	})
	if err != nil {
		return 0, fmt.Errorf("dlq: put entry of %s for sync %s: %w", e.MessageID, e.Sync, err)
	}
	return seq, nil
}

// Item is one stored entry. When the stored message is not an entry this
// build reads, Err says why and Entry is empty; Raw keeps the message body.
type Item struct {
	Seq    uint64
	Stored time.Time
	// Subject is the DLQ subject ("dlq.<sync>").
	Subject string
	Entry   Entry
	Err     error
	Raw     []byte
}

// Sync returns the entry's sync, or the one its subject names when the
// entry did not decode.
func (it Item) Sync() string {
	if it.Entry.Sync != "" {
		return it.Entry.Sync
	}
	return it.Subject[len(queue.DLQRoot)+1:]
}

func item(qe queue.Entry) Item {
	it := Item{Seq: qe.Seq, Stored: qe.Stored, Subject: qe.Subject, Raw: qe.Data}
	it.Entry, it.Err = Unmarshal(qe.Data)
	return it
}

// Filter selects entries. The zero Filter selects all.
type Filter struct {
	// Sync selects one sync's entries.
	Sync string
	// Code selects entries whose final error code is this one (exact).
	Code string
	// Reason selects entries dead-lettered for this reason.
	Reason Reason
	// Since and Until bound when the DLQ stored the entry: Since ≤ stored <
	// Until. Zero means unbounded.
	Since, Until time.Time
	// Seqs, when not empty, selects only these sequences.
	Seqs []uint64
}

// Check reports what is wrong with f.
func (f Filter) Check() error {
	var errs []error
	if f.Sync != "" {
		if err := queue.CheckName(f.Sync); err != nil {
			errs = append(errs, fmt.Errorf("sync: %w", err))
		}
	}
	if f.Reason != "" && !validReason(f.Reason) {
		errs = append(errs, fmt.Errorf("reason: %q is not one of %s", f.Reason, reasonList()))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, fmt.Errorf("since (%s) must be before until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339)))
	}
	for _, seq := range f.Seqs {
		if seq == 0 {
			errs = append(errs, errors.New("sequence 0 does not exist (sequences start at 1)"))
			break
		}
	}
	return errors.Join(errs...)
}

// Match reports whether it passes f. An entry that did not decode matches
// only filters on sync, time and sequence.
func (f Filter) Match(it Item) bool {
	if len(f.Seqs) > 0 && !slices.Contains(f.Seqs, it.Seq) {
		return false
	}
	if f.Sync != "" && it.Sync() != f.Sync {
		return false
	}
	if !f.Since.IsZero() && it.Stored.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !it.Stored.Before(f.Until) {
		return false
	}
	if f.Code != "" && (it.Err != nil || it.Entry.Code != f.Code) {
		return false
	}
	if f.Reason != "" && (it.Err != nil || it.Entry.Reason != f.Reason) {
		return false
	}
	return true
}

// pageSize is how many entries one read of the DLQ asks for.
const pageSize = 100

// Each calls fn for every entry matching f, in sequence order, until fn
// returns false or an error. It reads the DLQ a page at a time.
func (s *Store) Each(ctx context.Context, f Filter, fn func(Item) (bool, error)) error {
	return s.each(ctx, f, 0, fn)
}

func (s *Store) each(ctx context.Context, f Filter, from uint64, fn func(Item) (bool, error)) error {
	if err := f.Check(); err != nil {
		return fmt.Errorf("dlq: filter: %w", err)
	}
	if len(f.Seqs) > 0 {
		// Read just those entries.
		seqs := slices.Clone(f.Seqs)
		slices.Sort(seqs)
		for _, seq := range slices.Compact(seqs) {
			if seq < from {
				continue
			}
			it, err := s.Get(ctx, seq)
			if errors.Is(err, queue.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !f.Match(it) {
				continue
			}
			if more, err := fn(it); err != nil || !more {
				return err
			}
		}
		return nil
	}
	subject := ""
	if f.Sync != "" {
		subject = Subject(f.Sync)
	}
	for {
		page, err := s.q.DLQ().List(ctx, queue.ListOptions{Subject: subject, From: from, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("dlq: list: %w", err)
		}
		for _, qe := range page.Entries {
			it := item(qe)
			if !f.Match(it) {
				continue
			}
			if more, err := fn(it); err != nil || !more {
				return err
			}
		}
		if page.Next == 0 {
			return nil
		}
		from = page.Next
	}
}

// List returns up to limit entries matching f, from sequence from on (0: the
// start), and the sequence to continue from (0 when there are no more).
func (s *Store) List(ctx context.Context, f Filter, from uint64, limit int) ([]Item, uint64, error) {
	if limit <= 0 {
		return nil, 0, fmt.Errorf("dlq: list: limit must be positive, got %d", limit)
	}
	var out []Item
	var next uint64
	err := s.each(ctx, f, from, func(it Item) (bool, error) {
		if len(out) == limit {
			next = it.Seq
			return false, nil
		}
		out = append(out, it)
		return true, nil
	})
	return out, next, err
}

// Count counts the entries of sync ("" for all) without reading them.
func (s *Store) Count(ctx context.Context, sync string) (uint64, error) {
	subject := ""
	if sync != "" {
		if err := queue.CheckName(sync); err != nil {
			return 0, fmt.Errorf("dlq: count: sync: %w", err)
		}
		subject = Subject(sync)
	}
	n, err := s.q.DLQ().Count(ctx, subject)
	if err != nil {
		return 0, fmt.Errorf("dlq: count: %w", err)
	}
	return n, nil
}

// Get returns the entry at seq; queue.ErrNotFound (wrapped) when there is
// none. An entry that does not decode is returned with Item.Err set.
func (s *Store) Get(ctx context.Context, seq uint64) (Item, error) {
	qe, err := s.q.DLQ().Get(ctx, seq)
	if err != nil {
		return Item{}, fmt.Errorf("dlq: entry %d: %w", seq, err)
	}
	return item(qe), nil
}

// Replayed says what Replay published.
type Replayed struct {
	Seq       uint64 `json:"seq"`
	Sync      string `json:"sync"`
	Subject   string `json:"subject"`
	MessageID string `json:"message_id"`
}

// Replay republishes the record of entry seq to its original subject with a
// fresh message ID and HeaderReplayFor set to the entry's sync, waits for
// the broker to store it, then deletes the entry (see the package doc). It
// fails, leaving the entry, when the entry does not decode or its sync has
// no consumer (ErrNoConsumer).
func (s *Store) Replay(ctx context.Context, seq uint64) (Replayed, error) {
	it, err := s.Get(ctx, seq)
	if err != nil {
		return Replayed{}, err
	}
	return s.ReplayItem(ctx, it, nil)
}

// ReplayItem is Replay for an item already read; consumers, when not nil,
// are the queue's consumer names (to check many items with one request).
func (s *Store) ReplayItem(ctx context.Context, it Item, consumers []string) (Replayed, error) {
	if it.Err != nil {
		return Replayed{}, fmt.Errorf("dlq: replay %d: the entry cannot be read (%v); drop it or read it with an sfbridge that can", it.Seq, it.Err)
	}
	e := it.Entry
	if e.Reason == ReasonInvalidEvent {
		return Replayed{}, fmt.Errorf("dlq: replay %d: %w: source %s could not read this event (%s); fix it where it came from and send it again, then drop the entry", it.Seq, ErrNotReplayable, e.Sync, e.Message)
	}
	if consumers == nil {
		var err error
		if consumers, err = s.q.ConsumerNames(ctx); err != nil {
			return Replayed{}, fmt.Errorf("dlq: replay %d: %w", it.Seq, err)
		}
	}
	if !slices.Contains(consumers, e.Sync) {
		return Replayed{}, fmt.Errorf("dlq: replay %d: %w: %q (is the sync still configured, and has sfbridge run with it?); the entry is kept", it.Seq, ErrNoConsumer, e.Sync)
	}
	h := make(map[string]string, len(e.Headers)+2)
	for k, v := range e.Headers {
		h[k] = v
	}
	h[HeaderReplayFor] = e.Sync
	h[HeaderReplayOf] = strconv.FormatUint(it.Seq, 10)
	msg := queue.Message{Subject: e.Subject, ID: ReplayID(it.Seq, e.MessageID), Data: e.Raw, Headers: h}
	if err := s.q.Publish(ctx, msg); err != nil {
		return Replayed{}, fmt.Errorf("dlq: replay %d: publish to %s: %w; the entry is kept", it.Seq, e.Subject, err)
	}
	if err := s.q.DLQ().Delete(ctx, it.Seq); err != nil && !errors.Is(err, queue.ErrNotFound) {
		return Replayed{}, fmt.Errorf("dlq: replay %d: the record was republished as %s but the entry could not be deleted (drop it, or replay it again: the broker drops the duplicate within its window): %w", it.Seq, msg.ID, err)
	}
	return Replayed{Seq: it.Seq, Sync: e.Sync, Subject: e.Subject, MessageID: msg.ID}, nil
}

// Drop deletes entry seq; queue.ErrNotFound (wrapped) when there is none.
func (s *Store) Drop(ctx context.Context, seq uint64) error {
	if err := s.q.DLQ().Delete(ctx, seq); err != nil {
		return fmt.Errorf("dlq: drop %d: %w", seq, err)
	}
	return nil
}
