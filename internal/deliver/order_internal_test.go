package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
	sfsync "github.com/sfbridge/sfbridge/internal/sync"
)

// fakeDelivery is a queue.Delivery with the fields the stream-order guard
// reads; settling it is not expected.
type fakeDelivery struct {
	id               string
	attempt          int
	stream, consumer uint64
}

func (f fakeDelivery) Subject() string                           { return "in.db.t" }
func (f fakeDelivery) ID() string                                { return f.id }
func (f fakeDelivery) Data() []byte                              { return nil }
func (f fakeDelivery) Headers() map[string]string                { return nil }
func (f fakeDelivery) Attempt() int                              { return f.attempt }
func (f fakeDelivery) Published() time.Time                      { return time.Time{} }
func (f fakeDelivery) Sequence() (uint64, uint64)                { return f.stream, f.consumer }
func (f fakeDelivery) Ack(context.Context) error                 { panic("not settled here") }
func (f fakeDelivery) Nack(context.Context, time.Duration) error { panic("not settled here") }
func (f fakeDelivery) InProgress(context.Context) error          { panic("not settled here") }
func (f fakeDelivery) Term(context.Context) error                { panic("not settled here") }

func deliveries(consumer ...uint64) []queue.Delivery {
	out := make([]queue.Delivery, len(consumer))
	for i, c := range consumer {
		out[i] = fakeDelivery{id: "m", attempt: 1, stream: 100 + c, consumer: c}
	}
	return out
}

// gapIn is observe's gap report.
func gapIn(o *streamOrder, ds []queue.Delivery) bool {
	gap, _ := o.observe(ds)
	return gap
}

// A delivery number skipped between fetches is a delivery that reached no
// one: the guard catches up until the ack floor passes everything the
// consumer had delivered when it looked.
func TestStreamOrderGapStartsCatchingUp(t *testing.T) {
	o := newStreamOrder(nil, "s", time.Minute)
	require.False(t, gapIn(o, deliveries(1, 2, 3)))
	require.False(t, gapIn(o, deliveries(4)))
	require.False(t, o.catchingUp.Load())

	require.True(t, gapIn(o, deliveries(6, 7)), "5 reached no one")
	require.True(t, o.catchingUp.Load())
	// The consumer has delivered up to position 120 by now; the floor is
	// held below the lost delivery.
	seen := o.doubtCount()
	over := o.caughtUp(queue.ConsumerStats{Delivered: 120, AckFloor: 104, InFlight: 1}, seen)
	require.False(t, over)
	over = o.caughtUp(queue.ConsumerStats{Delivered: 130, AckFloor: 119, InFlight: 1}, seen)
	require.False(t, over, "the target stays where it was read")
	over = o.caughtUp(queue.ConsumerStats{Delivered: 130, AckFloor: 120, InFlight: 1}, seen)
	require.True(t, over)
	require.False(t, o.catchingUp.Load())

	require.False(t, gapIn(o, deliveries(8)), "no gap after the catch-up")
	require.True(t, gapIn(o, deliveries(10)), "another gap: another period")
	require.True(t, o.catchingUp.Load())

	// Stats read before a doubt cannot end the period it starts: the lost
	// delivery may lie past what they say was delivered.
	seen = o.doubtCount()
	o.doubt()
	over = o.caughtUp(queue.ConsumerStats{Delivered: 140, AckFloor: 140, InFlight: 0}, seen)
	require.False(t, over, "stats from before the doubt")
	over = o.caughtUp(queue.ConsumerStats{Delivered: 150, AckFloor: 150, InFlight: 0}, o.doubtCount())
	require.True(t, over)
}

