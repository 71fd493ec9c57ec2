package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
)

// dlqFlags are the flags every dlq subcommand shares.
type dlqFlags struct {
	config string
	asJSON bool
	sync   string
	code   string
	reason string
	since  string
	until  string
}

func (f *dlqFlags) common(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.config, "config", "c", "sfbridge.yaml", "config file (its data_dir and nats say where the DLQ is)")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
}

func (f *dlqFlags) filters(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.sync, "sync", "", "only entries of this sync")
	fl.StringVar(&f.code, "code", "", "only entries whose final error code is this (e.g. FIELD_CUSTOM_VALIDATION_EXCEPTION)")
	fl.StringVar(&f.reason, "reason", "", "only entries dead-lettered for this reason: decode, mapping, permanent, max_attempts")
	fl.StringVar(&f.since, "since", "", "only entries stored at or after this time: RFC 3339 (2026-03-01T09:00:00Z), a date (2026-03-01, UTC) or a duration ago (90m, 2h, 7d)")
	fl.StringVar(&f.until, "until", "", "only entries stored before this time (same forms as --since)")
}

// filter builds the dlq.Filter of the flags and seqs; errors are invalid
// input (exit 2).
func (f *dlqFlags) filter(seqs []string, now time.Time) (dlq.Filter, error) {
	flt := dlq.Filter{Sync: f.sync, Code: f.code, Reason: dlq.Reason(f.reason)}
	var err error
	if flt.Since, err = parseWhen(f.since, now); err != nil {
		return flt, Invalid(fmt.Errorf("--since: %w", err))
	}
	if flt.Until, err = parseWhen(f.until, now); err != nil {
		return flt, Invalid(fmt.Errorf("--until: %w", err))
	}
	for _, s := range seqs {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return flt, Invalid(fmt.Errorf("%q is not a DLQ entry number (the SEQ column of sfbridge dlq list)", s))
		}
		flt.Seqs = append(flt.Seqs, n)
	}
	if err := flt.Check(); err != nil {
		return flt, Invalid(err)
	}
	return flt, nil
}

// parseWhen reads an RFC 3339 time, a date (UTC midnight) or a duration
// ago ("90m", "2h", "7d"); "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-03-01T09:00:00Z), a date (2026-03-01) or a duration ago (90m, 2h, 7d)", s)
}

func newDLQCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay or drop dead-lettered records",
		Long: `The DLQ holds the records a sync gave up on: records Salesforce rejected for
good (a validation rule, a required field), records that failed max_attempts
times, and input that could not be decoded or mapped. Each entry keeps the raw
record, the sync, every attempt's error and the final reason.

  sfbridge dlq list   [--sync S] [--code C] [--reason R] [--since T] [--until T]
  sfbridge dlq show   SEQ
  sfbridge dlq replay SEQ... | --all [filters]   republish to the entry's sync
  sfbridge dlq drop   SEQ... | --all [filters]   delete for good

Replay republishes the raw record with a fresh message ID, marked for the
entry's sync only (other syncs reading the same records skip it), and deletes
the entry once the broker has stored it. The record runs through the sync's
current mapping: fix the mapping or the data in Salesforce, then replay.

The commands open the queue named by --config. With the embedded NATS
(nats: embedded) only one process can open data_dir at a time: stop the
running sfbridge first, or run sfbridge with an external NATS server, which
every process shares.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDLQListCmd(stdio), newDLQShowCmd(stdio), newDLQReplayCmd(stdio), newDLQDropCmd(stdio))
	return cmd
}

// selection is what a dlq subcommand reads or acts on: the entries flt
// selects in the open DLQ.
type selection struct {
	flt   dlq.Filter
	store *dlq.Store
	q     queue.Queue
	close func()
}

// open builds the filter of the flags and seqs and opens the broker and
// queue of --config; the caller closes them.
func (f *dlqFlags) open(ctx context.Context, seqs []string) (*selection, error) {
	flt, err := f.filter(seqs, time.Now())
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, Invalid(err)
	}
	b, err := broker.Open(ctx, broker.Options{URL: cfg.NATS.URL.Reveal(), DataDir: cfg.DataDir, Name: "sfbridge dlq"})
	switch {
	case errors.Is(err, broker.ErrLocked):
		return nil, fmt.Errorf("%w\nThe running sfbridge holds the DLQ; stop it (SIGTERM drains it) and run this again", err)
	case err != nil:
		return nil, err
	}
	q, err := natsjs.Open(ctx, b, natsjs.Config{})
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return &selection{flt: flt, store: dlq.NewStore(q), q: q, close: func() { _ = b.Close() }}, nil
}

// itemJSON is an entry as the --json output shows it.
type itemJSON struct {
	Seq     uint64          `json:"seq"`
	Stored  time.Time       `json:"stored"`
	Subject string          `json:"subject"`
	Sync    string          `json:"sync"`
	Entry   json.RawMessage `json:"entry,omitempty"`
	Error   string          `json:"error,omitempty"`
	// Raw is the message body of an entry that cannot be read.
	Raw []byte `json:"raw,omitempty"`
}

func toJSON(it dlq.Item) itemJSON {
	out := itemJSON{Seq: it.Seq, Stored: it.Stored.UTC(), Subject: it.Subject, Sync: it.Sync()}
	if it.Err != nil {
		out.Error, out.Raw = it.Err.Error(), it.Raw
		return out
	}
	out.Entry = it.Raw // the entry's own JSON, as stored
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func newDLQListCmd(stdio IO) *cobra.Command {
	var (
		f     dlqFlags
		limit int
		from  uint64
	)
	cmd := &cobra.Command{
		Use:   "list [--sync S] [--code C] [--reason R] [--since T] [--until T] [--limit N] [--from SEQ]",
		Short: "List DLQ entries, oldest first",
		Long: `List prints one line per entry: its number (SEQ, for show, replay and drop),
