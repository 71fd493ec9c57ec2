package emit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logBuffer collects a Client's log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines containing every one of subs.
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

type bundle struct {
	dir string
	log *logBuffer
}

// testConfig is a Config for tests: a fresh spool, fast backoff, a
// captured log.
func testConfig(t *testing.T, sink Sink) (Config, *bundle) {
	t.Helper()
	b := &bundle{dir: filepath.Join(t.TempDir(), "spool"), log: &logBuffer{}}
	return Config{
		SpoolDir:   b.dir,
		Sink:       sink,
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Linger:     5 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, b
}

// open starts a Client, closed at the end of the test.
func open(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func httpSink(t *testing.T, url, token string) *HTTPSink {
	t.Helper()
	s, err := NewHTTPSink(url, token, HTTPOptions{Timeout: 5 * time.Second})
	require.NoError(t, err)
	return s
}

// emitN emits n events of type typ and returns their ids.
func emitN(t *testing.T, c *Client, n int, typ string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := c.Emit(t.Context(), Event{Type: typ, Key: fmt.Sprintf("v-%d", i%7), Data: map[string]any{"n": i}})
		require.NoError(t, err)
		ids[i] = id
	}
	return ids
}

func flush(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Flush(ctx))
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// segments lists the spool's segment files.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	require.NoError(t, err)
	return m
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}
