package natsjs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/queue"
)

// Queue is the JetStream queue. It is safe for concurrent use.
type Queue struct {
	cfg   Config
	names names
	nc    *nats.Conn
	js    jetstream.JetStream
	in    jetstream.Stream
	dlq   *DLQ
}

// Open creates or updates the input and DLQ streams on b and returns the
// queue. It does not own b: close the broker after the last use of the queue.
func Open(ctx context.Context, b *broker.Broker, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opts := []jetstream.JetStreamOpt{
		// Room for a few concurrent Publish calls, each bounded by PublishWindow.
		jetstream.WithPublishAsyncMaxPending(4 * cfg.PublishWindow),
	}
	if cfg.PublishTimeout > 0 {
		opts = append(opts, jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout))
	}
	js, err := jetstream.New(b.Conn(), opts...)
	if err != nil {
		return nil, fmt.Errorf("natsjs: %w", err)
	}
	in, err := ensureStream(ctx, js, cfg.inStreamConfig())
	if err != nil {
		return nil, err
	}
	dlq, err := ensureStream(ctx, js, cfg.dlqStreamConfig())
	if err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, names: names{cfg.Namespace}, nc: b.Conn(), js: js, in: in}
	q.dlq = &DLQ{q: q, stream: dlq}
	return q, nil
}

// ensureStream creates the stream or updates it to want. It works on
// nats-server 2.9 (no create-or-update API: update, then create if missing).
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("natsjs: create or update stream %s (subjects %v): %w", want.Name, want.Subjects, err)
	}
	got := s.CachedInfo().Config
	if got.Retention != want.Retention || got.Storage != want.Storage {
		return nil, fmt.Errorf("natsjs: stream %s exists with retention %s and storage %s, want %s and %s (the broker cannot change them; move the data and delete the stream)",
			want.Name, got.Retention, got.Storage, want.Retention, want.Storage)
	}
	return s, nil
}

// StreamNames returns the names of the input and DLQ streams.
func (q *Queue) StreamNames() (in, dlq string) {
	return q.in.CachedInfo().Config.Name, q.dlq.stream.CachedInfo().Config.Name
}

// Publish stores msgs in the input stream; see queue.Queue. Every message
// is sent at once (asynchronously, at most PublishWindow unconfirmed), then
// each store confirmation is awaited.
func (q *Queue) Publish(ctx context.Context, msgs ...queue.Message) error {
	for i, m := range msgs {
		if err := queue.CheckMessage(queue.InRoot, m); err != nil {
			return fmt.Errorf("natsjs: publish: message #%d: %w", i, err)
		}
	}
	be := queue.NewBatchError(msgs)
	if err := ctx.Err(); err != nil {
		for i := range be.Errs {
			be.Errs[i] = err
		}
		return be.OrNil()
	}
	futures := make([]jetstream.PubAckFuture, len(msgs))
	// await waits for message i's confirmation; false when ctx ended first.
	await := func(i int) bool {
		f := futures[i]
		if f == nil {
			return true
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			be.Errs[i] = err
		case <-ctx.Done():
			return false
		}
		return true
	}
	oldest := 0 // first message not yet awaited
	// awaitBelow awaits messages [oldest, n); false when ctx ended first.
	awaitBelow := func(n int) bool {
		for ; oldest < n; oldest++ {
			if !await(oldest) {
				return false
			}
		}
		return true
	}
	cancelled := false
	for i := range msgs {
		if !awaitBelow(i - q.cfg.PublishWindow + 1) {
			cancelled = true
			break
		}
		f, err := q.publishAsync(ctx, q.natsMsg(msgs[i]))
		if err != nil {
			if ctx.Err() != nil {
				cancelled = true
				break
			}
			be.Errs[i] = err
			continue
		}
		futures[i] = f
	}
	if !cancelled && !awaitBelow(len(msgs)) {
		cancelled = true
	}
	if cancelled {
		// Whatever is not confirmed by now is in an unknown state: failed.
		for i := oldest; i < len(msgs); i++ {
			if be.Errs[i] != nil {
				continue
			}
			f := futures[i]
			if f == nil {
				be.Errs[i] = ctx.Err()
				continue
			}
			select {
			case <-f.Ok():
			case err := <-f.Err():
				be.Errs[i] = err
			default:
				be.Errs[i] = ctx.Err()
			}
		}
	}
	return be.OrNil()
}

