package httpsrc

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name, header string // header "" sends none
		want         string
	}{
		{"none", "", "unauthorized: no Authorization header; send Authorization: Bearer <token>"},
		{"wrong token", "Bearer wrong-" + testToken[6:], "unauthorized: the bearer token is not valid"},
		{"a prefix of the token", "Bearer " + testToken[:10], "unauthorized: the bearer token is not valid"},
		{"token and more", "Bearer " + testToken + "x", "unauthorized: the bearer token is not valid"},
		{"wrong scheme", "Basic " + testToken, "unauthorized: the Authorization header must use the Bearer scheme (Authorization: Bearer <token>)"},
		{"token alone", testToken, "unauthorized: the Authorization header must use the Bearer scheme (Authorization: Bearer <token>)"},
		{"empty bearer", "Bearer ", "unauthorized: the bearer token is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.post(t, "application/json", []byte(ev("no-"+c.name, "signup")), func(req *http.Request) {
				req.Header.Del("Authorization")
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
			})
			require.Equal(t, c.want, r.failed(t, http.StatusUnauthorized))
			require.Equal(t, `Bearer realm="sfbridge"`, r.header.Get("WWW-Authenticate"))
			require.NotContains(t, string(r.body), testToken[6:20], "no part of what was sent comes back")
		})
	}
	// The scheme is case-insensitive (RFC 9110).
	r := b.post(t, "application/json", []byte(ev("yes", "signup")), func(req *http.Request) {
		req.Header.Set("Authorization", "bearer "+testToken)
	})
	require.Equal(t, 1, r.accepted(t).Accepted)
	b.drain(t, 1)

	require.Equal(t, int64(len(cases)), b.src.Stats().ClientErrors)
	require.NotContains(t, b.log.String(), testToken[6:20], "neither token is logged")
	require.Contains(t, b.log.String(), "status=401")
}

