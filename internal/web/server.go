package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// cookieName holds the dashboard session (a hash of the token, never the token).
const cookieName = "sfbridge_session"

// Options configure a Server.
type Options struct {
	// Listen is the address, e.g. "127.0.0.1:8080" (":0" picks a port).
	Listen string
	// Token is the admin token; empty means generate one (see Token()).
	Token string
	// Provider supplies status and readiness.
	Provider Provider
	// Gatherer is the Prometheus registry served at /metrics (nil: none).
	Gatherer prometheus.Gatherer
	// Mounts are extra authenticated handlers by ServeMux pattern, e.g. the
	// sources' trigger handler at "/v1/sources/".
	Mounts map[string]http.Handler
	Logger *slog.Logger
}

// Server is the admin HTTP server.
type Server struct {
	opts  Options
	token string
	srv   *http.Server
	ln    net.Listener
	done  chan error
}

// New checks opts and prepares the server; Start listens.
func New(opts Options) (*Server, error) {
	if opts.Provider == nil {
		return nil, errors.New("web: a Provider is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	token := opts.Token
	if token == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		token = hex.EncodeToString(b[:])
	}
	s := &Server{opts: opts, token: token}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Token is the admin token in force (generated when the config set none).
func (s *Server) Token() string { return s.token }

// Handler is the server's routes, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := s.opts.Provider.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /login", s.login)
	mux.Handle("GET /v1/status", s.auth(http.HandlerFunc(s.status)))
	mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.dashboard)))
	if s.opts.Gatherer != nil {
		mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{})))
	}
	for pattern, h := range s.opts.Mounts {
		mux.Handle(pattern, s.auth(h))
	}
	return securityHeaders(mux)
}

// Start listens and serves in the background. The address actually bound
// is Addr().
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("admin server: listen on %s: %w", s.opts.Listen, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return nil
}

// Addr is the address the server listens on ("" before Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// DashboardURL is the URL that logs a browser in and opens the dashboard.
// It carries the token: print it to the operator's terminal, never to a log.
func (s *Server) DashboardURL() string {
	host := s.Addr()
	if h, p, err := net.SplitHostPort(host); err == nil && (h == "" || h == "::" || h == "0.0.0.0") {
		host = net.JoinHostPort("127.0.0.1", p)
	}
	return "http://" + host + "/login?token=" + s.token
}

// Stop shuts the server down, waiting for requests in flight until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}

// auth lets a request through with the bearer token or the session cookie.
func (s *Server) auth(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.token))
	session := s.session()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got := sha256.Sum256([]byte(bearer))
			if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
				next.ServeHTTP(w, r)
				return
			}
		} else if c, err := r.Cookie(cookieName); err == nil &&
			subtle.ConstantTimeCompare([]byte(c.Value), []byte(session)) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="sfbridge"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "the admin token is required: Authorization: Bearer <token>, or open /login?token=<token> in a browser",
		})
	})
}

// session is the cookie value: derived from the token, so it is stable for
// the process and reveals nothing about the token.
func (s *Server) session() string {
	h := sha256.Sum256([]byte("sfbridge-session\x00" + s.token))
	return hex.EncodeToString(h[:])
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	got := sha256.Sum256([]byte(r.URL.Query().Get("token")))
	want := sha256.Sum256([]byte(s.token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong or missing token"})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: s.session(), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	// Redirect so the token leaves the address bar and the history.
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.opts.Provider.Status(r.Context()))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
