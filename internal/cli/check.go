package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/engine"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	sfsync "github.com/sfbridge/sfbridge/internal/sync"
)

// checkTimeout bounds each connection check.
const checkTimeout = 15 * time.Second

// checkHTTPTimeout bounds each Salesforce request: a hung org must not hang
// the command.
const checkHTTPTimeout = 30 * time.Second

// Statuses of one check.
const (
	statusOK          = "ok"
	statusProblem     = "problem"
	statusUnreachable = "unreachable"
	statusFailed      = "failed"
	statusSkipped     = "skipped"
)

// checkItem is one line of `sfbridge check`.
type checkItem struct {
	// Name says what was checked: "nats", "postgres platform_db",
	// "salesforce", "sync counselors".
	Name   string `json:"name"`
	Status string `json:"status"`
	// Detail says what was found or why it failed. It never holds a secret.
	Detail   string           `json:"detail,omitempty"`
	Problems []config.Problem `json:"problems,omitempty"`
}

type checkResult struct {
	OK       bool             `json:"ok"`
	Summary  string           `json:"summary"`
	Checks   []checkItem      `json:"checks,omitempty"`
	Problems []config.Problem `json:"problems,omitempty"`
	Error    string           `json:"error,omitempty"`
}

func newCheckCmd(stdio IO) *cobra.Command {
	var (
		path   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Check a config against what it connects to: NATS, Postgres, Salesforce",
		Long: `Check does what validate does, compiles every sync's expressions, then
connects: it opens NATS (embedded in data_dir, or the configured servers) and
checks JetStream, connects to each PostgreSQL source and runs SELECT 1 (and
checks each polled table exists), logs in to Salesforce, and compares each
sync with the describe of its object: the object and every mapped field exist
and are writable, the external ID field is an External ID, lookups name a
relationship and an external ID of its parent, expression types fit their
fields, and fields required on create are mapped.

It prints one line per check and a summary. Exit codes: 0 all ok; 2 the
config, an expression or a mapping has a problem (each named with its YAML
path and line); 3 a dependency is unreachable or refused the login; 1 any
other failure. Secrets are never printed.

With --json it prints {"ok", "summary", "checks": [{"name", "status",
"detail", "problems"}], "problems", "error"} instead, with the same exit codes.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, code := runCheck(cmd.Context(), path, stdio.Err)
			return reportCheck(stdio, res, code, asJSON)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "sfbridge.yaml", "config file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// runCheck runs every check and returns the result and its exit code.
func runCheck(ctx context.Context, path string, errOut io.Writer) (checkResult, int) {
	var res checkResult
	cfg, err := config.Load(path)
	if err != nil {
		var probs *config.Problems
		if errors.As(err, &probs) {
			res.Problems = probs.List
			res.Summary = fmt.Sprintf("%s: %d problem%s in the config", path, probs.Len(), plural(probs.Len()))
		} else {
			res.Error = err.Error()
			res.Summary = "check failed"
		}
		return res, ExitInvalid
	}
	syncs, err := sfsync.Compile(cfg)
	if err != nil {
		var probs *config.Problems
		if errors.As(err, &probs) {
			res.Problems = probs.List
			res.Summary = fmt.Sprintf("%s: %d problem%s in the syncs' expressions", path, probs.Len(), plural(probs.Len()))
			return res, ExitInvalid
		}
		res.Error = err.Error()
		res.Summary = "check failed"
		return res, ExitFailure
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))

	res.Checks = append(res.Checks, checkNATS(ctx, cfg))
	for i := range cfg.Sources {
		if item, ok := checkPostgres(ctx, cfg, i); ok {
			res.Checks = append(res.Checks, item)
		}
	}
	sfItem, client := checkSalesforce(ctx, cfg, log)
	res.Checks = append(res.Checks, sfItem)
	for _, s := range syncs {
		res.Checks = append(res.Checks, checkSync(ctx, s, client))
	}

	counts := map[string]int{}
	problems := 0
	for _, c := range res.Checks {
		counts[c.Status]++
		problems += len(c.Problems)
		res.Problems = append(res.Problems, c.Problems...)
	}
	code := ExitOK
	switch {
	case counts[statusUnreachable] > 0:
		code = ExitUnreachable
	case counts[statusFailed] > 0:
		code = ExitFailure
	case problems > 0:
		code = ExitInvalid
	}
	res.OK = code == ExitOK
	if res.OK {
		res.Summary = fmt.Sprintf("check ok: %d check%s passed", len(res.Checks), plural(len(res.Checks)))
	} else {
		var parts []string
		if problems > 0 {
			parts = append(parts, fmt.Sprintf("%d problem%s", problems, plural(problems)))
		}
		for _, st := range []string{statusUnreachable, statusFailed, statusSkipped} {
			if n := counts[st]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, st))
			}
		}
		res.Summary = fmt.Sprintf("check failed: %s (of %d checks)", strings.Join(parts, ", "), len(res.Checks))
	}
	return res, code
}

func reportCheck(stdio IO, res checkResult, code int, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		w := stdio.Out
		if len(res.Checks) == 0 {
			// The config or the expressions: problems only.
			for _, p := range res.Problems {
				fmt.Fprintf(w, "%-12s %s\n", statusProblem, p)
			}
		}
		for _, c := range res.Checks {
			line := fmt.Sprintf("%-12s %s", c.Status, c.Name)
			if c.Detail != "" {
				line += ": " + c.Detail
			}
			fmt.Fprintln(w, line)
			for _, p := range c.Problems {
				fmt.Fprintf(w, "%-12s %s\n", statusProblem, p)
			}
		}
		if res.Error != "" {
			fmt.Fprintf(w, "%-12s %s\n", statusFailed, res.Error)
		}
		fmt.Fprintln(w, res.Summary)
	}
	switch code {
	case ExitOK:
		return nil
	case ExitInvalid:
		return Invalid(errSilent)
	case ExitUnreachable:
		return Unreachable(errSilent)
	}
	return fmt.Errorf("%w", errSilent)
}

func checkNATS(ctx context.Context, cfg *config.Config) checkItem {
	item := checkItem{Name: "nats"}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	b, err := broker.Open(ctx, broker.Options{URL: cfg.NATS.URL.Reveal(), DataDir: cfg.DataDir, Name: "sfbridge check", ConnectTimeout: checkTimeout})
	switch {
	case errors.Is(err, broker.ErrLocked):
		// A running sfbridge holds the embedded store: it is up, and
		// opening it a second time would corrupt it.
		item.Status = statusOK
		item.Detail = fmt.Sprintf("embedded store in %s is in use by a running sfbridge (not opened)", cfg.DataDir)
		return item
	case errors.Is(err, broker.ErrUnreachable):
		item.Status, item.Detail = statusUnreachable, err.Error()
		return item
	case err != nil:
		item.Status, item.Detail = statusFailed, err.Error()
		return item
	}
	defer b.Close()
	info, err := b.JetStream().AccountInfo(ctx)
	if err != nil {
		item.Status, item.Detail = statusUnreachable, fmt.Sprintf("%s: JetStream: %v", b.Describe(), err)
		return item
	}
	item.Status = statusOK
	item.Detail = fmt.Sprintf("%s, JetStream with %d stream%s", b.Describe(), info.Streams, plural(info.Streams))
	return item
}

// checkPostgres connects to source i when it is a PostgreSQL source; ok is
// false for other sources.
func checkPostgres(ctx context.Context, cfg *config.Config, i int) (checkItem, bool) {
	src := cfg.Sources[i]
	var dsn config.Secret
	var tables []string
	switch {
	case src.PostgresPoll != nil:
		dsn = src.PostgresPoll.DSN
		for _, t := range src.PostgresPoll.Tables {
			tables = append(tables, t.Table)
		}
	case src.PostgresCDC != nil:
		dsn = src.PostgresCDC.DSN
		for _, t := range src.PostgresCDC.Tables {
			tables = append(tables, t.Table)
		}
	default:
		return checkItem{}, false
	}
	item := checkItem{Name: "postgres " + src.Name}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	pcfg, err := pgx.ParseConfig(dsn.Reveal())
	if err != nil {
		// pgx's parse errors can quote the DSN (and its password): say
		// only where it is.
		item.Status, item.Detail = statusProblem, ""
		p := fmt.Sprintf("sources[%d].dsn", i)
		item.Problems = []config.Problem{{Path: p, Line: cfg.Line(p), Message: "not a valid PostgreSQL connection string"}}
		return item, true
	}
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		item.Status, item.Detail = statusUnreachable, withoutPassword(err.Error(), pcfg.Password)
		return item, true
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		item.Status, item.Detail = statusUnreachable, withoutPassword(err.Error(), pcfg.Password)
		return item, true
	}
	var version string
	_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&version)
	item.Status = statusOK
	item.Detail = fmt.Sprintf("%s@%s:%d/%s, PostgreSQL %s", pcfg.User, pcfg.Host, pcfg.Port, pcfg.Database, version)
	for j, t := range tables {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", qualified(t)).Scan(&exists); err != nil {
			item.Status, item.Detail = statusFailed, fmt.Sprintf("look up table %s: %v", t, err)
			return item, true
		}
		if !exists {
			p := fmt.Sprintf("sources[%d].tables[%d].table", i, j)
			item.Problems = append(item.Problems, config.Problem{Path: p, Line: cfg.Line(p),
				Message: fmt.Sprintf("no table %s in database %s (or no permission to see it)", t, pcfg.Database)})
		}
	}
	if len(item.Problems) > 0 {
		item.Status = statusProblem
	}
	return item, true
}

// qualified is a table name as configured ("schema.table", a bare name
// meaning public.name) in the form to_regclass reads: each part quoted,
// so a mixed-case or odd name is looked up exactly as written.
func qualified(table string) string {
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		schema, name = "public", table
	}
	return pgx.Identifier{schema, name}.Sanitize()
}

// withoutPassword removes a password from a driver error.
func withoutPassword(msg, password string) string {
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "[REDACTED]")
	}
	return msg
}

// checkSalesforce logs in; the client is nil when it could not.
func checkSalesforce(ctx context.Context, cfg *config.Config, log *slog.Logger) (checkItem, *salesforce.Client) {
	item := checkItem{Name: "salesforce"}
	sc := engine.SalesforceConfig(cfg.Salesforce, log, &http.Client{Timeout: checkHTTPTimeout})
	client, err := salesforce.New(sc)
	if err != nil {
		item.Status, item.Detail = statusProblem, ""
		item.Problems = []config.Problem{{Path: "salesforce", Line: cfg.Line("salesforce"), Message: err.Error()}}
		return item, nil
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	instance, err := client.Login(ctx)
	if err != nil {
		item.Status = statusUnreachable
		item.Detail = "login failed (" + string(sc.Auth.Flow) + "): " + err.Error()
		return item, nil
	}
	item.Status = statusOK
	item.Detail = fmt.Sprintf("logged in to %s (%s, API %s)", instance, sc.Auth.Flow, client.APIVersion())
	return item, client
}

func checkSync(ctx context.Context, s *sfsync.Sync, client *salesforce.Client) checkItem {
	item := checkItem{Name: fmt.Sprintf("sync %s → %s", s.Name(), s.Object())}
	if client == nil {
		item.Status, item.Detail = statusSkipped, "not checked: no Salesforce session"
		return item
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	problems, err := s.Check(ctx, client)
	if err != nil {
		item.Status, item.Detail = statusUnreachable, err.Error()
		return item
	}
	item.Problems = problems
	if len(problems) > 0 {
		item.Status = statusProblem
		item.Detail = fmt.Sprintf("%d problem%s", len(problems), plural(len(problems)))
		return item
	}
	item.Status = statusOK
	item.Detail = fmt.Sprintf("%d field%s, external ID %s, reads %s", len(s.Config().Fields), plural(len(s.Config().Fields)), s.ExternalID(), s.Subject())
	return item
}
