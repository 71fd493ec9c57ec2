package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/engine"
)

// drainTimeout bounds the graceful stop after the first signal; a second
// signal exits at once (cmd/sfbridge).
const drainTimeout = 60 * time.Second

func newRunCmd(stdio IO) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the daemon: sources, syncs, admin HTTP server",
		Long: `Run starts every source and sync of the config and the admin HTTP server
(dashboard, /v1/status, /metrics, /healthz, /readyz) and runs until SIGINT or
SIGTERM. The first signal drains: sources finish the page in hand and save their
checkpoints, syncs settle the records they hold. A second signal exits at once.

Exit codes: 2 invalid config, 3 NATS unreachable at start, 1 any other failure.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return Invalid(err)
			}
			log := newLogger(stdio.Err, cfg.Log)
			return runEngine(cmd.Context(), cfg, log, stdio.Out, nil)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "sfbridge.yaml", "config file")
	return cmd
}

// runEngine starts an engine, prints where to look, waits for ctx, then
// drains. onReady (optional) runs once the engine is ready.
func runEngine(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer, onReady func(*engine.Engine)) error {
	eng, err := engine.New(cfg, engine.Options{Logger: log, Version: ReadBuildInfo().Version})
	if err != nil {
		return Invalid(err)
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	if a := eng.Admin(); a != nil {
		// The dashboard URL carries the token: it goes to the operator's
		// terminal only, never to the log.
		fmt.Fprintf(out, "sfbridge running: %d sources, %d syncs\n  dashboard: %s\n  status:    http://%s/v1/status (Authorization: Bearer <admin token>)\n",
			len(cfg.Sources), len(cfg.Syncs), a.DashboardURL(), a.Addr())
	}
	log.Info("sfbridge started", "sources", len(cfg.Sources), "syncs", len(cfg.Syncs))
	if onReady != nil {
		onReady(eng)
	}
	<-ctx.Done()
	log.Info("sfbridge stopping: draining in-flight batches and saving checkpoints")
	stopCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := eng.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop: %w", err)
	}
	log.Info("sfbridge stopped")
	return nil
}

// newLogger builds the process's slog logger from the config's `log`.
func newLogger(w io.Writer, lc config.Log) *slog.Logger {
	level := slog.LevelInfo
	switch lc.Level {
	case config.LogDebug:
		level = slog.LevelDebug
	case config.LogWarn:
		level = slog.LevelWarn
	case config.LogError:
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