// The token is checked before the body is read: with Expect:
// 100-continue the client never sends the body of a refused request.
func TestUnauthorizedBodyNotRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := &watchedReader{r: strings.NewReader(ev("x", "signup"))}
	req, err := http.NewRequest(http.MethodPost, b.url, body)
	require.NoError(t, err)
	req.ContentLength = int64(len(ev("x", "signup")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer nope")
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.False(t, body.read.Load(), "the body was sent: the server asked for it before checking the token")
	b.drain(t, 0)
}

type watchedReader struct {
	r    io.Reader
	read atomic.Bool
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.read.Store(true)
	return w.r.Read(p)
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	b := setup(t, func(o *Options) { o.Config.MaxBodyBytes = limit; o.Config.MaxEventBytes = 1 << 10 })
	const want = "request body over max_body_bytes (64KiB)"

	// Events of 100 bytes, numbered from first.
	events := func(first, n int) []byte {
		var buf bytes.Buffer
		for i := range n {
			line := ev(fmt.Sprintf("e-%06d", first+i), "signup")
			buf.WriteString(line + strings.Repeat(" ", 99-len(line)) + "\n")
		}
		return buf.Bytes()
	}
	exact := events(0, limit/100)
	require.LessOrEqual(t, len(exact), limit)
	over := events(0, limit/100+1)
	require.Greater(t, len(over), limit)

	t.Run("plain", func(t *testing.T) {
		r := b.post(t, "application/x-ndjson", over)
		require.Equal(t, want, r.failed(t, http.StatusRequestEntityTooLarge))
	})
	t.Run("chunked", func(t *testing.T) {
		// No Content-Length: the limit trips while reading, after good
		// events were parsed, and none of them is queued.
		r := b.post(t, "application/x-ndjson", nil, func(req *http.Request) {
			req.Body = io.NopCloser(bytes.NewReader(over))
			req.ContentLength = -1
		})
		require.Equal(t, want, r.failed(t, http.StatusRequestEntityTooLarge))
	})
	t.Run("gzip bomb", func(t *testing.T) {
		// Small compressed, 16 MiB decompressed.
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		require.NoError(t, err)
		line := []byte(ev("bomb", "signup") + "\n")
		for range (16 << 20) / len(line) {
			_, err = zw.Write(line)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		require.Less(t, buf.Len(), limit, "the compressed body is within the limit")
		r := b.post(t, "application/x-ndjson", buf.Bytes(), withGzip)
		require.Equal(t, want, r.failed(t, http.StatusRequestEntityTooLarge))
	})
	t.Run("gzip of too much", func(t *testing.T) {
		r := b.post(t, "application/x-ndjson", gzipped(t, over), withGzip)
		require.Equal(t, want, r.failed(t, http.StatusRequestEntityTooLarge))
	})
	b.drain(t, 0)

	t.Run("at the limit", func(t *testing.T) {
		require.Equal(t, limit/100, b.post(t, "application/x-ndjson", exact).accepted(t).Accepted)
		b.drain(t, limit/100)
		require.Equal(t, limit/100, b.post(t, "application/x-ndjson", gzipped(t, events(1000, limit/100)), withGzip).accepted(t).Accepted)
		b.drain(t, limit/100)
	})
	st := b.src.Stats()
	require.Equal(t, int64(4), st.ClientErrors)
	require.Equal(t, int64(2*(limit/100)), st.Accepted)
}

func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const want = "send application/json (one event or an array), application/x-ndjson or application/jsonl (one event per line)"
	cases := []struct {
		name, contentType, encoding, want string
	}{
		{"no content type", "", "", "no Content-Type: " + want},
		{"text", "text/plain", "", `Content-Type "text/plain" is not supported: ` + want},
		{"csv", "text/csv; charset=utf-8", "", `Content-Type "text/csv" is not supported: ` + want},
		{"form", "application/x-www-form-urlencoded", "", `Content-Type "application/x-www-form-urlencoded" is not supported: ` + want},
		{"latin1", "application/json; charset=iso-8859-1", "", `Content-Type "application/json; charset=iso-8859-1": charset "iso-8859-1" is not supported, events are UTF-8`},
		{"malformed", "application/json; =", "", `Content-Type "application/json; =": mime: invalid media parameter; ` + want},
		{"brotli", "application/json", "br", `Content-Encoding "br" is not supported: send gzip, or no Content-Encoding`},
		{"gzip twice", "application/json", "gzip, gzip", `Content-Encoding "gzip, gzip" is not supported: send gzip, or no Content-Encoding`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.post(t, c.contentType, []byte(ev("x", "signup")), func(req *http.Request) {
				if c.encoding != "" {
					req.Header.Set("Content-Encoding", c.encoding)
				}
			})
			require.Equal(t, c.want, r.failed(t, http.StatusUnsupportedMediaType))
		})
	}
	// "identity" is no encoding at all.
	r := b.post(t, "application/json", []byte(ev("y", "signup")), func(req *http.Request) { req.Header.Set("Content-Encoding", "identity") })
	require.Equal(t, 1, r.accepted(t).Accepted)
	b.drain(t, 1)
}

func TestMethodsAndPaths(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, err := http.NewRequest(m, b.url, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		r := b.do(t, req)
		require.Equal(t, "method "+m+" not allowed: send POST /v1/events", r.failed(t, http.StatusMethodNotAllowed))
		require.Equal(t, "POST", r.header.Get("Allow"))
	}

	r := b.post(t, "application/json", []byte(ev("x", "signup")), func(req *http.Request) { req.URL.Path = "/v1/event" })
	require.Equal(t, "no such endpoint /v1/event: send POST /v1/events (GET /healthz for health)", r.failed(t, http.StatusNotFound))

	// Health: no token needed.
	resp, err := http.Get("http://" + b.src.Addr() + "/healthz")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok\n", string(body))
	resp, err = http.Post("http://"+b.src.Addr()+"/healthz", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	st := b.src.Stats()
	require.Equal(t, Stats{Requests: 5, ClientErrors: 5}, st, "healthz is not counted")
	b.drain(t, 0)
}