// A redelivery this process did not cause (its ack wait ran out while in
// hand) starts a catching-up period; one it nacked, or one an earlier
// process left (within the period in progress), does not.
func TestStreamOrderUnexplainedRedeliveryStartsCatchingUp(t *testing.T) {
	o := newStreamOrder(nil, "s", time.Minute)
	nacked := &item{del: fakeDelivery{id: "m-1", attempt: 1, stream: 7, consumer: 1}, act: sfsync.Action{Key: "k"}}
	_, stray := o.observe([]queue.Delivery{nacked.del})
	require.False(t, stray)
	o.delay(nacked)
	_, stray = o.observe([]queue.Delivery{fakeDelivery{id: "m-1", attempt: 2, stream: 7, consumer: 2}})
	require.False(t, stray, "a redelivery of what this process nacked is accounted for")
	require.False(t, o.catchingUp.Load())

	_, stray = o.observe([]queue.Delivery{fakeDelivery{id: "m-9", attempt: 2, stream: 9, consumer: 3}})
	require.True(t, stray)
	require.True(t, o.catchingUp.Load())
	over := o.caughtUp(queue.ConsumerStats{Delivered: 20, AckFloor: 8, InFlight: 1}, o.doubtCount())
	require.False(t, over)
	// Another one during the period is a doubt too: only what an earlier
	// process left is accounted for (leftTo, from the start).
	_, stray = o.observe([]queue.Delivery{fakeDelivery{id: "m-8", attempt: 2, stream: 15, consumer: 4}})
	require.True(t, stray)
	o.leftTo = 15
	_, stray = o.observe([]queue.Delivery{fakeDelivery{id: "m-8", attempt: 2, stream: 15, consumer: 5}})
	require.False(t, stray, "left by an earlier process")
	// The period ends when nothing is in flight any more, and then nothing
	// counts as left before.
	over = o.caughtUp(queue.ConsumerStats{Delivered: 30, AckFloor: 12}, o.doubtCount())
	require.True(t, over, "nothing in flight")
	_, stray = o.observe([]queue.Delivery{fakeDelivery{id: "m-8", attempt: 2, stream: 15, consumer: 6}})
	require.True(t, stray)
}

// The watchdog: a lapse of over half the ack wait (the process was paused)
// starts a catching-up period, and so does a durable check that finds the
// watchdog late.
func TestStreamOrderWatchdogLapse(t *testing.T) {
	o := newStreamOrder(nil, "s", time.Second)
	now := time.Now()
	require.False(t, o.tick(now.Add(400*time.Millisecond)))
	require.False(t, o.catchingUp.Load())
	require.True(t, o.tick(now.Add(1100*time.Millisecond)), "600 ms without a beat")
	require.True(t, o.catchingUp.Load())

	o = newStreamOrder(nil, "s", time.Second)
	o.beat.Store(time.Now().Add(-2 * time.Second).UnixNano())
	fresh := &item{del: fakeDelivery{id: "m", attempt: 1, stream: 1}, act: sfsync.Action{Key: "k"}}
	require.True(t, o.durable(fresh), "decided as catching up")
}

// A re-published page repeats delivery IDs, but each copy has its own
// queue position: the key stays risky until every delayed copy has ended,
// and a copy nacked several times is one entry.
func TestStreamOrderRiskyCountsEachCopy(t *testing.T) {
	o := newStreamOrder(nil, "s", time.Minute)
	copy1 := &item{del: fakeDelivery{id: "m-1", attempt: 1, stream: 10}, act: sfsync.Action{Key: "k"}}
	copy2 := &item{del: fakeDelivery{id: "m-1", attempt: 1, stream: 20}, act: sfsync.Action{Key: "k"}}
	o.delay(copy1)
	o.delay(copy2)
	again := &item{del: fakeDelivery{id: "m-1", attempt: 2, stream: 10}, act: sfsync.Action{Key: "k"}}
	o.delay(again) // copy 1 failed again
	fresh := &item{del: fakeDelivery{id: "m-2", attempt: 1, stream: 30}, act: sfsync.Action{Key: "k"}}
	o.ended(&item{del: fakeDelivery{id: "m-1", attempt: 3, stream: 10}, act: sfsync.Action{Key: "k"}})
	require.True(t, o.durable(fresh), "copy 2 is still away")
	o.ended(&item{del: fakeDelivery{id: "m-1", attempt: 2, stream: 20}, act: sfsync.Action{Key: "k"}})
	require.False(t, o.durable(fresh), "both copies ended")
	require.Empty(t, o.away)
	require.Empty(t, o.awayKeys)
}

// A key held by two batches in hand is shared: its write must be stored.
func TestStreamOrderSharedKeys(t *testing.T) {
	o := newStreamOrder(nil, "s", time.Minute)
	o.register([]string{"a", "b"})
	require.False(t, o.shared("a"))
	o.register([]string{"b"})
	require.True(t, o.shared("b"))
	require.False(t, o.shared("a"))
	o.unregister([]string{"b"})
	require.False(t, o.shared("b"))
	o.unregister([]string{"a", "b"})
	require.Empty(t, o.recent, "nothing kept once no batch holds a key")
}
