package httpsrc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
)

// numbered is n events with ids prefix-0…
func numbered(prefix string, n int) ([]byte, []string) {
	lines := make([]string, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		lines[i] = ev(ids[i], "signup")
	}
	return ndjson(lines...), ids
}

// When the queue cannot take the events the client gets 503 with
// Retry-After and resends the whole request; nothing is lost and nothing
// is queued twice.
func TestQueueFails(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.RetryAfter = 3 * time.Second })
	body, ids := numbered("f", 10)
	errBroker := errors.New("nats: no responders available for request")

	// Fails outright.
	b.gate.set(func(g *gate) { g.err = errBroker })
	r := b.post(t, "application/x-ndjson", body)
	require.Equal(t, "10 events not queued: the queue is unavailable; resend the whole request after 3 s", r.failed(t, http.StatusServiceUnavailable))
	require.Equal(t, "3", r.header.Get("Retry-After"))
	b.drain(t, 0)
	require.Contains(t, b.log.String(), "level=WARN")
	require.Contains(t, b.log.String(), "no responders available")

	// Fails after storing the first 4: the resend stores the other 6.
	b.gate.set(func(g *gate) { g.partial = 4 })
	r = b.post(t, "application/x-ndjson", body)
	r.failed(t, http.StatusServiceUnavailable)
	require.Equal(t, ids[:4], eventIDs(b.drain(t, 4)))

	b.gate.set(func(g *gate) { g.err, g.partial = nil, 0 })
	r = b.post(t, "application/x-ndjson", body)
	require.Equal(t, Response{Accepted: 10, Rejected: []Rejection{}}, r.accepted(t))
	require.Equal(t, ids[4:], eventIDs(b.drain(t, 6)), "the 4 stored before are dropped by the broker")

	st := b.src.Stats()
	require.Equal(t, int64(2), st.ServerErrors)
	require.Equal(t, int64(10), st.Accepted, "events count once confirmed")
}

// A broker that does not confirm in time: 503 after PublishTimeout.
func TestQueueTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PublishTimeout = 300 * time.Millisecond })
	hold := make(chan struct{})
	b.gate.set(func(g *gate) { g.hold = hold })
	body, ids := numbered("slow", 3)
	start := time.Now()
	r := b.post(t, "application/x-ndjson", body)
	require.Equal(t, "3 events not queued: the queue did not confirm them within 300ms; resend the whole request after 2 s", r.failed(t, http.StatusServiceUnavailable))
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Equal(t, "2", r.header.Get("Retry-After"))
	b.gate.mu.Lock()
	require.ErrorIs(t, b.gate.aborted, context.DeadlineExceeded)
	b.gate.mu.Unlock()

	close(hold)
	require.Equal(t, 3, b.post(t, "application/x-ndjson", body).accepted(t).Accepted)
	require.Equal(t, ids, eventIDs(b.drain(t, 3)))
}

// The real broker goes away (closed), then comes back on the same store:
// 503 meanwhile, and the resent request is queued once it is back.
func TestBrokerDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	body, ids := numbered("down", 5)
	require.NoError(t, b.broker.Close())
	r := b.post(t, "application/x-ndjson", body)
	require.Equal(t, "5 events not queued: the queue is unavailable; resend the whole request after 2 s", r.failed(t, http.StatusServiceUnavailable))
	require.Equal(t, "2", r.header.Get("Retry-After"))

	// Back: the same store, a new connection.
	br := brokertest.Embedded(t, b.dir)
	q, err := natsjs.Open(ctx, br, natsjs.Config{})
	require.NoError(t, err)
	b.gate.set(func(g *gate) { g.next = q })
	require.Equal(t, 5, b.post(t, "application/x-ndjson", body).accepted(t).Accepted)
	b.in, err = q.Consumer(ctx, queue.ConsumerConfig{Name: "test", Subject: "in.>"})
	require.NoError(t, err)
	require.Equal(t, ids, eventIDs(b.drain(t, 5)))
}

// Beyond MaxInFlight requests, 503 with Retry-After: 1.
func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.MaxInFlight = 1 })
	hold := make(chan struct{})
	b.gate.set(func(g *gate) { g.hold = hold })
	body, ids := numbered("busy", 2)
	first := make(chan reply, 1)
	go func() { first <- b.post(t, "application/x-ndjson", body) }()
	b.gate.waitEntered(t)
	require.Equal(t, 1, b.src.Stats().InFlight)

	r := b.post(t, "application/x-ndjson", body)
	require.Equal(t, "too many requests in flight; retry after 1 s", r.failed(t, http.StatusServiceUnavailable))
	require.Equal(t, "1", r.header.Get("Retry-After"))
	// Refusals that need no place are still answered.
	b.post(t, "text/plain", body).failed(t, http.StatusUnsupportedMediaType)

	close(hold)
	require.Equal(t, 2, (<-first).accepted(t).Accepted)
	require.Equal(t, ids, eventIDs(b.drain(t, 2)))
	require.Zero(t, b.src.Stats().InFlight)
	require.Equal(t, 2, b.post(t, "application/x-ndjson", body).accepted(t).Accepted, "the place is free again")
}

// Many clients at once, each request its own events: every one queued
// exactly once, the counters add up (run with -race).
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const clients, requests, perRequest = 8, 10, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients*requests)
	for c := range clients {
		wg.Go(func() {
			for r := range requests {
				body, _ := numbered(fmt.Sprintf("c%d-r%d", c, r), perRequest)
				if c%2 == 1 {
					body = gzipped(t, body)
				}
				req, err := http.NewRequest(http.MethodPost, b.url, strings.NewReader(string(body)))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+testToken)
				req.Header.Set("Content-Type", "application/x-ndjson")
				if c%2 == 1 {
					withGzip(req)
				}
				resp, err := b.client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					errs <- fmt.Errorf("client %d request %d: HTTP %d", c, r, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := eventIDs(b.drain(t, clients*requests*perRequest))
	sort.Strings(got)
	var want []string
	for c := range clients {
		for r := range requests {
			_, ids := numbered(fmt.Sprintf("c%d-r%d", c, r), perRequest)
			want = append(want, ids...)
		}
	}
	sort.Strings(want)
	require.Equal(t, want, got)
	st := b.src.Stats()
	require.Equal(t, int64(clients*requests), st.Requests)
	require.Equal(t, int64(clients*requests*perRequest), st.Accepted)
	require.Zero(t, st.InFlight)
}
