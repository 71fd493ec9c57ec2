package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfbridge/sfbridge/internal/config"
)

func newValidateCmd(stdio IO) *cobra.Command {
	var (
		path   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a config file without connecting to anything",
		Long: `Validate reads the config file, resolves its ${env:NAME} and ${file:/path}
references and checks every rule that needs no network: it prints every problem
at once, each with its YAML path and line, and exits 2; on a valid file it prints
a one-line summary and exits 0. Secrets are never printed.

With --json it prints {"ok": bool, "summary": "...", "problems": [{"path", "line",
"message"}], "error": "..."} on stdout instead, with the same exit codes.`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			cfg, err := config.Load(path)
			if asJSON {
				return validateJSON(stdio, cfg, err)
			}
			if err != nil {
				var probs *config.Problems
				if errors.As(err, &probs) {
					// A header line, then one problem per line, so that the
					// first line alone still says what happened.
					return Invalid(fmt.Errorf("%s: %d problem%s\n  %s", path, probs.Len(),
						plural(probs.Len()), strings.ReplaceAll(probs.Error(), "\n", "\n  ")))
				}
				return Invalid(err)
			}
			_, err = fmt.Fprintln(stdio.Out, cfg.Summary())
			return err
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "sfbridge.yaml", "config file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

type validateResult struct {
	OK       bool             `json:"ok"`
	Summary  string           `json:"summary,omitempty"`
	Problems []config.Problem `json:"problems,omitempty"`
	Error    string           `json:"error,omitempty"`
}

func validateJSON(stdio IO, cfg *config.Config, err error) error {
	res := validateResult{OK: err == nil}
	var probs *config.Problems
	switch {
	case err == nil:
		res.Summary = cfg.Summary()
	case errors.As(err, &probs):
		res.Problems = probs.List
	default:
		res.Error = err.Error()
	}
	enc := json.NewEncoder(stdio.Out)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(res); encErr != nil {
		return encErr
	}
	if err != nil {
		// The JSON already says what is wrong; exit 2 without repeating it.
		return Invalid(errSilent)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
