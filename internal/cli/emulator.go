package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

type emulatorFlags struct {
	addr       string
	schema     string
	faults     string
	tls        bool
	tlsCertOut string
	jwtKeyOut  string
	seed       int64
	sessionTTL time.Duration
}

func newEmulatorCmd(stdio IO) *cobra.Command {
	var f emulatorFlags
	cmd := &cobra.Command{
		Use:   "emulator [--addr HOST:PORT] [--schema FILE] [--faults FILE] [--tls] [--seed N]",
		Short: "Serve a Salesforce API emulator that real Salesforce clients can log in to",
		Long: `Emulator serves an in-memory Salesforce org over HTTP until it is stopped
(SIGTERM or Ctrl-C): OAuth 2.0 (client credentials, password, refresh token, JWT
bearer), REST sObjects, Collections, Composite, SOQL, describe, limits and Bulk
API 2.0. Point any Salesforce client at the printed login URL with the printed
demo credentials; they are the emulator's own and open nothing else.

--schema reads the org's objects (and an optional auth: section with connected
apps and users); --faults injects failures (record errors, 5xx, latency, limits,
outages). Both can be changed at runtime through the admin endpoints under
/__emulator, described with every knob in docs/emulator.md.

--tls serves https with a freshly generated self-signed certificate for
127.0.0.1, ::1, localhost and the --addr host; --tls-cert-out writes it for
clients to trust.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEmulator(cmd.Context(), stdio, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8443", "address to listen on (port 0 picks a free port)")
	fl.StringVar(&f.schema, "schema", "", "org file: objects and an optional auth: section (default: the built-in org)")
	fl.StringVar(&f.faults, "faults", "", "fault file, YAML or JSON")
	fl.BoolVar(&f.tls, "tls", false, "serve https with a generated self-signed certificate")
	fl.StringVar(&f.tlsCertOut, "tls-cert-out", "", "with --tls: write the certificate (PEM) to this file")
	fl.StringVar(&f.jwtKeyOut, "jwt-key-out", "", "write the demo connected app's JWT signing key (PEM) to this file")
	fl.Int64Var(&f.seed, "seed", 1, "seed for everything random (Ids, tokens, probabilistic faults)")
	fl.DurationVar(&f.sessionTTL, "session-ttl", 2*time.Hour, "access token lifetime; negative: never expire")
	return cmd
}

// emulatorSetup is everything decided before listening.
type emulatorSetup struct {
	opts   sfemu.Options
	faults *sfemu.FaultConfig
	host   string
}

// prepareEmulator checks the flags and reads the files: every problem
// here is invalid input (exit 2).
func prepareEmulator(f emulatorFlags, logger *slog.Logger) (*emulatorSetup, error) {
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return nil, Invalid(fmt.Errorf("--addr %q: %w", f.addr, err))
	}
	if f.sessionTTL == 0 {
		return nil, Invalid(errors.New("--session-ttl: must not be 0 (negative: never expire)"))
	}
	if f.tlsCertOut != "" && !f.tls {
		return nil, Invalid(errors.New("--tls-cert-out needs --tls"))
	}
	s := &emulatorSetup{host: host, opts: sfemu.Options{Seed: f.seed, SessionTTL: f.sessionTTL, Logger: logger}}
	if f.schema != "" {
		schema, auth, err := sfemu.LoadOrgFile(f.schema)
		if err != nil {
			return nil, Invalid(err)
		}
		s.opts.Schema, s.opts.Auth = schema, auth
		if len(auth.Users) > 0 {
			s.opts.Username = auth.Users[0].Username
		}
	}
	if f.jwtKeyOut != "" && !slices.ContainsFunc(s.opts.Auth.Apps, sfemu.ConnectedApp.IsDemo) && len(s.opts.Auth.Apps) > 0 {
		return nil, Invalid(errors.New("--jwt-key-out: the org file configures its own connected apps, so there is no demo key"))
	}
	if f.faults != "" {
		cfg, err := sfemu.LoadFaults(f.faults)
		if err != nil {
			return nil, Invalid(err)
		}
		s.faults = &cfg
	}
	return s, nil
}

func runEmulator(ctx context.Context, stdio IO, f emulatorFlags) error {
	logger := slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	setup, err := prepareEmulator(f, logger)
	if err != nil {
		return err
	}
	emu := sfemu.New(setup.opts)
	if setup.faults != nil {
		if err := emu.Faults().Set(*setup.faults); err != nil {
			return Invalid(fmt.Errorf("faults %s: %w", f.faults, err))
		}
	}
	var cert *sfemu.TLSCert
	if f.tls {
		hosts := append([]string(nil), sfemu.DefaultTLSHosts...)
		if setup.host != "" && !slices.Contains(hosts, setup.host) {
			hosts = append(hosts, setup.host)
		}
		if cert, err = sfemu.GenerateTLSCert(time.Now(), hosts...); err != nil {
			return err
		}
		if f.tlsCertOut != "" {
			if err := cert.WritePEM(f.tlsCertOut); err != nil {
				return err
			}
		}
	}
	if f.jwtKeyOut != "" {
		pemKey, err := sfemu.DemoJWTKeyPEM()
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.jwtKeyOut, pemKey, 0o600); err != nil {
			return fmt.Errorf("--jwt-key-out: %w", err)
		}
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is already in use (another emulator running?); pick another with --addr", f.addr)
		}
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	if cert != nil {
		ln = tls.NewListener(ln, cert.ServerConfig())
	}
	srv := &http.Server{
		Handler:           emu,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if err := printEmulatorBanner(stdio.Out, emu, setup, f, ln.Addr()); err != nil {
		_ = srv.Close()
		return err
	}
	if ip := net.ParseIP(setup.host); setup.host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		logger.Warn("the emulator listens beyond loopback: its admin endpoints need no authentication", "addr", ln.Addr().String())
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	<-served
	return nil
}

// printEmulatorBanner prints where the emulator is and how to log in. The
// built-in demo credentials are printed (they are the emulator's own);
// secrets from an org file are not.
func printEmulatorBanner(w io.Writer, emu *sfemu.Emulator, s *emulatorSetup, f emulatorFlags, addr net.Addr) error {
	scheme := "http"
	if f.tls {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := scheme + "://" + net.JoinHostPort(host, port)
	org := emu.Org()
	userID, username := org.DefaultUser()
	auth := s.opts.Auth.WithDefaults(username)

	p := &printer{w: w}
	p.f("sfbridge emulator: Salesforce API emulator listening on %s\n", url)
	p.f("  login URL (token endpoint %s/services/oauth2/token) and instance URL: %s\n", url, url)
	p.f("  org %s, user %s (%s)\n", org.ID(), username, userID)
	for _, app := range auth.Apps {
		if app.IsDemo() {
			p.f("  connected app %q: client_id=%s client_secret=%s\n", app.Name, app.ClientID, app.ClientSecret)
		} else {
			p.f("  connected app %q: client_id=%s (secret as configured)\n", app.Name, app.ClientID)
		}
	}
	for _, u := range auth.Users {
		if len(s.opts.Auth.Users) == 0 {
			p.f("  user: username=%s password=%s\n", u.Username, u.Password)
		} else {
			p.f("  user: username=%s (password as configured)\n", u.Username)
		}
	}
	if len(s.opts.Auth.Apps) == 0 || len(s.opts.Auth.Users) == 0 {
		p.f("  (these demo credentials are the emulator's own, not secrets of any real org)\n")
	}
	p.f("  access token for scripts: curl -X POST %s/__emulator/token\n", url)
	p.f("  admin endpoints: %s/__emulator (records, counters, reset, limits, faults)\n", url)
	if f.jwtKeyOut != "" {
		p.f("  JWT bearer: demo signing key written to %s\n", f.jwtKeyOut)
	}
	if f.tls {
		if f.tlsCertOut != "" {
			p.f("  TLS: self-signed certificate written to %s (trust it, e.g. NODE_EXTRA_CA_CERTS=%s)\n", f.tlsCertOut, f.tlsCertOut)
		} else {
			p.f("  TLS: self-signed certificate (write it for clients with --tls-cert-out)\n")
		}
	}
	if s.faults != nil {
		c := s.faults
		p.f("  faults from %s: %d record, %d http, %d latency rules", f.faults, len(c.Records), len(c.HTTP), len(c.Latency))
		if c.Concurrency != nil {
			p.f(", at most %d concurrent calls", c.Concurrency.Max)
		}
		if c.Outage != nil {
			p.f(", outage (%s) for %s after %s", c.Outage.Mode, time.Duration(c.Outage.Duration), time.Duration(c.Outage.Delay))
		}
		p.f("\n")
	}
	return p.err
}

// printer writes formatted lines and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
