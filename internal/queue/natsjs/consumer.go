package natsjs

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// Consumer is a handle on a durable pull consumer. Handles with the same name,
// here or in other processes, share its messages.
type Consumer struct {
	q    *Queue
	name string
	c    jetstream.Consumer
}

// Name is the consumer's name.
func (c *Consumer) Name() string { return c.name }

// Fetch sends one pull request for n messages that the server holds open
// for up to maxWait (or until ctx's deadline, if sooner); see queue.Consumer.
// When ctx is cancelled, the messages already received are handed back to the
// broker (nacked) and Fetch returns ctx's error. A fetch that fails after
// some messages arrived returns them without the error; the next Fetch sees it.
func (c *Consumer) Fetch(ctx context.Context, n int, maxWait time.Duration) ([]queue.Delivery, error) {
	if n < 1 {
		return nil, fmt.Errorf("natsjs: fetch %s: n must be at least 1, got %d", c.name, n)
	}
	if maxWait <= 0 {
		return nil, fmt.Errorf("natsjs: fetch %s: maxWait must be positive, got %s", c.name, maxWait)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("natsjs: fetch %s: %w", c.name, err)
	}
	wait := maxWait
	if deadline, ok := ctx.Deadline(); ok {
		// Let the server end the request a little before the context does.
		if left := time.Until(deadline) * 9 / 10; left < wait {
			wait = max(left, time.Millisecond)
		}
	}
	batch, err := c.c.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, fmt.Errorf("natsjs: fetch %s: %w", c.name, err)
	}
	out := make([]queue.Delivery, 0, n)
	msgs := batch.Messages()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				if err := batch.Error(); err != nil && len(out) == 0 {
					return nil, fmt.Errorf("natsjs: fetch %s: %w", c.name, err)
				}
				return out, nil
			}
			d, err := c.q.newDelivery(m)
			if err != nil {
				c.handBack(out, msgs)
				_ = m.Nak()
				return nil, fmt.Errorf("natsjs: fetch %s: %w", c.name, err)
			}
			out = append(out, d)
		case <-ctx.Done():
			c.handBack(out, msgs)
			return nil, fmt.Errorf("natsjs: fetch %s: %w", c.name, ctx.Err())
		}
	}
}

// handBack nacks the deliveries received so far and, in the background, those
// of the same pull request still on their way, so that an abandoned fetch
// does not leave messages waiting out their ack wait.
func (c *Consumer) handBack(got []queue.Delivery, rest <-chan jetstream.Msg) {
	for _, d := range got {
		_ = d.(*Delivery).msg.Nak()
	}
	go func() {
		for m := range rest {
			_ = m.Nak()
		}
	}()
}

// Stats reports the consumer's backlog from the broker.
func (c *Consumer) Stats(ctx context.Context) (queue.ConsumerStats, error) {
	info, err := c.c.Info(ctx)
	if err != nil {
		return queue.ConsumerStats{}, fmt.Errorf("natsjs: consumer %s info: %w", c.name, err)
	}
	return queue.ConsumerStats{
		Pending:     info.NumPending,
		InFlight:    info.NumAckPending,
		Redelivered: info.NumRedelivered,
		Delivered:   info.Delivered.Stream,
		AckFloor:    info.AckFloor.Stream,
		Deliveries:  info.Delivered.Consumer,
	}, nil
}

var _ queue.Consumer = (*Consumer)(nil)
