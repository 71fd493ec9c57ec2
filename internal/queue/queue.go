package queue

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) for a consumer or DLQ entry that does not exist.
var ErrNotFound = errors.New("not found")

// ErrSettled is returned (wrapped) when a delivery that was already acked,
// nacked or terminated is settled again.
var ErrSettled = errors.New("delivery already settled")

// Message is what a producer publishes.
type Message struct {
	// Subject places the message: "in.<source>.<collection>" for the queue,
	// "dlq.<sync>" for the DLQ. No wildcards.
	Subject string
	// ID is the deduplication key: the broker stores a message once per ID
	// within its deduplication window. Required.
	ID string
	// NoDedup stores the message whatever its ID, and the broker does not
	// remember the ID (the window's memory is per ID): for a producer whose
	// re-publishes are rare and harmless to deliver twice. The ID still
	// identifies the message (Delivery.ID).
	NoDedup bool
	// Data is the opaque payload (an encoded record).
	Data []byte
	// Headers are optional single-valued metadata. Names starting with
	// "Nats-" are reserved to the broker.
	Headers map[string]string
}

// Queue is the bus: producers publish to it, syncs consume from it.
type Queue interface {
	// Publish stores msgs and returns nil once the broker has stored every one
	// of them. An invalid message fails the call before anything is sent, with
	// an error naming its index; any other error is a *BatchError.
	Publish(ctx context.Context, msgs ...Message) error
	// Consumer creates the named durable consumer, or updates it to cfg, and
	// returns a handle on it. Calling it again with the same config is harmless.
	Consumer(ctx context.Context, cfg ConsumerConfig) (Consumer, error)
	// ConsumerNames lists the durable consumers, sorted (to find consumers of
	// syncs that no longer exist: they hold on to messages).
	ConsumerNames(ctx context.Context) ([]string, error)
	// DeleteConsumer removes a durable consumer and its position. ErrNotFound
	// when there is none by that name.
	DeleteConsumer(ctx context.Context, name string) error
	// LastPosition is the position (as in ConsumerStats.Delivered) of the
	// newest message the queue holds, on any subject: everything published
	// so far is at or below it.
	LastPosition(ctx context.Context) (uint64, error)
	// MaxMessageSize is the largest Data plus Headers the broker accepts, in bytes.
	MaxMessageSize() int
	// DLQ is the dead-letter queue that goes with this queue.
	DLQ() DLQ
}

// ConsumerConfig describes a durable consumer.
type ConsumerConfig struct {
	// Name identifies the consumer (the sync's name): letters, digits, '_' and '-'.
	Name string
	// Subject filters the messages, e.g. "in.platform_db.>". Wildcards allowed.
	Subject string
	// AckWait is how long a delivery may stay unsettled before it is
	// delivered again. Zero means the adapter's default.
	AckWait time.Duration
	// MaxInFlight bounds the deliveries handed out and not yet settled, across
	// every handle on this consumer. Zero means the adapter's default.
	MaxInFlight int
}

// Consumer hands out deliveries of one durable consumer. It is safe for
// concurrent use.
type Consumer interface {
	// Name is the consumer's name.
	Name() string
	// Fetch waits up to maxWait for n deliveries and returns early once it
	// has them; when maxWait runs out it returns what it has, possibly none.
	// The wait is a batching window as much as a timeout.
	Fetch(ctx context.Context, n int, maxWait time.Duration) ([]Delivery, error)
	// Stats reports the consumer's backlog.
	Stats(ctx context.Context) (ConsumerStats, error)
}

// ConsumerStats is a consumer's backlog as the broker sees it.
type ConsumerStats struct {
	// Pending counts messages stored and not yet delivered to this consumer.
	Pending uint64
	// InFlight counts deliveries handed out and not yet settled.
	InFlight int
	// Redelivered counts unsettled messages that were delivered more than once.
	Redelivered int
	// Delivered is the queue position (stream sequence) of the last message
	// delivered to this consumer, 0 before the first. AckFloor is the
	// position up to which every message is settled (acked or terminated).
	// While AckFloor < Delivered, some message delivered so far is still
	// unsettled: in hand, waiting out a Nack delay, or abandoned by a
	// process that stopped without settling it.
	Delivered uint64
	AckFloor  uint64
	// Deliveries is the number of the last delivery (Delivery.Sequence's
	// consumer number), 0 before the first.
	Deliveries uint64
}

// Delivery is one message handed to a consumer. Settle it exactly once with
// Ack, Nack or Term; InProgress may be called any number of times before.
// It is safe for concurrent use.
type Delivery interface {
	// Subject is the message's subject, as published.
	Subject() string
	// ID is the message's deduplication ID, as published.
	ID() string
	// Data is the message's payload; do not modify it.
	Data() []byte
	// Headers returns a copy of the message's headers, as published.
	Headers() map[string]string
	// Attempt is the broker's count of deliveries of this message to this
	// consumer: 1 the first time. It survives restarts of the broker and of
	// this process.
	Attempt() int
	// Published is when the broker stored the message.
	Published() time.Time
	// Sequence is the message's position in the queue (as in
	// ConsumerStats.Delivered) and this delivery's number among the
	// consumer's deliveries, redeliveries included: 1, 2, 3… without gaps, so
	// a gap seen by the consumer's only reader means a delivery reached no
	// one (sent to a fetch that had given up) and will come back.
	Sequence() (stream, consumer uint64)

	// Ack marks the message done for this consumer.
	Ack(ctx context.Context) error
	// Nack asks for the message again after delay (zero: at once).
	Nack(ctx context.Context, delay time.Duration) error
	// InProgress restarts the ack wait: the caller is still working on it.
	InProgress(ctx context.Context) error
	// Term marks the message never to be delivered to this consumer again
	// (the caller has dead-lettered it, or dropped it and counted that).
	Term(ctx context.Context) error
}

// DLQ is the dead-letter queue: records a sync gave up on, kept with their
// reason (in headers) until an operator replays or drops them.
type DLQ interface {
	// Put stores an entry and returns its sequence. An entry whose ID the
	// broker has already seen is not stored twice; Put then returns the
	// sequence of the first.
	Put(ctx context.Context, msg Message) (uint64, error)
	// List returns entries in sequence order, starting at opts.From.
	List(ctx context.Context, opts ListOptions) (Page, error)
	// Get returns the entry at seq, or ErrNotFound.
	Get(ctx context.Context, seq uint64) (Entry, error)
	// Delete removes the entry at seq, or returns ErrNotFound.
	Delete(ctx context.Context, seq uint64) error
	// Count counts the entries matching subject ("" means all).
	Count(ctx context.Context, subject string) (uint64, error)
}

// Entry is one stored dead letter.
type Entry struct {
	Message
	// Seq identifies the entry in the DLQ; later entries have higher ones.
	Seq uint64
	// Stored is when the DLQ stored the entry.
	Stored time.Time
}

// ListOptions select a page of DLQ entries.
type ListOptions struct {
	// Subject filters entries, e.g. "dlq.counselors" or "dlq.>" ("" means all).
	Subject string
	// From is the first sequence to consider; 0 starts at the beginning.
	From uint64
	// Limit bounds the page; zero means 100.
	Limit int
}

// Page is one page of DLQ entries.
type Page struct {
	Entries []Entry
	// Next is the From of the next page, or 0 when the list is exhausted.
	// A full page always has a Next (the page after it may be empty).
	Next uint64
}
