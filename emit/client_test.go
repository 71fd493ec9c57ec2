package emit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEmitWhileDownDeliveredWhenUp(t *testing.T) {
	t.Parallel()
	srv := newDownServer(t, "tok")
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	c := open(t, cfg)

	ids := emitN(t, c, 50, "volunteer.login")
	require.EqualValues(t, 50, c.Stats().Spooled)
	waitFor(t, "failed sends", func() bool { return c.Stats().Retries >= 2 })
	st := c.Stats()
	require.True(t, st.Failing)
	require.Contains(t, st.LastError, "connection refused")
	require.EqualValues(t, 50, st.Spooled, "an outage drops nothing")

	srv.start()
	flush(t, c)
	srv.requireDelivered(t, ids)
	st = c.Stats()
	require.EqualValues(t, 0, st.Spooled)
	require.EqualValues(t, 50, st.Sent)
	require.EqualValues(t, 50, st.Emitted)
	require.False(t, st.Failing)
}

func TestRestartDeliversUnsent(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	srv.set(func(s *eventServer) {
		for range 1000 {
			s.forced = append(s.forced, forcedAnswer{status: http.StatusServiceUnavailable, body: `{"error":"queue unavailable"}`})
		}
	})
	cfg, b := testConfig(t, httpSink(t, srv.url(), "tok"))
	c, err := New(cfg)
	require.NoError(t, err)
	ids := emitN(t, c, 20, "rescue.first_active")
	waitFor(t, "a 503", func() bool { return c.Stats().Retries > 0 })
	require.Contains(t, c.Stats().LastError, "HTTP 503: queue unavailable")
	require.NoError(t, c.Close(t.Context()))
	_, err = c.Emit(t.Context(), Event{Type: "late"})
	require.ErrorIs(t, err, ErrClosed)
	accepted, _, _ := srv.snapshot()
	require.Empty(t, accepted)

	// The application restarts; the server is back.
	srv.set(func(s *eventServer) { s.forced = nil })
	c2 := open(t, cfg)
	require.EqualValues(t, 20, c2.Stats().Spooled, "unsent events found on New")
	ids = append(ids, emitN(t, c2, 5, "volunteer.login")...)
	flush(t, c2)
	srv.requireDelivered(t, ids)
	require.Len(t, b.log.lines("spool holds unsent events", "events=20"), 1)
}

func TestTornTailIgnored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		damage    func(t *testing.T, seg string)
		delivered int // of the 5 events emitted
	}{
		{"cut mid record", func(t *testing.T, seg string) {
			require.NoError(t, os.Truncate(seg, fileSize(t, seg)-10))
		}, 4},
		{"cut mid header", func(t *testing.T, seg string) {
			last := lastRecordStart(t, seg)
			require.NoError(t, os.Truncate(seg, last+3))
		}, 4},
		{"garbage after", func(t *testing.T, seg string) {
			appendBytes(t, seg, []byte("\x20\x00\x00\x00garbage"))
		}, 5},
		{"zeros after", func(t *testing.T, seg string) {
			appendBytes(t, seg, make([]byte, 4096))
		}, 5},
		{"bad checksum", func(t *testing.T, seg string) {
			f, err := os.OpenFile(seg, os.O_RDWR, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("X"), fileSize(t, seg)-2) // inside the last payload
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newDownServer(t, "tok")
			cfg, b := testConfig(t, httpSink(t, srv.url(), "tok"))
			c, err := New(cfg)
			require.NoError(t, err)
			ids := emitN(t, c, 5, "volunteer.login")
			require.NoError(t, c.Close(t.Context()))
			segs := segments(t, cfg.SpoolDir)
			require.Len(t, segs, 1)
			tc.damage(t, segs[0])

			srv.start()
			c2 := open(t, cfg)
			require.EqualValues(t, tc.delivered, c2.Stats().Spooled)
			more := emitN(t, c2, 2, "after.crash") // appends continue after the valid records
			flush(t, c2)
			srv.requireDelivered(t, append(ids[:tc.delivered], more...))
			require.Len(t, b.log.lines("torn record"), 1, b.log.String())
		})
	}
}

// lastRecordStart returns the offset of the last record in a segment.
func lastRecordStart(t *testing.T, seg string) int64 {
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	off, last := segHeader, int64(-1)
	for off < int64(len(data)) {
		last = off
		off += recHeader + int64(uint32(data[off])|uint32(data[off+1])<<8|uint32(data[off+2])<<16|uint32(data[off+3])<<24)
	}
	require.Positive(t, last)
	return last
}

func appendBytes(t *testing.T, path string, b []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	srv.set(func(s *eventServer) {
		s.forced = []forcedAnswer{{status: http.StatusServiceUnavailable, header: map[string]string{"Retry-After": "1"},
			body: `{"error":"queue full"}`}}
	})
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	c := open(t, cfg)
	ids := emitN(t, c, 3, "volunteer.login")
	flush(t, c)
	srv.requireDelivered(t, ids)
	_, _, reqs := srv.snapshot()
	require.Len(t, reqs, 2)
	require.Equal(t, http.StatusServiceUnavailable, reqs[0].status)
	waited := reqs[1].at.Sub(reqs[0].at)
	require.GreaterOrEqual(t, waited, time.Second, "the retry came %s after the 503 with Retry-After: 1 (MinBackoff is 5ms)", waited)
	require.Less(t, waited, 2*time.Second)
	require.EqualValues(t, 1, c.Stats().Retries)
}

