package httpsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sfbridge/sfbridge/internal/event"
	"github.com/sfbridge/sfbridge/internal/queue"
)

// answer is how a request ended, for the response, the log and the stats.
type answer struct {
	status int
	body   any
	// err is what went wrong, for the log (never the body or the token).
	err error
}

// fail is an ErrorResponse answer.
func fail(status int, format string, args ...any) answer {
	err := fmt.Errorf(format, args...)
	body := ErrorResponse{Error: err.Error()}
	if status == http.StatusBadRequest {
		body.Rejected = &[]Rejection{}
	}
	return answer{status: status, body: body, err: err}
}

// serveEvents handles /v1/events: see the package documentation.
func (s *Source) serveEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	remote := clientIP(r)
	w.Header().Set("X-Request-Id", id)
	body := &tap{limit: -1}
	a := s.handle(w, r, id, remote, body)
	writeJSON(w, a.status, a.body)

	s.requests.Add(1)
	s.bytes.Add(body.n)
	switch {
	case a.status >= 500:
		s.serverErrs.Add(1)
	case a.status >= 400:
		s.clientErrs.Add(1)
	}
	level := slog.LevelDebug
	if a.status >= 500 {
		level = slog.LevelWarn
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request", id), slog.String("remote", remote),
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", a.status), slog.Int64("bytes", body.n),
		slog.Duration("duration", time.Since(start)),
	}
	if resp, ok := a.body.(Response); ok { // a 202
		attrs = append(attrs, slog.Int("accepted", resp.Accepted), slog.Int("duplicates", resp.Duplicates), slog.Int("rejected", len(resp.Rejected)))
	}
	if a.err != nil {
		attrs = append(attrs, slog.String("err", a.err.Error()))
	}
	s.log.LogAttrs(r.Context(), level, "http: request", attrs...)
}

// handle checks the request, reads its events and queues the good ones.
// body receives the request body once it is read.
func (s *Source) handle(w http.ResponseWriter, r *http.Request, id, remote string, body *tap) answer {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(http.StatusMethodNotAllowed, "method %s not allowed: send POST /v1/events", r.Method)
	}
	// Before anything of the body is read.
	if err := s.authorize(r.Header.Values("Authorization")); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sfbridge"`)
		return fail(http.StatusUnauthorized, "%v", err)
	}
	format, err := contentFormat(r.Header.Get("Content-Type"))
	if err != nil {
		return fail(http.StatusUnsupportedMediaType, "%v", err)
	}
	gz, err := contentEncoding(r.Header.Values("Content-Encoding"))
	if err != nil {
		return fail(http.StatusUnsupportedMediaType, "%v", err)
	}
	if err := s.admit(); err != nil {
		retry := s.retryAfter
		if errors.Is(err, errBusy) {
			retry = "1"
		}
		w.Header().Set("Retry-After", retry)
		return fail(http.StatusServiceUnavailable, "%v; retry after %s s", err, retry)
	}
	defer s.release()
	if r.ContentLength > s.maxBody {
		return s.tooLarge(fmt.Errorf("Content-Length %d", r.ContentLength))
	}
	received := s.now()

	body.r = http.MaxBytesReader(w, r.Body, s.maxBody)
	var unzipped *tap
	in, err := event.Open(body, gz)
	if err != nil {
		if a, broken := s.readFailure(body, nil); broken {
			return a
		}
		return fail(http.StatusBadRequest, "%v", err)
	}
	if gz {
		unzipped = &tap{r: in, limit: s.maxBody}
		in = unzipped
	}
	rd := event.NewReader(in, format, s.intake.Spec)
	meta := map[string]string{"request": id, "remote": remote}
	bt, failed := s.readEvents(rd, body, unzipped, received, meta)
	if failed != nil {
		return *failed
	}
	msgs := bt.msgs

	// Invariant 1: the 202 goes out only once the broker has stored every
	// accepted event. One Publish for the whole request.
	if len(msgs) > 0 {
		ctx, cancel := context.WithTimeout(s.hard, s.publishTimeout)
		err := s.intake.Publish(ctx, msgs)
		ctxErr := ctx.Err()
		cancel()
		if err != nil {
			w.Header().Set("Retry-After", s.retryAfter)
			why := "the queue is unavailable"
			switch {
			case errors.Is(ctxErr, context.DeadlineExceeded):
				why = fmt.Sprintf("the queue did not confirm them within %s", s.publishTimeout)
			case ctxErr != nil:
				why = "the source is stopping"
			}
			a := fail(http.StatusServiceUnavailable, "%s not queued: %s; resend the whole request after %s s", count(len(msgs)), why, s.retryAfter)
			a.err = fmt.Errorf("%s not queued: %w", count(len(msgs)), err)
			return a
		}
	}
	s.accepted.Add(int64(len(msgs)))
	s.duplicates.Add(int64(bt.duplicates))
	s.rejected.Add(int64(len(bt.rejected)))
	return answer{status: http.StatusAccepted, body: Response{Accepted: len(msgs), Duplicates: bt.duplicates, Rejected: bt.rejected}}
}

