package natsjs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// The JetStream ack protocol: the body sent to a delivery's reply subject
// (nats-server consumer.go AckAck, AckNak, AckProgress, AckTerm).
var (
	ackAck      = []byte("+ACK")
	ackNak      = []byte("-NAK")
	ackProgress = []byte("+WPI")
	ackTerm     = []byte("+TERM")
)

// Delivery is one message fetched by a Consumer.
type Delivery struct {
	msg       jetstream.Msg
	nc        *nats.Conn
	subject   string
	attempt   int
	published time.Time
	streamSeq uint64
	consSeq   uint64
	confirm   bool
	settled   atomic.Bool
}

func (q *Queue) newDelivery(m jetstream.Msg) (*Delivery, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("delivery on %s: %w", m.Subject(), err)
	}
	return &Delivery{
		msg:       m,
		nc:        q.nc,
		subject:   q.names.logical(m.Subject()),
		attempt:   int(md.NumDelivered),
		published: md.Timestamp,
		streamSeq: md.Sequence.Stream,
		consSeq:   md.Sequence.Consumer,
		confirm:   q.cfg.ConfirmAcks,
	}, nil
}

// Sequence is the stream sequence and the consumer's delivery sequence.
func (d *Delivery) Sequence() (stream, consumer uint64) { return d.streamSeq, d.consSeq }

// Subject is the message's logical subject.
func (d *Delivery) Subject() string { return d.subject }

// ID is the message's Nats-Msg-Id.
func (d *Delivery) ID() string { return messageID(d.msg.Headers()) }

// Data is the message's payload.
func (d *Delivery) Data() []byte { return d.msg.Data() }

// Headers returns a copy of the message's headers without the Nats-* ones.
func (d *Delivery) Headers() map[string]string { return userHeaders(d.msg.Headers()) }

// Attempt is JetStream's delivery count (NumDelivered) for this consumer.
func (d *Delivery) Attempt() int { return d.attempt }

// Published is when the stream stored the message.
func (d *Delivery) Published() time.Time { return d.published }

// Ack marks the message done for this consumer.
func (d *Delivery) Ack(ctx context.Context) error { return d.settle(ctx, "ack", ackAck) }

// Nack asks for the message again after delay: JetStream's NAK with a delay,
// which, unlike a consumer BackOff list, leaves the ack wait alone.
func (d *Delivery) Nack(ctx context.Context, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("natsjs: nack %s: delay must not be negative, got %s", d.subject, delay)
	}
	body := ackNak
	if delay > 0 {
		body = []byte(string(ackNak) + ` {"delay": ` + strconv.FormatInt(delay.Nanoseconds(), 10) + `}`)
	}
	return d.settle(ctx, "nack", body)
}

// InProgress restarts the ack wait.
func (d *Delivery) InProgress(ctx context.Context) error {
	if d.settled.Load() {
		return fmt.Errorf("natsjs: in progress %s: %w", d.subject, queue.ErrSettled)
	}
	if err := d.send(ctx, ackProgress); err != nil {
		return fmt.Errorf("natsjs: in progress %s: %w", d.subject, err)
	}
	return nil
}

// Term stops deliveries of the message to this consumer.
func (d *Delivery) Term(ctx context.Context) error { return d.settle(ctx, "term", ackTerm) }

func (d *Delivery) settle(ctx context.Context, op string, body []byte) error {
	if !d.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("natsjs: %s %s: %w", op, d.subject, queue.ErrSettled)
	}
	if err := d.send(ctx, body); err != nil {
		// Not settled as far as we know: the caller may try again.
		d.settled.Store(false)
		return fmt.Errorf("natsjs: %s %s: %w", op, d.subject, err)
	}
	return nil
}

// send delivers an ack-protocol body; with ConfirmAcks it waits for the
// server's empty reply, which comes once the server has processed it.
func (d *Delivery) send(ctx context.Context, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.confirm {
		_, err := d.nc.RequestWithContext(ctx, d.msg.Reply(), body)
		return err
	}
	return d.nc.Publish(d.msg.Reply(), body)
}

// userHeaders copies h without the broker's own headers (Nats-*), first
// value of each.
func userHeaders(h nats.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) == 0 || len(k) >= 5 && strings.EqualFold(k[:5], "Nats-") || k == idHeader {
			continue
		}
		out[k] = v[0]
	}
	return out
}

var _ queue.Delivery = (*Delivery)(nil)
