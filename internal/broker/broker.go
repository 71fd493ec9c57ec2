package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Embedded is the value of the `nats` config key that runs nats-server in-process.
const Embedded = "embedded"

// ErrUnreachable wraps every failure to reach an external NATS server, so the
// CLI can exit with code 3 (a dependency unreachable).
var ErrUnreachable = errors.New("nats unreachable")

// Options say which JetStream to open.
type Options struct {
	// URL is "embedded" or a comma-separated list of nats:// URLs.
	URL string
	// DataDir holds the embedded server's file store. Required when embedded.
	DataDir string
	// Name identifies this client to the server (shown in monitoring).
	Name string
	// ConnectTimeout bounds the first connection to an external server.
	// Zero means 5s.
	ConnectTimeout time.Duration
	// Logger receives connection events. Nil discards them.
	Logger *slog.Logger
	// ExtraOptions are appended to the client options (tests use them, e.g. for credentials).
	ExtraOptions []nats.Option
}

// Broker is an open JetStream: the client connection and, when embedded, the server.
type Broker struct {
	opts Options
	srv  *server.Server // nil when external
	nc   *nats.Conn
	js   jetstream.JetStream
	// closed is closed by the client once the connection is fully closed.
	closed chan struct{}
	// unlock releases the data_dir lock (embedded only).
	unlock func()
}

// Open starts (embedded) or connects to (external) the JetStream described by opts.
func Open(ctx context.Context, opts Options) (*Broker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Name == "" {
		opts.Name = "sfbridge"
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	b := &Broker{opts: opts, closed: make(chan struct{})}
	if opts.URL == Embedded || opts.URL == "" {
		if err := b.startEmbedded(); err != nil {
			b.shutdownServer()
			return nil, err
		}
	}
	if err := b.connect(ctx); err != nil {
		b.shutdownServer()
		return nil, err
	}
	return b, nil
}

func (b *Broker) startEmbedded() error {
	if b.opts.DataDir == "" {
		return errors.New("broker: embedded NATS needs a data_dir")
	}
	unlock, err := lockDataDir(b.opts.DataDir)
	if err != nil {
		return err
	}
	b.unlock = unlock
	storeDir := filepath.Join(b.opts.DataDir, "jetstream")
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return fmt.Errorf("broker: create store dir: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "sfbridge-embedded",
		DontListen: true,
		JetStream:  true,
		StoreDir:   storeDir,
		// JetStream's own limits: let the host's memory and disk decide.
		JetStreamMaxMemory: -1,
		JetStreamMaxStore:  -1,
		NoLog:              true,
		NoSigs:             true,
	})
	if err != nil {
		return fmt.Errorf("broker: embedded server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return errors.New("broker: embedded server not ready after 30s")
	}
	b.srv = srv
	return nil
}

func (b *Broker) connect(ctx context.Context) error {
	log := b.opts.Logger
	nopts := []nats.Option{
		nats.Name(b.opts.Name),
		nats.Timeout(b.opts.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats reconnected") }),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
	}
	url := b.opts.URL
	if b.srv != nil {
		nopts = append(nopts, nats.InProcessServer(b.srv))
		url = ""
	}
	nopts = append(nopts, b.opts.ExtraOptions...)
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		if b.srv != nil {
			return fmt.Errorf("broker: connect to embedded server: %w", err)
		}
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, redactURL(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	// Ask for the account info once: it fails fast when JetStream is off.
	actx, cancel := context.WithTimeout(ctx, b.opts.ConnectTimeout)
	defer cancel()
	if _, err := js.AccountInfo(actx); err != nil {
		nc.Close()
		if b.srv != nil {
			return fmt.Errorf("broker: embedded jetstream: %w", err)
		}
		return fmt.Errorf("%w: %s: jetstream not available: %v", ErrUnreachable, redactURL(url), err)
	}
	b.nc, b.js = nc, js
	return nil
}

// JetStream returns the JetStream context.
func (b *Broker) JetStream() jetstream.JetStream { return b.js }

// Conn returns the client connection.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// IsEmbedded reports whether the server runs in this process.
func (b *Broker) IsEmbedded() bool { return b.srv != nil }

// Describe names the broker for logs and summaries without credentials.
func (b *Broker) Describe() string {
	if b.srv != nil {
		return "embedded (" + filepath.Join(b.opts.DataDir, "jetstream") + ")"
	}
	return redactURL(b.opts.URL)
}

// Close drains the connection and, when embedded, shuts the server down
// after it has flushed its store.
func (b *Broker) Close() error {
	var err error
	if b.nc != nil {
		// Drain is asynchronous; wait for it so the server sees our acks.
		if err = b.nc.Drain(); err == nil {
			select {
			case <-b.closed:
			case <-time.After(10 * time.Second):
				b.nc.Close()
			}
		} else {
			b.nc.Close()
		}
	}
	b.shutdownServer()
	return err
}

func (b *Broker) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	if b.unlock != nil {
		b.unlock()
		b.unlock = nil
	}
}

// redactURL drops user:password from each URL of a comma-separated list.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "REDACTED@" + p[at+1:]
			}
		}
	}
	return strings.Join(parts, ",")
}