// batch is what a request's body holds.
type batch struct {
	msgs       []queue.Message // to queue, in order, without duplicates
	rejected   []Rejection
	duplicates int
}

// readEvents reads every event of rd into a batch; a body that cannot be
// read, or is not events as a whole, is the answer instead.
func (s *Source) readEvents(rd *event.Reader, body, unzipped *tap, received time.Time, meta map[string]string) (batch, *answer) {
	b := batch{rejected: []Rejection{}}
	seen := map[string]struct{}{}
	reject := func(index int, id, reason string) {
		b.rejected = append(b.rejected, Rejection{Index: index, ID: id, Reason: reason})
	}
	for {
		ev, err := rd.Next()
		// A body cut short, over the limit or not gzip after all is the
		// request's failure, whatever the Reader made of it.
		if a, broken := s.readFailure(body, unzipped); broken {
			return b, &a
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		var ie *event.ItemError
		switch {
		case err == nil:
			meta["index"] = strconv.Itoa(ev.Loc.Index)
			msg, err := s.intake.Message(ev, received, meta)
			if err != nil {
				reject(ev.Loc.Index, ev.ID, reason(err))
				break
			}
			if size := len(msg.Data) + len(msg.ID) + 64; s.maxMsg > 0 && size > s.maxMsg {
				// 64 bytes cover the ID header's framing.
				reject(ev.Loc.Index, ev.ID, fmt.Sprintf("its record is %d bytes, more than the queue's largest message (%d bytes)", size, s.maxMsg))
				break
			}
			if err := queue.CheckMessage(queue.InRoot, msg); err != nil {
				reject(ev.Loc.Index, ev.ID, "the queue cannot hold it: "+err.Error())
				break
			}
			// The message ID derives from the source, type, id and
			// time: the same ID is the same event sent twice.
			if _, dup := seen[msg.ID]; dup {
				b.duplicates++
				break
			}
			seen[msg.ID] = struct{}{}
			b.msgs = append(b.msgs, msg)
		case errors.As(err, &ie):
			reject(ie.Loc.Index, ie.ID, ie.Reason)
		default: // an *event.InputError: the body as a whole is not events
			a := fail(http.StatusBadRequest, "%v", err)
			return b, &a
		}
		if len(b.rejected) > s.maxRejected {
			first := b.rejected[0]
			a := fail(http.StatusBadRequest, "more than %d events rejected, nothing queued; the first, event %d: %s", s.maxRejected, first.Index, first.Reason)
			return b, &a
		}
	}
}

// count renders n events: "1 event", "3 events".
func count(n int) string {
	if n == 1 {
		return "1 event"
	}
	return strconv.Itoa(n) + " events"
}

// reason is an Intake.Message error without the event's location (the
// response gives its index).
func reason(err error) string {
	if u := errors.Unwrap(err); u != nil {
		return u.Error()
	}
	return err.Error()
}
