package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/source/pgpoll"
	"github.com/sfbridge/sfbridge/internal/state"
	"github.com/sfbridge/sfbridge/internal/state/natskv"
)

type stateFlags struct {
	config string
	json   bool
}

func newStateCmd(stdio IO) *cobra.Command {
	var f stateFlags
	cmd := &cobra.Command{
		Use:   "state list|get|set|reset …",
		Short: "Inspect or move the sources' checkpoints (watermarks)",
		Long: `State shows and changes the checkpoints sources keep in the state store (the
NATS KV bucket SFBRIDGE_STATE, in the JetStream the config names): where each
source resumes after a restart.

Keys:
  pgpoll/<source>/<schema>.<table>   a postgres_poll table's watermark: the
                                      cursor and key of the last row published

Moving a watermark back re-reads the rows after it (the queue drops those it
still remembers); resetting it re-reads the whole table (a full resync);
moving it forward skips rows.

With nats: embedded the store lives in data_dir and only one process can open
it: stop the daemon (sfbridge run) first. With an external NATS, state works
while the daemon runs; a run in progress that finds its watermark moved stops
and the next run starts from the new one.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	pf.StringVarP(&f.config, "config", "c", "sfbridge.yaml", "config file")
	pf.BoolVar(&f.json, "json", false, "print the result as JSON")
	cmd.AddCommand(
		newStateListCmd(stdio, &f),
		newStateGetCmd(stdio, &f),
		newStateSetCmd(stdio, &f),
		newStateResetCmd(stdio, &f),
	)
	return cmd
}

func newStateListCmd(stdio IO, f *stateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list [PREFIX]",
		Short: "List the checkpoints, all or those whose key starts with PREFIX",
		Args:  cliRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			return withState(cmd.Context(), f, false, func(_ *config.Config, st state.Store) error {
				entries, err := st.List(cmd.Context(), prefix)
				if err != nil {
					return err
				}
				if f.json {
					out := make([]stateEntryJSON, len(entries))
					for i, e := range entries {
						out[i] = entryJSON(e)
					}
					return writeStateJSON(stdio.Out, out)
				}
				if len(entries) == 0 {
					msg := "no checkpoints"
					if prefix != "" {
						msg += " under " + prefix
					}
					_, err := fmt.Fprintln(stdio.Out, msg)
					return err
				}
				tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KEY\tREVISION\tUPDATED\tVALUE")
				for _, e := range entries {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", e.Key, e.Revision, e.Updated.UTC().Format(time.RFC3339), describeValue(e))
				}
				return tw.Flush()
			})
		},
	}
}

func newStateGetCmd(stdio IO, f *stateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY",
		Short: "Show one checkpoint",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			return withState(cmd.Context(), f, false, func(_ *config.Config, st state.Store) error {
				e, err := st.Get(cmd.Context(), key)
				if errors.Is(err, state.ErrNotFound) {
					return Invalid(fmt.Errorf("state: no checkpoint at key %q (sfbridge state list shows the keys)", key))
				}
				if err != nil {
					return err
				}
				if f.json {
					return writeStateJSON(stdio.Out, entryJSON(e))
				}
				tw := tabwriter.NewWriter(stdio.Out, 0, 4, 1, ' ', 0)
				fmt.Fprintf(tw, "key:\t%s\n", e.Key)
				fmt.Fprintf(tw, "revision:\t%d\n", e.Revision)
				fmt.Fprintf(tw, "updated:\t%s\n", e.Updated.UTC().Format(time.RFC3339Nano))
				if strings.HasPrefix(key, pgpoll.KeyPrefix) {
					fmt.Fprintf(tw, "watermark:\t%s\n", describeValue(e))
				}
				fmt.Fprintf(tw, "value:\t%s\n", e.Value)
				return tw.Flush()
			})
		},
	}
}

func newStateSetCmd(stdio IO, f *stateFlags) *cobra.Command {
	var cursor string
	var key []string
	cmd := &cobra.Command{
		Use:   "set KEY [VALUE|-] [--cursor C --key K …]",
		Short: "Write a checkpoint (VALUE as printed by get; - reads it from stdin)",
		Long: `Set writes a checkpoint. VALUE is the value as 'state get' prints it, or - to
read it from stdin. For a postgres_poll table, --cursor and --key build it from
the table's config instead:

  sfbridge state set pgpoll/platform_db/public.counselors \
      --cursor '2024-05-01 00:00:00+00' --key 0

makes the next run read the rows whose (cursor, key) comes after that, in the
column types' own order (the values are PostgreSQL text forms: a timestamp
with its zone, an integer, a UUID…). --key takes one value per key column, in
order. A watermark is checked against the config: the source and table must
exist and the columns must match.`,
		Args: cliRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k := args[0]
			var value []byte
			switch {
			case len(args) == 2 && (cursor != "" || len(key) > 0):
				return Invalid(errors.New("state set: give VALUE or --cursor/--key, not both"))
			case len(args) == 2 && args[1] == "-":
				in := stdio.In
				if in == nil {
					in = os.Stdin
				}
				b, err := io.ReadAll(io.LimitReader(in, 1<<20))
				if err != nil {
					return fmt.Errorf("state set: read stdin: %w", err)
				}
				value = []byte(strings.TrimSpace(string(b)))
			case len(args) == 2:
				value = []byte(args[1])
			case cursor == "":
				return Invalid(errors.New("state set: give VALUE, - (stdin), or --cursor and --key"))
			}
			return withState(cmd.Context(), f, true, func(cfg *config.Config, st state.Store) error {
				v, err := checkStateValue(cfg, k, value, cursor, key)
				if err != nil {
					return Invalid(err)
				}
				rev, err := st.Put(cmd.Context(), k, v)
				if err != nil {
					return err
				}
				if f.json {
					return writeStateJSON(stdio.Out, entryJSON(state.Entry{Key: k, Value: v, Revision: rev, Updated: time.Now()}))
				}
				_, err = fmt.Fprintf(stdio.Out, "set %s (revision %d): %s\n", k, rev, describeValue(state.Entry{Key: k, Value: v}))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&cursor, "cursor", "", "postgres_poll: the cursor value of the watermark")
	cmd.Flags().StringArrayVar(&key, "key", nil, "postgres_poll: a key value of the watermark (once per key column)")
	return cmd
}

func newStateResetCmd(stdio IO, f *stateFlags) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "reset KEY… | --prefix PREFIX",
		Short: "Delete checkpoints: the sources start over (a full resync)",
		Long: `Reset deletes checkpoints. A postgres_poll table without a watermark is read
from its first row on the next run: a full resync of that table.
--prefix resets every key that starts with PREFIX, e.g. pgpoll/platform_db/
for every table of one source.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 0) == (prefix == "") {
				return Invalid(errors.New("state reset: give one or more KEYs, or --prefix"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return withState(cmd.Context(), f, false, func(_ *config.Config, st state.Store) error {
				ctx := cmd.Context()
				var entries []state.Entry
				if prefix != "" {
					var err error
					if entries, err = st.List(ctx, prefix); err != nil {
						return err
					}
				}
				for _, k := range args {
					e, err := st.Get(ctx, k)
					if errors.Is(err, state.ErrNotFound) {
						e = state.Entry{Key: k}
					} else if err != nil {
						return err
					}
					entries = append(entries, e)
				}
				type result struct {
					Key   string `json:"key"`
					Reset bool   `json:"reset"`
					Was   string `json:"was,omitempty"`
				}
				var results []result
				for _, e := range entries {
					if e.Revision == 0 {
						results = append(results, result{Key: e.Key})
						continue
					}
					// Only the revision read above: a checkpoint written since
					// is not deleted blindly.
					if err := st.Delete(ctx, e.Key, e.Revision); err != nil {
						if errors.Is(err, state.ErrConflict) {
							return fmt.Errorf("state reset %s: it changed meanwhile (a running source?); nothing more was reset: %w", e.Key, err)
						}
						return err
					}
					results = append(results, result{Key: e.Key, Reset: true, Was: describeValue(e)})
				}
				if f.json {
					if results == nil {
						results = []result{}
					}
					return writeStateJSON(stdio.Out, results)
				}
				if len(results) == 0 {
					_, err := fmt.Fprintf(stdio.Out, "no checkpoints under %s\n", prefix)
					return err
				}
				for _, r := range results {
					if r.Reset {
						fmt.Fprintf(stdio.Out, "reset %s (was %s)\n", r.Key, r.Was)
					} else {
						fmt.Fprintf(stdio.Out, "%s had no checkpoint\n", r.Key)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "reset every key starting with this")
	return cmd
}

// checkStateValue returns the value to store at key. A pgpoll watermark is
// built from cursor and keys, or parsed (framed, or its bare body), and
// checked against the config, so that the daemon will accept it.
func checkStateValue(cfg *config.Config, key string, value []byte, cursor string, keys []string) ([]byte, error) {
	rest, ok := strings.CutPrefix(key, pgpoll.KeyPrefix)
	if !ok {
		if cursor != "" || len(keys) > 0 {
			return nil, fmt.Errorf("state set: --cursor and --key are for pgpoll/ keys, not %q", key)
		}
		return value, nil
	}
	srcName, table, _ := strings.Cut(rest, "/")
	src, ok := cfg.Source(srcName)
	if !ok || src.Type != config.SourcePostgresPoll {
		return nil, fmt.Errorf("state set %s: %s has no postgres_poll source named %q", key, cfg.File(), srcName)
	}
	var tc *config.PollTable
	var tables []string
	for i, t := range src.PostgresPoll.Tables {
		tables = append(tables, t.Table)
		if t.Table == table {
			tc = &src.PostgresPoll.Tables[i]
		}
	}
	if tc == nil {
		return nil, fmt.Errorf("state set %s: source %s reads no table %q (it reads %s)", key, srcName, table, strings.Join(tables, ", "))
	}
	var p pgpoll.Position
	if value == nil {
		if len(keys) != len(tc.Key) {
			return nil, fmt.Errorf("state set %s: give --key once per key column (%s), got %d", key, strings.Join(tc.Key, ", "), len(keys))
		}
		p = pgpoll.Position{Table: table, CursorColumn: tc.Cursor, KeyColumns: tc.Key, Cursor: cursor, Key: keys}
	} else {
		var err error
		if p, err = pgpoll.ParsePosition(value); err != nil {
			// Perhaps the bare position body.
			var body pgpoll.Position
			dec := json.NewDecoder(strings.NewReader(string(value)))
			dec.DisallowUnknownFields()
			if dec.Decode(&body) != nil || body.Validate() != nil {
				return nil, fmt.Errorf("state set %s: not a pgpoll watermark: %w", key, err)
			}
			p = body
		}
	}
	if p.Table != table || p.CursorColumn != tc.Cursor || strings.Join(p.KeyColumns, "\x00") != strings.Join(tc.Key, "\x00") {
		return nil, fmt.Errorf("state set %s: the watermark is for table %s, cursor %q, key %v; the config reads %s by cursor %q, key %v",
			key, p.Table, p.CursorColumn, p.KeyColumns, table, tc.Cursor, []string(tc.Key))
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("state set %s: %w", key, err)
	}
	framed, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	return framed, nil
}

// describeValue renders a checkpoint for people: a pgpoll watermark as its
// columns and values, anything else as its text.
func describeValue(e state.Entry) string {
	if strings.HasPrefix(e.Key, pgpoll.KeyPrefix) {
		if p, err := pgpoll.ParsePosition(e.Value); err == nil {
			parts := []string{fmt.Sprintf("%s = %s", p.CursorColumn, p.Cursor)}
			for i, k := range p.KeyColumns {
				parts = append(parts, fmt.Sprintf("%s = %s", k, p.Key[i]))
			}
			return strings.Join(parts, ", ")
		}
	}
	s := string(e.Value)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

type stateEntryJSON struct {
	Key      string          `json:"key"`
	Revision uint64          `json:"revision"`
	Updated  time.Time       `json:"updated"`
	Value    json.RawMessage `json:"value"`
}

// entryJSON embeds a JSON value as is, anything else as a JSON string.
func entryJSON(e state.Entry) stateEntryJSON {
	v := json.RawMessage(e.Value)
	if !json.Valid(e.Value) {
		v, _ = json.Marshal(string(e.Value))
	}
	return stateEntryJSON{Key: e.Key, Revision: e.Revision, Updated: e.Updated.UTC(), Value: v}
}

func writeStateJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// withState opens the state store the config names, as the daemon would,
// runs fn and closes it. create allows creating an embedded store that does
// not exist yet (set: seeding a watermark before the first run).
func withState(ctx context.Context, f *stateFlags, create bool, fn func(*config.Config, state.Store) error) error {
	cfg, err := loadStateConfig(f.config)
	if err != nil {
		return err
	}
	if cfg.NATS.Embedded() {
		store := filepath.Join(cfg.DataDir, "jetstream")
		if _, err := os.Stat(store); errors.Is(err, os.ErrNotExist) && !create {
			return Invalid(fmt.Errorf("no embedded store at %s: sfbridge has not run with this config (data_dir %s)", store, cfg.DataDir))
		}
		if addr, up := adminAnswers(cfg.Admin.Listen); up {
			return fmt.Errorf("sfbridge seems to be running: something answers on admin.listen (%s). "+
				"With nats: embedded, the store in %s can be opened by one process at a time: "+
				"stop the daemon first, or use an external NATS (nats: nats://…) to change state while it runs", addr, cfg.DataDir)
		}
	}
	b, err := broker.Open(ctx, broker.Options{URL: cfg.NATS.URL.Reveal(), DataDir: cfg.DataDir, Name: "sfbridge state"})
	if err != nil {
		if errors.Is(err, broker.ErrUnreachable) {
			return Unreachable(err)
		}
		return err
	}
	defer func() { _ = b.Close() }()
	st, err := natskv.Open(ctx, b, natskv.Options{})
	if err != nil {
		return err
	}
	return fn(cfg, st)
}

// loadStateConfig loads the config file; every problem is invalid input.
func loadStateConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		var probs *config.Problems
		if errors.As(err, &probs) {
			return nil, Invalid(fmt.Errorf("%s: %d problem%s (sfbridge validate --config %s lists them)\n  %s",
				path, probs.Len(), plural(probs.Len()), path, strings.ReplaceAll(probs.Error(), "\n", "\n  ")))
		}
		return nil, Invalid(err)
	}
	return cfg, nil
}

// adminAnswers reports whether something accepts connections on the admin
// address (the daemon, most likely), and the address it dialled.
func adminAnswers(listen string) (string, bool) {
	addr := dialAddr(listen)
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return addr, false
	}
	_ = c.Close()
	return addr, true
}

// dialAddr turns a listen address into one to connect to: a wildcard or
// missing host becomes the loopback address.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// cliRangeArgs is cobra.RangeArgs with exit code 2.
func cliRangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(lo, hi)(cmd, args); err != nil {
			return Invalid(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
		}
		return nil
	}
}
