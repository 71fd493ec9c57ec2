package emit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// messages encodes n events, each with a pad of size bytes (sizes[i]
// overrides it for event i).
func messages(t *testing.T, n, size int, sizes map[int]int) []Message {
	t.Helper()
	out := make([]Message, n)
	for i := range out {
		s := size
		if v, ok := sizes[i]; ok {
			s = v
		}
		ev := Event{ID: fmt.Sprintf("e-%03d", i), Type: "t", Time: t0, Data: map[string]any{"i": i, "pad": strings.Repeat("x", s)}}
		b, err := encode(&ev, 0)
		require.NoError(t, err)
		out[i] = Message{ID: ev.ID, JSON: b}
	}
	return out
}

func ids(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestHTTPSinkGzip(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	sink := httpSink(t, srv.url(), "tok")

	small := messages(t, 3, 10, nil) // well under 8 KiB
	_, err := sink.Send(t.Context(), small)
	require.NoError(t, err)
	large := messages(t, 40, 400, nil)[3:] // ~16 KiB
	res, err := sink.Send(t.Context(), large)
	require.NoError(t, err)
	require.Empty(t, res.Rejected)

	srv.requireDelivered(t, append(ids(small), ids(large)...))
	_, _, reqs := srv.snapshot()
	require.Len(t, reqs, 2)
	require.False(t, reqs[0].gzipped)
	require.True(t, reqs[1].gzipped, "a body over 8 KiB is gzipped")
	require.Equal(t, 37, reqs[1].events, "the server decompressed every line")
	require.Less(t, reqs[1].rawSize, 8<<10, "compressed on the wire")
	accepted, _, _ := srv.snapshot()
	require.Equal(t, strings.Repeat("x", 400), accepted["e-010"]["pad"])
}

func TestHTTPSinkRequestShape(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"accepted":2,"duplicates":0,"rejected":[]}`)
	}))
	t.Cleanup(srv.Close)
	sink, err := NewHTTPSink(srv.URL+"/base/", "tok", HTTPOptions{UserAgent: "myapp/1"})
	require.NoError(t, err)
	require.Equal(t, srv.URL+"/base/v1/events", sink.URL())
	ms := messages(t, 2, 1, nil)
	_, err = sink.Send(t.Context(), ms)
	require.NoError(t, err)
	require.Equal(t, http.MethodPost, got.Method)
	require.Equal(t, "/base/v1/events", got.URL.Path)
	require.Equal(t, "Bearer tok", got.Header.Get("Authorization"))
	require.Equal(t, "application/x-ndjson", got.Header.Get("Content-Type"))
	require.Equal(t, "myapp/1", got.Header.Get("User-Agent"))
	require.Empty(t, got.Header.Get("Content-Encoding"))
	require.Equal(t, string(ms[0].JSON)+"\n"+string(ms[1].JSON)+"\n", body)
}

func TestHTTPSink413Splits(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	srv.set(func(s *eventServer) { s.maxBody = 1000 })
	sink := httpSink(t, srv.url(), "tok")
	ms := messages(t, 8, 150, map[int]int{5: 3000})
	res, err := sink.Send(t.Context(), ms)
	require.NoError(t, err)
	require.Len(t, res.Rejected, 1)
	require.Equal(t, 5, res.Rejected[0].Index)
	require.Equal(t, "e-005", res.Rejected[0].ID)
	require.Contains(t, res.Rejected[0].Reason, "too large for the endpoint (HTTP 413)")
	want := ids(ms)
	srv.requireDelivered(t, append(want[:5:5], want[6:]...))
	_, _, reqs := srv.snapshot()
	// [0,8) 413 → [0,4) 202, [4,8) 413 → [4,6) 413 → [4] 202, [5] 413
	// (rejected alone); [6,8) 202.
	statuses := map[int]int{}
	for _, r := range reqs {
		statuses[r.status]++
	}
	require.Equal(t, map[int]int{http.StatusRequestEntityTooLarge: 4, http.StatusAccepted: 3}, statuses)
}

func TestHTTPSink400Isolates(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	srv.set(func(s *eventServer) {
		s.unreadable = func(f map[string]any) bool { return f["i"] == 2.0 }
	})
	sink := httpSink(t, srv.url(), "tok")
	ms := messages(t, 4, 5, nil)
	res, err := sink.Send(t.Context(), ms)
	require.NoError(t, err)
	require.Equal(t, []Rejection{{Index: 2, ID: "e-002", Reason: "line 1: unreadable"}}, res.Rejected)
	srv.requireDelivered(t, []string{"e-000", "e-001", "e-003"})
	_, _, reqs := srv.snapshot()
	require.Len(t, reqs, 5, "the batch, then each event alone once")
}

func TestHTTPSink400ThenOutageSettlesPrefix(t *testing.T) {
	t.Parallel()
	srv := newEventServer(t, "tok")
	srv.set(func(s *eventServer) {
		s.forced = []forcedAnswer{
			{status: http.StatusBadRequest, body: `{"error":"cannot read body"}`},
			{status: http.StatusAccepted, body: `{"accepted":1}`},
			{status: http.StatusBadGateway, body: "<html>bad gateway</html>"},
		}
	})
	sink := httpSink(t, srv.url(), "tok")
	res, err := sink.Send(t.Context(), messages(t, 3, 5, nil))
	require.EqualError(t, err, "emit: POST "+srv.url()+"/v1/events: HTTP 502: <html>bad gateway</html>")
	require.Equal(t, 1, res.Settled, "the first event alone was accepted; the rest stays")
}

func TestHTTPSinkErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer forcedAnswer
		auth   bool
		after  time.Duration
		msg    string
	}{
		{"401", forcedAnswer{status: 401, body: `{"error":"invalid bearer token"}`}, true, 0, "HTTP 401: invalid bearer token"},
		{"403", forcedAnswer{status: 403}, true, 0, "HTTP 403"},
		{"503 retry after", forcedAnswer{status: 503, header: map[string]string{"Retry-After": "7"}}, false, 7 * time.Second, "HTTP 503"},
		{"429 retry after date", forcedAnswer{status: 429, header: map[string]string{"Retry-After": "in 30s"}}, false, 30 * time.Second, "HTTP 429"},
		{"500", forcedAnswer{status: 500, body: `{"error":"boom"}`}, false, 0, "HTTP 500: boom"},
		{"404", forcedAnswer{status: 404}, false, 0, "HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.answer.header["Retry-After"] == "in 30s" {
				tc.answer.header = map[string]string{"Retry-After": time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)}
			}
			srv := newEventServer(t, "s3cr3t-value")
			srv.set(func(s *eventServer) { s.forced = []forcedAnswer{tc.answer} })
			res, err := httpSink(t, srv.url(), "s3cr3t-value").Send(t.Context(), messages(t, 2, 1, nil))
			require.Error(t, err)
			require.Zero(t, res.Settled)
			require.Contains(t, err.Error(), tc.msg)
			require.NotContains(t, err.Error(), "s3cr3t")
			require.Equal(t, tc.auth, errors.Is(err, ErrAuth))
			var ra *RetryAfterError
			if tc.after > 0 {
				require.ErrorAs(t, err, &ra)
				require.InDelta(t, tc.after.Seconds(), ra.After.Seconds(), 1.5)
			} else {
				require.NotErrorAs(t, err, &ra)
			}
		})
	}
}

func TestHTTPSinkConnectionRefusedAndTimeout(t *testing.T) {
	t.Parallel()
	down := newDownServer(t, "tok")
	_, err := httpSink(t, down.url(), "tok").Send(t.Context(), messages(t, 1, 1, nil))
	require.ErrorContains(t, err, "connection refused")

	slow := newEventServer(t, "tok")
	slow.set(func(s *eventServer) { s.hang = true })
	sink, err := NewHTTPSink(slow.url(), "tok", HTTPOptions{Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = sink.Send(t.Context(), messages(t, 1, 1, nil))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestNewHTTPSinkChecks(t *testing.T) {
	t.Parallel()
	for endpoint, msg := range map[string]string{
		"ftp://x":                 "the scheme must be http or https",
		"http://":                 "no host",
		"https://u:p@host":        "must not hold credentials",
		"https://host/?a=b":       "must not have a query",
		"::":                      "missing protocol scheme",
		"https://events.example/": "",
	} {
		_, err := NewHTTPSink(endpoint, "tok", HTTPOptions{})
		if msg == "" {
			require.NoError(t, err, endpoint)
			continue
		}
		require.ErrorContains(t, err, msg, endpoint)
		require.NotContains(t, err.Error(), "u:p", "credentials are not repeated")
	}
	_, err := NewHTTPSink("https://h", "a\nb", HTTPOptions{})
	require.EqualError(t, err, "emit: token: contains a line break")
}

func TestRetryAfterParse(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"0": 0, "5": 5 * time.Second, "99999999": maxRetryAfter} {
		d, ok := retryAfter(v)
		require.True(t, ok, v)
		require.Equal(t, want, d, v)
	}
	for _, v := range []string{"", "-1", "soon"} {
		_, ok := retryAfter(v)
		require.False(t, ok, v)
	}
	d, ok := retryAfter(time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
	require.True(t, ok)
	require.Zero(t, d, "a date in the past means now")
}

func TestExpBackoff(t *testing.T) {
	t.Parallel()
	lo, hi := 100*time.Millisecond, 2*time.Second
	for failures, base := range map[int]time.Duration{1: lo, 2: 2 * lo, 3: 4 * lo, 5: 16 * lo, 6: hi, 60: hi} {
		for range 200 {
			d := expBackoff(failures, lo, hi)
			require.GreaterOrEqual(t, d, base/2, "failure %d", failures)
			require.LessOrEqual(t, d, base, "failure %d", failures)
		}
	}
}
