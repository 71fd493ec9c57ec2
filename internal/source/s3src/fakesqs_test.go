package s3src

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeSQS is one SQS queue served over the AWS JSON 1.0 protocol that the
// SDK's sqs client speaks (POST /, Content-Type application/x-amz-json-1.0,
// X-Amz-Target: AmazonSQS.<Operation>): ReceiveMessage with long polling
// and a visibility timeout, and DeleteMessage. It is a test double of AWS,
// not of our code; it refuses requests that real SQS would refuse.
type fakeSQS struct {
	srv *httptest.Server
	// url is the queue's URL.
	url string
	// visibility is how long a received message stays hidden.
	visibility time.Duration

	mu   sync.Mutex
	msgs []*sqsMessage
	seq  int
	// wake is closed (and replaced) when a message is sent.
	wake chan struct{}
	// onDelete runs (outside the lock) when a message is deleted.
	onDelete func(body string)
	// problems lists the requests refused as malformed.
	problems []string
}

type sqsMessage struct {
	id, body, receipt string
	visibleAt         time.Time
	received          int
	deleted           bool
}

func newFakeSQS(t testing.TB) *fakeSQS {
	t.Helper()
	f := &fakeSQS{visibility: 30 * time.Second, wake: make(chan struct{})}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	f.url = f.srv.URL + "/123456789012/s3-events"
	return f
}

// send enqueues a message and returns its ID.
func (f *fakeSQS) send(body string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	m := &sqsMessage{id: fmt.Sprintf("msg-%d", f.seq), body: body}
	f.msgs = append(f.msgs, m)
	close(f.wake)
	f.wake = make(chan struct{})
	return m.id
}

// state reports whether the message was deleted and how often it was
// received.
func (f *fakeSQS) state(id string) (deleted bool, received int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.id == id {
			return m.deleted, m.received
		}
	}
	return false, 0
}

func (f *fakeSQS) protocolProblems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.problems...)
}

func (f *fakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, code, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		f.mu.Lock()
		f.problems = append(f.problems, code+": "+msg)
		f.mu.Unlock()
		sqsError(w, status, code, msg)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		refuse(http.StatusNotFound, "InvalidAction", "%s %s: the JSON protocol posts to /", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		refuse(http.StatusBadRequest, "InvalidAction", "content type %q, want application/x-amz-json-1.0", ct)
		return
	}
	if r.Header.Get("Authorization") == "" {
		refuse(http.StatusForbidden, "MissingAuthenticationToken", "the request is not signed")
		return
	}
	var req struct {
		QueueUrl            string
		MaxNumberOfMessages int
		WaitTimeSeconds     int
		VisibilityTimeout   int
		ReceiptHandle       string
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		refuse(http.StatusBadRequest, "InvalidParameterValue", "body: %v", err)
		return
	}
	if req.QueueUrl != f.url {
		refuse(http.StatusBadRequest, "QueueDoesNotExist", "no queue %q", req.QueueUrl)
		return
	}
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "AmazonSQS.ReceiveMessage":
		f.receive(w, r, req.MaxNumberOfMessages, req.WaitTimeSeconds)
	case "AmazonSQS.DeleteMessage":
		f.delete(w, req.ReceiptHandle)
	default:
		refuse(http.StatusBadRequest, "InvalidAction", "X-Amz-Target %q is not served here", target)
	}
}

func (f *fakeSQS) receive(w http.ResponseWriter, r *http.Request, max, wait int) {
	if max < 1 || max > 10 {
		max = 1
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	type out struct {
		MessageId, ReceiptHandle, MD5OfBody, Body string
	}
	for {
		f.mu.Lock()
		now := time.Now()
		var got []out
		next := deadline
		for _, m := range f.msgs {
			if m.deleted {
				continue
			}
			if m.visibleAt.After(now) {
				if m.visibleAt.Before(next) {
					next = m.visibleAt
				}
				continue
			}
			if len(got) == max {
				break
			}
			m.received++
			m.visibleAt = now.Add(f.visibility)
			m.receipt = fmt.Sprintf("%s-receipt-%d", m.id, m.received)
			sum := md5.Sum([]byte(m.body))
			got = append(got, out{m.id, m.receipt, hex.EncodeToString(sum[:]), m.body})
		}
		wake := f.wake
		f.mu.Unlock()
		if len(got) > 0 || !now.Before(deadline) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			body := map[string]any{}
			if len(got) > 0 {
				body["Messages"] = got
			}
			_ = json.NewEncoder(w).Encode(body)
			return
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-wake:
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

func (f *fakeSQS) delete(w http.ResponseWriter, receipt string) {
	f.mu.Lock()
	var found *sqsMessage
	for _, m := range f.msgs {
		if m.receipt == receipt && receipt != "" {
			found = m
		}
	}
	if found == nil {
		f.mu.Unlock()
		sqsError(w, http.StatusBadRequest, "ReceiptHandleIsInvalid", "unknown receipt handle "+receipt)
		return
	}
	found.deleted = true
	hook := f.onDelete
	f.mu.Unlock()
	if hook != nil {
		hook(found.body)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = w.Write([]byte("{}"))
}

// sqsError writes an error as the JSON protocol does.
func sqsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", code+";Sender")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}

// s3Event is the body S3 sends for one created object (the key
// URL-encoded as S3 does: spaces as '+').
func s3Event(bucket, key string) string {
	body, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1",
		"eventSource":  "aws:s3",
		"eventName":    "ObjectCreated:Put",
		"s3": map[string]any{
			"bucket": map[string]any{"name": bucket, "arn": "arn:aws:s3:::" + bucket},
			"object": map[string]any{"key": formEncode(key), "size": 10, "sequencer": "0055AED6DCD90281E5"},
		},
	}}})
	return string(body)
}
