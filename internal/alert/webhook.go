package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/retry"
)

// maxQueued bounds the messages waiting for one channel; past it the oldest
// is dropped (and logged): a webhook down for hours must not eat memory.
const maxQueued = 1000

// webhook sends one channel's messages in order, one at a time.
type webhook struct {
	name    string
	url     config.Secret
	timeout time.Duration
	client  *http.Client
	policy  retry.Policy
	tries   int
	log     *slog.Logger

	mu      sync.Mutex
	queue   []Message
	wake    chan struct{}
	sent    int
	failed  int
	dropped int
}

func (w *webhook) enqueue(msgs ...Message) {
	if len(msgs) == 0 {
		return
	}
	w.mu.Lock()
	for _, m := range msgs {
		if len(w.queue) == maxQueued {
			w.queue = w.queue[1:]
			w.dropped++
			w.log.Warn("alert: too many messages waiting; dropped the oldest", "alert", w.name)
		}
		w.queue = append(w.queue, m)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *webhook) pop() (Message, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return Message{}, false
	}
	m := w.queue[0]
	w.queue = w.queue[1:]
	return m, true
}

func (w *webhook) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// run sends queued messages until ctx ends; then it sends what is still
// queued while drain is open, each with one try.
func (w *webhook) run(ctx context.Context, drain context.Context) {
	for {
		for {
			m, ok := w.pop()
			if !ok {
				break
			}
			if ctx.Err() != nil {
				w.send(drain, drain, m, 1)
				continue
			}
			w.send(ctx, drain, m, w.tries)
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			if w.pending() == 0 {
				return
			}
		}
	}
}

// send posts m, retrying up to tries times. It gives up early on an answer
// that retrying cannot change (4xx but 408 and 429) or when ctx ends; a
// send cut short by ctx (Stop) gets the one try under drain that Stop
// promises every message already due.
func (w *webhook) send(ctx, drain context.Context, m Message, tries int) {
	body, err := json.Marshal(m)
	if err != nil {
		w.log.Error("alert: cannot encode the message", "alert", w.name, "err", err)
		return
	}
	var last error
	for attempt := 1; attempt <= tries; attempt++ {
		retryable := false
		last, retryable = w.post(ctx, body)
		if last != nil && ctx.Err() != nil && ctx != drain && drain.Err() == nil {
			last, retryable = w.post(drain, body) // cut short by Stop: its one try
		}
		if last == nil {
			w.mu.Lock()
			w.sent++
			w.mu.Unlock()
			return
		}
		if !retryable || attempt == tries || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(w.policy.Delay(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	w.log.Error("alert: webhook call failed; the message is lost", "alert", w.name, "event", string(m.Event), "status", string(m.Status), "sync", m.Sync, "err", last)
	w.mu.Lock()
	w.failed++
	w.mu.Unlock()
}

// post makes one call and says whether a failure is worth retrying.
func (w *webhook) post(ctx context.Context, body []byte) (err error, retryable bool) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url.Reveal(), bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid webhook URL"), false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sfbridge")
	resp, err := w.client.Do(req)
	if err != nil {
		return scrub(err), true
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil, false
	}
	err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return err, true
	}
	return err, false
}

// scrub drops the URL from an HTTP client error: a webhook URL is a secret.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s webhook: %w", ue.Op, ue.Err)
	}
	return err
}