func TestUnauthorizedKeepsEvents(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-token-value"
	srv := newEventServer(t, "another-token")
	cfg, b := testConfig(t, httpSink(t, srv.url(), secret))
	c := open(t, cfg)
	ids := emitN(t, c, 3, "volunteer.login")
	waitFor(t, "several refused sends", func() bool { return srv.requestCount() >= 4 })
	st := c.Stats()
	require.EqualValues(t, 3, st.Spooled, "refused credentials drop nothing")
	require.True(t, st.Failing)
	require.Contains(t, st.LastError, "HTTP 401: invalid bearer token")
	require.Contains(t, st.LastError, "refused the credentials")
	require.Len(t, b.log.lines("level=ERROR"), 1, "one error per state change, not per retry:\n%s", b.log.String())
	require.Len(t, b.log.lines("level=ERROR", "refuses the credentials"), 1)
	require.Zero(t, c.Stats().Rejected+c.Stats().Sent)

	// The operator fixes the credentials on the server side.
	srv.set(func(s *eventServer) { s.token = secret })
	flush(t, c)
	srv.requireDelivered(t, ids)
	require.Len(t, b.log.lines("delivering again"), 1)
	require.NotContains(t, b.log.String(), secret)
	require.NotContains(t, c.Stats().LastError, secret)
}

func TestRejectedReportedNotRetried(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	srv.set(func(s *eventServer) {
		s.reject = func(f map[string]any) string {
			if f["bad"] == true {
				return "field bad: not allowed"
			}
			return ""
		}
	})
	cfg, b := testConfig(t, httpSink(t, srv.url(), "tok"))
	var mu sync.Mutex
	rejected := map[string]Event{}
	reasons := map[string]string{}
	cfg.OnReject = func(ev Event, reason string) {
		mu.Lock()
		defer mu.Unlock()
		rejected[ev.ID] = ev
		reasons[ev.ID] = reason
	}
	cfg.Linger = 100 * time.Millisecond // one batch
	c := open(t, cfg)
	var good, bad []string
	for i := range 6 {
		ev := Event{Type: "volunteer.login", Key: "v-1", Data: map[string]any{"n": i, "bad": i%3 == 0}}
		id, err := c.Emit(t.Context(), ev)
		require.NoError(t, err)
		if i%3 == 0 {
			bad = append(bad, id)
		} else {
			good = append(good, id)
		}
	}
	flush(t, c)
	srv.requireDelivered(t, good)
	_, seen, _ := srv.snapshot()
	mu.Lock()
	require.Len(t, rejected, 2)
	for i, id := range bad {
		require.Equal(t, 1, seen[id], "rejected event %s sent once, never retried", id)
		require.Equal(t, "field bad: not allowed", reasons[id])
		ev := rejected[id]
		require.Equal(t, "volunteer.login", ev.Type)
		require.Equal(t, "v-1", ev.Key)
		require.Equal(t, map[string]any{"n": json.Number(fmt.Sprint(i * 3)), "bad": true}, ev.Data)
		require.Len(t, b.log.lines("level=WARN", "rejected", "id="+id), 1)
	}
	mu.Unlock()
	st := c.Stats()
	require.EqualValues(t, 2, st.Rejected)
	require.EqualValues(t, 4, st.Sent)
	require.EqualValues(t, 0, st.Spooled)
	require.NotContains(t, b.log.String(), "true", "no payload in the log")
}

func TestTooLargeSplitThroughClient(t *testing.T) {
	t.Parallel()
	srv := newDownServer(t, "tok")
	srv.set(func(s *eventServer) { s.maxBody = 1000 })
	var mu sync.Mutex
	var rejects []string
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	cfg.OnReject = func(ev Event, reason string) {
		mu.Lock()
		defer mu.Unlock()
		rejects = append(rejects, ev.ID+" "+reason)
	}
	c := open(t, cfg)
	var ok []string
	var big string
	for i := range 12 {
		size := 150
		if i == 7 {
			size = 2000
		}
		id, err := c.Emit(t.Context(), Event{Type: "t", Data: map[string]any{"pad": strings.Repeat("x", size)}})
		require.NoError(t, err)
		if i == 7 {
			big = id
		} else {
			ok = append(ok, id)
		}
	}
	srv.start()
	flush(t, c)
	srv.requireDelivered(t, ok)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, rejects, 1)
	require.Contains(t, rejects[0], big+" too large for the endpoint (HTTP 413)")
}

