package emit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// eventServer implements the contract of sfbridge's http source (POST
// /v1/events) for tests, and counts what it sees by event id.
type eventServer struct {
	t    testing.TB
	srv  *httptest.Server
	addr string // host:port, also before start

	mu sync.Mutex
	// token is the bearer token the server takes.
	token string
	// maxBody bounds a request body (decompressed); above it, 413.
	maxBody int
	// reject returns a reason to reject an event, or "".
	reject func(fields map[string]any) string
	// unreadable makes the whole request a 400 when it returns true for
	// any event.
	unreadable func(fields map[string]any) bool
	// forced answers the next requests before any processing.
	forced []forcedAnswer
	// hang blocks requests until their context ends.
	hang bool

	inflight atomic.Int32

	accepted map[string]map[string]any // id → the event, as first accepted
	order    []string                  // ids in the order accepted
	seen     map[string]int            // id → times it arrived in any request
	dups     int
	requests []requestInfo
}

type forcedAnswer struct {
	status int
	header map[string]string
	body   string
}

type requestInfo struct {
	at      time.Time
	events  int
	gzipped bool
	rawSize int
	status  int
}

func newEventServer(t testing.TB, token string) *eventServer {
	s := &eventServer{t: t, token: token, maxBody: 10 << 20,
		accepted: map[string]map[string]any{}, seen: map[string]int{}}
	s.srv = httptest.NewServer(s)
	s.addr = s.srv.Listener.Addr().String()
	t.Cleanup(s.srv.Close)
	return s
}

// newDownServer returns a server whose address is reserved but which does
// not listen until start.
func newDownServer(t testing.TB, token string) *eventServer {
	s := &eventServer{t: t, token: token, maxBody: 10 << 20,
		accepted: map[string]map[string]any{}, seen: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(s)
	// Keep the port the unstarted server picked, but stop listening on it.
	addr := s.srv.Listener.Addr().String()
	s.srv.Listener.Close()
	s.srv.Listener = &lazyListener{addr: addr}
	s.addr = addr
	t.Cleanup(s.srv.Close)
	return s
}

// lazyListener stands in for the listener until start.
type lazyListener struct{ addr string }

func (l *lazyListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l *lazyListener) Close() error              { return nil }
func (l *lazyListener) Addr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", l.addr)
	return a
}

// start begins listening on the reserved address.
func (s *eventServer) start() {
	addr := s.addr
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port may linger briefly
	}
	require.NoError(s.t, err, "listen on %s", addr)
	s.srv.Listener = ln
	s.srv.Start()
}

func (s *eventServer) url() string { return "http://" + s.addr }

func (s *eventServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := requestInfo{at: time.Now(), gzipped: r.Header.Get("Content-Encoding") == "gzip"}
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, info)
		s.mu.Unlock()
	}()
	answer := func(status int, v any) {
		info.status = status
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/events" {
		answer(http.StatusNotFound, map[string]string{"error": "no such endpoint"})
		return
	}
	s.mu.Lock()
	if s.hang {
		s.mu.Unlock()
		io.Copy(io.Discard, r.Body) // then the server notices the client leave
		<-r.Context().Done()
		return
	}
	if len(s.forced) > 0 {
		f := s.forced[0]
		s.forced = s.forced[1:]
		s.mu.Unlock()
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		info.status = f.status
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
		return
	}
	token, maxBody, reject, unreadable := s.token, s.maxBody, s.reject, s.unreadable
	s.mu.Unlock()

	if r.Header.Get("Authorization") != "Bearer "+token {
		answer(http.StatusUnauthorized, map[string]string{"error": "invalid bearer token"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		answer(http.StatusUnsupportedMediaType, map[string]string{"error": "content type " + ct})
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		answer(http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	info.rawSize = len(raw)
	body := raw
	if info.gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, int64(maxBody)+1))
		}
		if err != nil {
			answer(http.StatusBadRequest, map[string]string{"error": "gzip: " + err.Error()})
			return
		}
	}
	if len(body) > maxBody {
		answer(http.StatusRequestEntityTooLarge, map[string]string{"error": "body over " + strconv.Itoa(maxBody) + " bytes"})
		return
	}
	type rejection struct {
		Index  int    `json:"index"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	var events []map[string]any
	var rejected []rejection
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, maxBody+1)
	for i := 0; sc.Scan(); i++ {
		var fields map[string]any
		if err := json.Unmarshal(sc.Bytes(), &fields); err != nil {
			rejected = append(rejected, rejection{Index: i, Reason: "not a JSON object: " + err.Error()})
			events = append(events, nil)
			continue
		}
		events = append(events, fields)
		if unreadable != nil && unreadable(fields) {
			answer(http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("line %d: unreadable", i+1)})
			return
		}
	}
	info.events = len(events)
	accepted, dups := 0, 0
	s.mu.Lock()
	for i, fields := range events {
		if fields == nil {
			continue
		}
		id, _ := fields["id"].(string)
		s.seen[id]++
		_, hasType := fields["type"].(string)
		switch {
		case id == "" || !hasType:
			rejected = append(rejected, rejection{Index: i, ID: id, Reason: "id and type are required"})
		case reject != nil && reject(fields) != "":
			rejected = append(rejected, rejection{Index: i, ID: id, Reason: reject(fields)})
		case s.accepted[id] != nil:
			dups++
			s.dups++
		default:
			accepted++
			s.accepted[id] = fields
			s.order = append(s.order, id)
		}
	}
	s.mu.Unlock()
	answer(http.StatusAccepted, map[string]any{"accepted": accepted, "duplicates": dups, "rejected": rejected})
}

func (s *eventServer) set(f func(s *eventServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *eventServer) snapshot() (accepted map[string]map[string]any, seen map[string]int, requests []requestInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	accepted = make(map[string]map[string]any, len(s.accepted))
	for k, v := range s.accepted {
		accepted[k] = v
	}
	seen = make(map[string]int, len(s.seen))
	for k, v := range s.seen {
		seen[k] = v
	}
	return accepted, seen, append([]requestInfo(nil), s.requests...)
}

func (s *eventServer) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// requireDelivered checks that the server accepted exactly ids, and each
// once (duplicates, counted apart, are allowed: the server drops them).
func (s *eventServer) requireDelivered(t *testing.T, ids []string) {
	t.Helper()
	accepted, _, _ := s.snapshot()
	s.mu.Lock()
	order := append([]string(nil), s.order...)
	s.mu.Unlock()
	require.Len(t, order, len(ids), "events accepted")
	want := map[string]bool{}
	for _, id := range ids {
		require.False(t, want[id], "id %s emitted twice", id)
		want[id] = true
		if accepted[id] == nil {
			require.Failf(t, "event not delivered", "id %s", id)
		}
	}
	for _, id := range order {
		if !want[id] {
			require.Failf(t, "unexpected event", "server accepted %s, which was not emitted", id)
		}
	}
}