// publishAsync sends one message, waiting while too many are unconfirmed.
func (q *Queue) publishAsync(ctx context.Context, m *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		f, err := q.js.PublishMsgAsync(m)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return f, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// idHeader carries the ID of a queue.Message.NoDedup message, which JetStream
// does not see (it deduplicates on Nats-Msg-Id only).
const idHeader = "Sfbridge-Msg-Id"

// messageID is a stored message's ID, from either header.
func messageID(h nats.Header) string {
	if id := h.Get(jetstream.MsgIDHeader); id != "" {
		return id
	}
	return h.Get(idHeader)
}

// natsMsg maps a message into the namespace; its ID goes into Nats-Msg-Id,
// the header JetStream deduplicates on (into idHeader with NoDedup).
func (q *Queue) natsMsg(m queue.Message) *nats.Msg {
	h := make(nats.Header, len(m.Headers)+1)
	for k, v := range m.Headers {
		h[k] = []string{v} // as given: NATS header names are case-sensitive
	}
	if m.NoDedup {
		h[idHeader] = []string{m.ID}
	} else {
		h[jetstream.MsgIDHeader] = []string{m.ID}
	}
	return &nats.Msg{Subject: q.names.subject(m.Subject), Data: m.Data, Header: h}
}

// Consumer creates or updates the durable pull consumer cfg.Name on the
// input stream; see queue.Queue.
func (q *Queue) Consumer(ctx context.Context, cfg queue.ConsumerConfig) (queue.Consumer, error) {
	if err := queue.CheckName(cfg.Name); err != nil {
		return nil, fmt.Errorf("natsjs: consumer: %w", err)
	}
	if err := queue.CheckFilter(queue.InRoot, cfg.Subject); err != nil {
		return nil, fmt.Errorf("natsjs: consumer %s: %w", cfg.Name, err)
	}
	if cfg.AckWait < 0 || cfg.AckWait > 0 && cfg.AckWait < time.Millisecond {
		return nil, fmt.Errorf("natsjs: consumer %s: AckWait must be at least 1ms, got %s", cfg.Name, cfg.AckWait)
	}
	if cfg.MaxInFlight < 0 {
		return nil, fmt.Errorf("natsjs: consumer %s: MaxInFlight must not be negative, got %d", cfg.Name, cfg.MaxInFlight)
	}
	c, err := q.in.CreateOrUpdateConsumer(ctx, q.cfg.consumerConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("natsjs: create or update consumer %s (filter %s): %w", cfg.Name, cfg.Subject, err)
	}
	return &Consumer{q: q, name: cfg.Name, c: c}, nil
}

// LastPosition is the input stream's last sequence; see queue.Queue.
func (q *Queue) LastPosition(ctx context.Context) (uint64, error) {
	si, err := q.in.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("natsjs: input stream info: %w", err)
	}
	return si.State.LastSeq, nil
}

// ConsumerNames lists the durable consumers of the input stream, sorted.
func (q *Queue) ConsumerNames(ctx context.Context) ([]string, error) {
	l := q.in.ConsumerNames(ctx)
	var out []string
	for name := range l.Name() {
		out = append(out, name)
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("natsjs: list consumers: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// DeleteConsumer removes a durable consumer; see queue.Queue.
func (q *Queue) DeleteConsumer(ctx context.Context, name string) error {
	if err := queue.CheckName(name); err != nil {
		return fmt.Errorf("natsjs: delete consumer: %w", err)
	}
	err := q.in.DeleteConsumer(ctx, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("natsjs: delete consumer %s: %w", name, queue.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("natsjs: delete consumer %s: %w", name, err)
	}
	return nil
}

// MaxMessageSize is the server's max_payload: data and encoded headers.
func (q *Queue) MaxMessageSize() int { return int(q.nc.MaxPayload()) }

// DLQ returns the dead-letter queue.
func (q *Queue) DLQ() queue.DLQ { return q.dlq }

var _ queue.Queue = (*Queue)(nil)
