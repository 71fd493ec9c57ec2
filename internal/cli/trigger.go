package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/source"
)

func newTriggerCmd(stdio IO) *cobra.Command {
	var (
		path    string
		asJSON  bool
		addr    string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "trigger SOURCE[.TABLE]",
		Short: "Ask the running daemon to poll a source (or one of its tables) now",
		Long: `Trigger asks the running daemon (sfbridge run) to start a run of a postgres_poll
source now, besides its schedule: every table, or one (SOURCE.schema.table, or
SOURCE.table for public.table). It returns once the daemon accepted; the run
itself happens in the daemon, after the run in progress if there is one.

It posts to the daemon's admin server (admin.listen in the config, or --addr)
with the admin token: admin.token, or the environment variable
SFBRIDGE_ADMIN_TOKEN when the config sets none (the daemon then generates a
token at start and prints it with the dashboard URL). Exit codes: 2 for an
unknown source or table or a refused token, 3 when the daemon cannot be
reached.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadStateConfig(path)
			if err != nil {
				return err
			}
			name, table, err := triggerTarget(cfg, args[0])
			if err != nil {
				return Invalid(err)
			}
			if addr == "" {
				addr = dialAddr(cfg.Admin.Listen)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			token := cfg.Admin.Token.Reveal()
			if token == "" {
				token = os.Getenv(adminTokenEnv)
			}
			res, err := postTrigger(ctx, addr, token, name, table)
			if err != nil {
				return err
			}
			if asJSON {
				return writeStateJSON(stdio.Out, res)
			}
			_, err = fmt.Fprintf(stdio.Out, "triggered %s: %s\n", res.Source, strings.Join(res.Collections, ", "))
			return err
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "sfbridge.yaml", "config file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&addr, "addr", "", "the admin server's host:port (default: admin.listen)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the daemon")
	return cmd
}

// adminTokenEnv holds the admin token when the config sets none.
const adminTokenEnv = "SFBRIDGE_ADMIN_TOKEN"

// triggerTarget splits SOURCE[.TABLE] and checks it against the config.
func triggerTarget(cfg *config.Config, arg string) (name, table string, err error) {
	name, table, _ = strings.Cut(arg, ".")
	src, ok := cfg.Source(name)
	if !ok {
		var names []string
		for _, s := range cfg.Sources {
			names = append(names, s.Name)
		}
		return "", "", fmt.Errorf("trigger: %s has no source %q (sources: %s)", cfg.File(), name, strings.Join(names, ", "))
	}
	if src.Type != config.SourcePostgresPoll {
		return "", "", fmt.Errorf("trigger: source %s is a %s source; only postgres_poll sources run on demand", name, src.Type)
	}
	if table == "" {
		return name, "", nil
	}
	want := table
	if !strings.Contains(want, ".") {
		want = "public." + want
	}
	var tables []string
	for _, t := range src.PostgresPoll.Tables {
		if t.Table == want {
			return name, want, nil
		}
		tables = append(tables, t.Table)
	}
	return "", "", fmt.Errorf("trigger: source %s reads no table %q (it reads %s)", name, table, strings.Join(tables, ", "))
}

// postTrigger is the client of source.NewTriggerHandler.
func postTrigger(ctx context.Context, addr, token, name, table string) (*source.TriggerResponse, error) {
	u := url.URL{Scheme: "http", Host: addr, Path: source.TriggerPath(name)}
	if table != "" {
		u.RawQuery = url.Values{"table": {table}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, Invalid(fmt.Errorf("trigger: admin address %q: %w", addr, err))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, Unreachable(fmt.Errorf("trigger: cannot reach the sfbridge admin server at %s (is sfbridge run running with this config?): %w", addr, errors.Unwrap(err)))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, Unreachable(fmt.Errorf("trigger: reading the answer of %s: %w", addr, err))
	}
	if resp.StatusCode == http.StatusAccepted {
		var res source.TriggerResponse
		if err := json.Unmarshal(body, &res); err != nil {
			return nil, fmt.Errorf("trigger: %s answered 202 with an unexpected body: %w", addr, err)
		}
		return &res, nil
	}
	var e source.ErrorResponse
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	err = fmt.Errorf("trigger: the daemon at %s answered %s: %s", addr, resp.Status, msg)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if token == "" {
			return nil, Invalid(fmt.Errorf("%w (the config sets no admin.token, so the daemon generated one and printed it with the dashboard URL: set admin.token, or pass the token in %s)", err, adminTokenEnv))
		}
		return nil, Invalid(fmt.Errorf("%w (the token differs from the daemon's)", err))
	case http.StatusNotFound:
		return nil, Invalid(fmt.Errorf("%w (the daemon may run another config)", err))
	}
	return nil, err
}