when it was stored, the sync, the reason, the final error code, the attempts,
the record's key and the error message. --json prints
{"entries": [{"seq", "stored", "subject", "sync", "entry": {…}}], "next": SEQ}
where entry is the stored entry document and next, when not 0, is the --from of
the next page.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return Invalid(fmt.Errorf("--limit must be at least 1, got %d", limit))
			}
			sel, err := f.open(cmd.Context(), nil)
			if err != nil {
				return err
			}
			defer sel.close()
			items, next, err := sel.store.List(cmd.Context(), sel.flt, from, limit)
			if err != nil {
				return err
			}
			if f.asJSON {
				out := struct {
					Entries []itemJSON `json:"entries"`
					Next    uint64     `json:"next"`
				}{Entries: []itemJSON{}, Next: next}
				for _, it := range items {
					out.Entries = append(out.Entries, toJSON(it))
				}
				return writeJSON(stdio.Out, out)
			}
			return printList(stdio.Out, items, next)
		},
	}
	f.common(cmd)
	f.filters(cmd)
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many entries")
	cmd.Flags().Uint64Var(&from, "from", 0, "start at this entry number (the next page)")
	return cmd
}

func printList(w io.Writer, items []dlq.Item, next uint64) error {
	if len(items) == 0 {
		_, err := fmt.Fprintln(w, "No DLQ entries match.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTORED (UTC)\tSYNC\tREASON\tCODE\tATTEMPTS\tKEY\tMESSAGE")
	for _, it := range items {
		if it.Err != nil {
			fmt.Fprintf(tw, "%d\t%s\t%s\t?\t?\t?\t?\t%s\n", it.Seq, stamp(it.Stored), it.Sync(), clip("unreadable entry: "+it.Err.Error(), 80))
			continue
		}
		e := it.Entry
		key := "-"
		if e.Record != nil {
			key = e.Record.Key
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", it.Seq, stamp(it.Stored), e.Sync, e.Reason, orDash(e.Code),
			len(e.Attempts), clip(key, 40), clip(oneLine(e.Message), 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "entries"
	if len(items) == 1 {
		noun = "entry"
	}
	if next != 0 {
		_, err := fmt.Fprintf(w, "%d %s shown; more with --from %d\n", len(items), noun, next)
		return err
	}
	_, err := fmt.Fprintf(w, "%d %s\n", len(items), noun)
	return err
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func newDLQShowCmd(stdio IO) *cobra.Command {
	var f dlqFlags
	cmd := &cobra.Command{
		Use:   "show SEQ",
		Short: "Show one DLQ entry: the record, every attempt's error, the reason",
		Long: `Show prints an entry in full: the sync, the reason and final error, each
attempt's error with its time, the original message (subject, ID, headers) and
the raw record. --json prints {"seq", "stored", "subject", "sync", "entry": {…}}
with the stored entry document.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, err := f.open(cmd.Context(), args)
			if err != nil {
				return err
			}
			defer sel.close()
			seq := sel.flt.Seqs[0]
			it, err := sel.store.Get(cmd.Context(), seq)
			if errors.Is(err, queue.ErrNotFound) {
				return Invalid(fmt.Errorf("no DLQ entry %d (replayed or dropped already?)", seq))
			}
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeJSON(stdio.Out, toJSON(it))
			}
			return printEntry(stdio.Out, it)
		},
	}
	f.common(cmd)
	return cmd
}

func printEntry(w io.Writer, it dlq.Item) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Entry %d, stored %s UTC (subject %s)\n", it.Seq, stamp(it.Stored), it.Subject)
	if it.Err != nil {
		p("This entry cannot be read: %v\n\nMessage body:\n%s\n", it.Err, it.Raw)
		return nil
	}
	e := it.Entry
	p("Sync:     %s\n", e.Sync)
	p("Reason:   %s\n", e.Reason)
	p("Error:    %s%s\n", codePrefix(e.Code), e.Message)
	if len(e.Fields) > 0 {
		p("Fields:   %s\n", strings.Join(e.Fields, ", "))
	}
	p("Dead at:  %s UTC\n", stamp(e.DeadAt))
	if r := e.Record; r != nil {
		p("Record:   %s %s.%s key %s version %s (id %s)\n", r.Op, r.Source, r.Collection, r.Key, r.Version, r.ID)
	}
	p("Message:  %s on %s, published %s UTC\n", e.MessageID, e.Subject, stamp(e.Published))
	if len(e.Headers) > 0 {
		keys := make([]string, 0, len(e.Headers))
		for k := range e.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("  %s: %s\n", k, e.Headers[k])
		}
	}
	p("\nAttempts (record-level failures; outages are not attempts):\n")
	for _, a := range e.Attempts {
		p("  %d. %s UTC  delivery %d  %s  %s%s", a.N, stamp(a.At), a.Delivery, a.Class, codePrefix(a.Code), oneLine(a.Message))
		if len(a.Fields) > 0 {
			p(" (fields: %s)", strings.Join(a.Fields, ", "))
		}
		p("\n")
	}
	p("\nRecord:\n")
	if json.Valid(e.Raw) {
		var buf strings.Builder
		var v any
		if err := json.Unmarshal(e.Raw, &v); err == nil {
			enc := json.NewEncoder(&buf)
			enc.SetIndent("  ", "  ")
			enc.SetEscapeHTML(false)
			if enc.Encode(v) == nil {
				p("  %s", buf.String())
				return nil
			}
		}
	}
	p("  %q\n", e.Raw)
	return nil
}

func codePrefix(code string) string {
	if code == "" {
		return ""
	}
	return code + ": "
}

// batchFlags are the flags of replay and drop, which act on SEQs or on
// --all entries matching the filters.
type batchFlags struct {
	dlqFlags
	all    bool
	dryRun bool
	// verb and participle name the action: "replay", "replayed".
	verb, participle string
}

func (f *batchFlags) register(cmd *cobra.Command, verb, participle string) {
	f.verb, f.participle = verb, participle
	f.common(cmd)
	f.filters(cmd)
	cmd.Flags().BoolVar(&f.all, "all", false, "every entry matching the filters")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "only list what would be "+participle)
}

// open checks the selection (SEQs, or --all with filters) and opens the
// DLQ; the caller closes it.
func (f *batchFlags) open(ctx context.Context, args []string) (*selection, error) {
	if len(args) == 0 && !f.all {
		return nil, Invalid(errors.New("name the entries (SEQ…, from sfbridge dlq list) or pass --all (narrowed by --sync, --code, --reason, --since, --until)"))
	}
	if len(args) > 0 && f.all {
		return nil, Invalid(errors.New("give entry numbers or --all, not both"))
	}
	return f.dlqFlags.open(ctx, args)
}

// done is the word for what was done: "Replayed", or "Would replay" with
// --dry-run.
func (f *batchFlags) done() string {
	if f.dryRun {
		return "Would " + f.verb
	}
	return strings.ToUpper(f.participle[:1]) + f.participle[1:]
}

// report prints out (the --json document), or as text the lines, a line
// per failure and the counts. Any failure is exit code 1.
func (f *batchFlags) report(w io.Writer, out any, lines []string, done int, failed []failedJSON) error {
	if f.asJSON {
		if err := writeJSON(w, out); err != nil {
			return err
		}
	} else {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		for _, fl := range failed {
			fmt.Fprintf(w, "Not %s %d: %s\n", f.participle, fl.Seq, fl.Error)
		}
		fmt.Fprintf(w, "%s %d, failed %d.\n", f.done(), done, len(failed))
	}
	if len(failed) > 0 {
		return errSilent
	}
	return nil
}

// failedJSON is an entry an action could not handle.
type failedJSON struct {
	Seq   uint64 `json:"seq"`
	Error string `json:"error"`
}

// actOn reads every entry sel selects, then calls act on each: its result
// is done, its error a failure, and ok false skips the entry. A SEQ asked
// for that is not there is a failure too. done and failed are never nil
// (they print as [] in --json).
func actOn[T any](ctx context.Context, sel *selection, act func(dlq.Item) (res T, ok bool, err error)) (done []T, failed []failedJSON, err error) {
	var targets []dlq.Item
	if err := sel.store.Each(ctx, sel.flt, func(it dlq.Item) (bool, error) {
		targets = append(targets, it)
		return true, nil
	}); err != nil {
		return nil, nil, err
	}
	done, failed = []T{}, []failedJSON{}
	for _, seq := range missingSeqs(sel.flt.Seqs, targets) {
		failed = append(failed, failedJSON{Seq: seq, Error: "no such entry (replayed or dropped already?)"})
	}
	for _, it := range targets {
		res, ok, err := act(it)
		switch {
		case err != nil:
			failed = append(failed, failedJSON{Seq: it.Seq, Error: err.Error()})
		case ok:
			done = append(done, res)
		}
	}
	return done, failed, nil
}

func newDLQReplayCmd(stdio IO) *cobra.Command {
	var f batchFlags
	cmd := &cobra.Command{
		Use:   "replay (SEQ... | --all) [--sync S] [--code C] [--reason R] [--since T] [--until T] [--dry-run]",
		Short: "Send dead-lettered records through their sync again (current mapping)",
		Long: `Replay republishes each selected entry's raw record to its original subject
with a fresh message ID and a header that only the entry's sync delivers (other
syncs reading those records skip it), waits for the broker to store it, then
deletes the entry. The running sfbridge delivers it through the sync's current
mapping; if it fails again it comes back to the DLQ as a new entry.

An entry whose sync has no consumer (removed from the config, never run) is
kept and reported: the record would reach nobody. --dry-run lists what would
be replayed. --json prints {"replayed": [{"seq", "sync", "subject",
"message_id"}], "failed": [{"seq", "error"}]}. The exit code is 1 when any entry
failed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sel, err := f.open(ctx, args)
			if err != nil {
				return err
			}
			defer sel.close()
			consumers, err := sel.q.ConsumerNames(ctx)
			if err != nil {
				return err
			}
			replayed, failed, err := actOn(ctx, sel, func(it dlq.Item) (dlq.Replayed, bool, error) {
				if !f.dryRun {
					r, err := sel.store.ReplayItem(ctx, it, consumers)
					return r, true, err
				}
				if it.Err != nil {
					return dlq.Replayed{}, false, nil
				}
				return dlq.Replayed{Seq: it.Seq, Sync: it.Entry.Sync, Subject: it.Entry.Subject, MessageID: dlq.ReplayID(it.Seq, it.Entry.MessageID)}, true, nil
			})
			if err != nil {
				return err
			}
			out := struct {
				Replayed []dlq.Replayed `json:"replayed"`
				Failed   []failedJSON   `json:"failed"`
				DryRun   bool           `json:"dry_run,omitempty"`
			}{Replayed: replayed, Failed: failed, DryRun: f.dryRun}
			lines := make([]string, len(replayed))
			for i, r := range replayed {
				lines[i] = fmt.Sprintf("%s %d → %s on %s (sync %s)", f.done(), r.Seq, r.MessageID, r.Subject, r.Sync)
			}
			return f.report(stdio.Out, out, lines, len(replayed), failed)
		},
	}
	f.register(cmd, "replay", "replayed")
	return cmd
}

func newDLQDropCmd(stdio IO) *cobra.Command {
	var f batchFlags
	cmd := &cobra.Command{
		Use:   "drop (SEQ... | --all) [--sync S] [--code C] [--reason R] [--since T] [--until T] [--dry-run]",
		Short: "Delete DLQ entries for good",
		Long: `Drop deletes the selected entries; their records are not delivered. Use it for
records that should never reach Salesforce (test data, a deleted source row).
--dry-run lists what would be dropped. --json prints {"dropped": [SEQ…],
"failed": [{"seq", "error"}]}. The exit code is 1 when any entry failed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sel, err := f.open(ctx, args)
			if err != nil {
				return err
			}
			defer sel.close()
			dropped, failed, err := actOn(ctx, sel, func(it dlq.Item) (uint64, bool, error) {
				if f.dryRun {
					return it.Seq, true, nil
				}
				return it.Seq, true, sel.store.Drop(ctx, it.Seq)
			})
			if err != nil {
				return err
			}
			out := struct {
				Dropped []uint64     `json:"dropped"`
				Failed  []failedJSON `json:"failed"`
				DryRun  bool         `json:"dry_run,omitempty"`
			}{Dropped: dropped, Failed: failed, DryRun: f.dryRun}
			return f.report(stdio.Out, out, nil, len(dropped), failed)
		},
	}
	f.register(cmd, "drop", "dropped")
	return cmd
}

// missingSeqs returns the asked sequences that were not found.
func missingSeqs(asked []uint64, found []dlq.Item) []uint64 {
	have := map[uint64]bool{}
	for _, it := range found {
		have[it.Seq] = true
	}
	var out []uint64
	for _, s := range asked {
		if !have[s] {
			out = append(out, s)
		}
	}
	return out
}