func TestConcurrentEmitDeliveredOnce(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	c := open(t, cfg)
	const goroutines, each = 8, 500
	ids := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				id, err := c.Emit(context.Background(), Event{Type: "volunteer.login", Key: fmt.Sprintf("v-%d", g),
					Data: map[string]any{"g": g, "i": i}})
				if err != nil {
					t.Error(err)
					return
				}
				ids[g] = append(ids[g], id)
			}
		})
	}
	wg.Wait()
	flush(t, c)
	var all []string
	for _, g := range ids {
		all = append(all, g...)
	}
	require.Len(t, all, goroutines*each)
	srv.requireDelivered(t, all)
	st := c.Stats()
	require.EqualValues(t, goroutines*each, st.Emitted)
	require.EqualValues(t, goroutines*each, st.Sent)
	require.EqualValues(t, 0, st.Spooled)
}

func TestSpoolFull(t *testing.T) {
	t.Parallel()
	srv := newDownServer(t, "tok")
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	cfg.MaxSpoolBytes = 2000
	c := open(t, cfg)
	var ids []string
	for {
		id, err := c.Emit(t.Context(), Event{Type: "volunteer.login", Data: map[string]any{"pad": strings.Repeat("x", 100)}})
		if err != nil {
			require.ErrorIs(t, err, ErrSpoolFull)
			require.Contains(t, err.Error(), "MaxSpoolBytes is 2000")
			break
		}
		ids = append(ids, id)
		require.Less(t, len(ids), 100, "the spool never filled")
	}
	st := c.Stats()
	require.EqualValues(t, len(ids), st.Spooled)
	require.LessOrEqual(t, st.SpoolBytes, int64(2000))
	require.Greater(t, st.SpoolBytes, int64(2000-200))

	srv.start()
	flush(t, c)
	id, err := c.Emit(t.Context(), Event{Type: "volunteer.login"})
	require.NoError(t, err, "room again once delivered")
	flush(t, c)
	srv.requireDelivered(t, append(ids, id))
}

func TestSecondNewOnSameDir(t *testing.T) {
	t.Parallel()
	sink, err := NewFolderSink(t.TempDir())
	require.NoError(t, err)
	cfg, _ := testConfig(t, sink)
	c, err := New(cfg)
	require.NoError(t, err)
	_, err = New(cfg)
	require.ErrorIs(t, err, ErrSpoolInUse)
	require.Contains(t, err.Error(), cfg.SpoolDir)
	require.NoError(t, c.Close(t.Context()))
	c2, err := New(cfg)
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, c2.Close(t.Context()))
}

func TestCloseDuringHangingSend(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	srv.set(func(s *eventServer) { s.hang = true })
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	c, err := New(cfg)
	require.NoError(t, err)
	ids := emitN(t, c, 3, "volunteer.login")
	waitFor(t, "the send to start", func() bool { return srv.inflight.Load() > 0 })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.NoError(t, c.Close(ctx))
	require.Less(t, time.Since(start), 2*time.Second, "Close cancels the send when its context ends")
	require.Zero(t, c.Stats().Retries, "a cancelled send at Close is not a failure")
	err = c.Flush(t.Context())
	require.ErrorIs(t, err, ErrClosed)

	srv.set(func(s *eventServer) { s.hang = false })
	c2 := open(t, cfg)
	flush(t, c2)
	srv.requireDelivered(t, ids)
}

func TestSegmentsRotateAndAreDeleted(t *testing.T) {
	t.Parallel()
	srv := newDownServer(t, "tok")
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	cfg.SegmentBytes = 2048
	c := open(t, cfg)
	ids := emitN(t, c, 100, "volunteer.login")
	require.Greater(t, len(segments(t, cfg.SpoolDir)), 5)
	srv.start()
	flush(t, c)
	srv.requireDelivered(t, ids)
	require.Len(t, segments(t, cfg.SpoolDir), 1, "delivered segments are deleted")
	require.NoError(t, c.Close(t.Context()))

	// Nothing is sent again after a restart.
	c2 := open(t, cfg)
	require.Zero(t, c2.Stats().Spooled)
	more := emitN(t, c2, 3, "x")
	flush(t, c2)
	srv.requireDelivered(t, append(ids, more...))
	_, seen, _ := srv.snapshot()
	for _, id := range ids {
		require.Equal(t, 1, seen[id])
	}
}

func TestTornCursorResendsSafely(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	cfg.Linger = -1
	c, err := New(cfg)
	require.NoError(t, err)
	first := emitN(t, c, 3, "a")
	flush(t, c)
	second := emitN(t, c, 3, "b")
	flush(t, c)
	require.NoError(t, c.Close(t.Context()))

	// Tear the newest cursor slot: the previous one is used.
	cur := cfg.SpoolDir + "/" + cursorName
	data, err := os.ReadFile(cur)
	require.NoError(t, err)
	newest, _, _ := decodeCursor(data[:cursorSlot])
	other, _, _ := decodeCursor(data[cursorSlot:])
	slot := 0
	if other > newest {
		slot = 1
	}
	data[slot*cursorSlot+20] ^= 0xff
	require.NoError(t, os.WriteFile(cur, data, 0o600))

	c2 := open(t, cfg)
	require.Positive(t, c2.Stats().Spooled, "some events are sent again")
	flush(t, c2)
	srv.requireDelivered(t, append(first, second...))
	require.Positive(t, c2.Stats().Duplicates, "the server dropped the resent ones")
}
