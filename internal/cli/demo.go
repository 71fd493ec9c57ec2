package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/emit"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/engine"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

type demoFlags struct {
	dataDir     string
	admin       string
	emulator    string
	orgs        int
	counselors  int
	changeEvery time.Duration
	duration    time.Duration
	events      string
	eventEvery  time.Duration
}

func newDemoCmd(stdio IO) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run everything on this machine: Postgres sample data → queue → Salesforce emulator, with a dashboard",
		Long: `Demo runs the real daemon on sample data with nothing but this machine:
an embedded NATS JetStream for the queue and state, the Salesforce emulator on a
loopback port, and a demo schema (` + demo.Schema + `) created in the local PostgreSQL
(SFBRIDGE_DEMO_DATABASE_URL, default ` + demo.DefaultDatabaseURL + `) with
sample organisations and counselors and a trickle of changes. It prints the
dashboard URL and what is happening; Ctrl-C stops it (drained, as run does).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), stdio, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "where the config and the queue live (default: a new temporary directory)")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:8080", "admin server (dashboard) address")
	fl.StringVar(&f.emulator, "emulator", "127.0.0.1:0", "Salesforce emulator address")
	fl.IntVar(&f.orgs, "orgs", 20, "sample organisations (→ Account)")
	fl.IntVar(&f.counselors, "counselors", 2000, "sample counselors (→ Contact)")
	fl.DurationVar(&f.changeEvery, "change-every", 500*time.Millisecond, "how often the sample application changes a row (0: never)")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	fl.StringVar(&f.events, "events", "127.0.0.1:8081", `address of the application events endpoint (http source "app"; "" for none)`)
	fl.DurationVar(&f.eventEvery, "event-every", 2*time.Second, "how often the sample application emits a rescue event (0: never)")
	return cmd
}

func runDemo(ctx context.Context, stdio IO, f demoFlags) error {
	if f.orgs < 1 || f.counselors < 1 {
		return Invalid(errors.New("demo: --orgs and --counselors must be at least 1"))
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	out := stdio.Out
	dir := f.dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "sfbridge-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}

	dbURL := demo.DatabaseURL()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return Unreachable(fmt.Errorf("demo: PostgreSQL at %s: %v (start it with scripts/services.sh, or set SFBRIDGE_DEMO_DATABASE_URL)", demoDSN(dbURL), err))
	}
	defer conn.Close(context.Background())
	fmt.Fprintf(out, "demo: creating schema %s with %d organisations and %d counselors in %s\n", demo.Schema, f.orgs, f.counselors, demoDSN(dbURL))
	if err := demo.Setup(ctx, conn, demo.Schema, f.orgs, f.counselors); err != nil {
		return err
	}

	emu := sfemu.New(sfemu.Options{})
	ln, err := net.Listen("tcp", f.emulator)
	if err != nil {
		return fmt.Errorf("demo: emulator: %w", err)
	}
	emuSrv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = emuSrv.Serve(ln) }()
	defer emuSrv.Close()
	emuURL := "http://" + ln.Addr().String()

	var (
		cfg       *config.Config
		path      string
		tokenPath = filepath.Join(dir, "events-token")
	)
	if f.events == "" {
		cfg, path, err = demo.WriteConfig(dir, emuURL, f.admin, dbURL, demo.Schema)
	} else {
		token := rand.Text()
		if err := os.WriteFile(tokenPath, []byte(token+"\n"), 0o600); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		cfg, path, err = demo.WriteConfigWithEvents(dir, emuURL, f.admin, dbURL, demo.Schema, f.events, token)
	}
	if err != nil {
		return fmt.Errorf("demo: config: %w", err)
	}
	fmt.Fprintf(out, "demo: Salesforce emulator at %s (records: %s/__emulator/records/Contact)\n", emuURL, emuURL)
	fmt.Fprintf(out, "demo: config written to %s\n", path)

	log := slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The sample application's loops end before the connection closes and
	// runDemo returns.
	loopCtx, stopLoops := context.WithCancel(ctx)
	var loops sync.WaitGroup
	defer loops.Wait()
	defer stopLoops()
	return runEngine(ctx, cfg, log, out, func(eng *engine.Engine) {
		ctx := loopCtx
		fmt.Fprintln(out, "demo: the sample application changes a counselor now and then; watch the dashboard, Ctrl-C to stop")
		loops.Go(func() { changeLoop(ctx, conn, f, out) })
		loops.Go(func() { progressLoop(ctx, eng, emu, out) })
		if f.events != "" {
			fmt.Fprintf(out, "demo: application events: POST http://%s/v1/events with the bearer token in %s; the sample application emits a rescue event every %s (emit package), each becomes a Case. Try:\n", eng.SourceAddr("app"), tokenPath, f.eventEvery)
			fmt.Fprintf(out, "  curl -sS http://%s/v1/events -H \"Authorization: Bearer $(cat %s)\" -H 'Content-Type: application/json' -d '{\"id\":\"try-1\",\"type\":\"rescue.first_active\",\"time\":\"%s\",\"counselor_id\":\"1\",\"severity\":2}'\n",
				eng.SourceAddr("app"), tokenPath, time.Now().UTC().Format(time.RFC3339))
			addr := eng.SourceAddr("app")
			loops.Go(func() { eventLoop(ctx, addr, tokenPath, filepath.Join(dir, "spool"), f, out) })
		}
	})
}

// changeLoop plays the application: small changes at f.changeEvery.
func changeLoop(ctx context.Context, conn *pgx.Conn, f demoFlags, out io.Writer) {
	if f.changeEvery <= 0 {
		return
	}
	rnd := mrand.New(mrand.NewPCG(1, 2))
	t := time.NewTicker(f.changeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := demo.Change(ctx, conn, demo.Schema, rnd, f.counselors); err != nil && ctx.Err() == nil {
				fmt.Fprintf(out, "demo: change failed: %v\n", err)
			}
		}
	}
}

// eventLoop plays the application's event side: a rescue event for a random
// counselor every f.eventEvery, sent through the emit package.
func eventLoop(ctx context.Context, addr, tokenPath, spool string, f demoFlags, out io.Writer) {
	if f.eventEvery <= 0 {
		return
	}
	token, err := os.ReadFile(tokenPath)
	if err != nil {
		fmt.Fprintf(out, "demo: events: %v\n", err)
		return
	}
	sink, err := emit.NewHTTPSink("http://"+addr, strings.TrimSpace(string(token)), emit.HTTPOptions{})
	if err != nil {
		fmt.Fprintf(out, "demo: events: %v\n", err)
		return
	}
	client, err := emit.New(emit.Config{SpoolDir: spool, Sink: sink})
	if err != nil {
		fmt.Fprintf(out, "demo: events: %v\n", err)
		return
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Close(closeCtx)
	}()
	rnd := mrand.New(mrand.NewPCG(3, 4))
	t := time.NewTicker(f.eventEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, err := client.Emit(ctx, emit.Event{Type: "rescue.first_active", Data: map[string]any{
				"counselor_id": strconv.Itoa(rnd.IntN(f.counselors) + 1),
				"severity":     rnd.IntN(5) + 1,
			}})
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(out, "demo: emit failed: %v\n", err)
			}
		}
	}
}

// progressLoop prints what reached Salesforce every few seconds.
func progressLoop(ctx context.Context, eng *engine.Engine, emu *sfemu.Emulator, out io.Writer) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			counts := emu.Org().ObjectCounts()
			st := eng.Status(ctx)
			line := fmt.Sprintf("demo: in Salesforce: %d Accounts, %d Contacts, %d Cases", counts["Account"], counts["Contact"], counts["Case"])
			for _, s := range st.Syncs {
				line += fmt.Sprintf(" · %s: %d delivered, %d in DLQ, %s", s.Name, s.Delivered, s.DLQ, s.State)
			}
			fmt.Fprintln(out, line)
		}
	}
}

// demoDSN shows a postgres DSN without its password.
func demoDSN(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
