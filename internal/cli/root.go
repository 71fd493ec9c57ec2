package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// IO holds the writers and reader a command uses; tests inject buffers.
type IO struct {
	Out io.Writer
	Err io.Writer
	In  io.Reader
}

// Run parses args (without the program name), runs the command under ctx and
// returns the exit code. Errors are printed to io.Err, one clear message.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(stdio.Err, "sfbridge: "+err.Error())
	}
	return ExitCode(err)
}

// errSilent is returned by a command that has already reported its failure
// on stdout (e.g. as JSON); Run then prints nothing more.
var errSilent = errors.New("reported")

func newRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "sfbridge",
		Short: "Carry data from PostgreSQL and application events into Salesforce, reliably",
		Long: `sfbridge moves data one way into Salesforce: rows of PostgreSQL tables (on a
schedule or through logical replication) and events an application drops into a
folder, an S3 bucket or posts over HTTP. Records wait in a durable queue (NATS
JetStream, embedded or external), are upserted by external ID, retried with
backoff, and dead-lettered with their reason when they cannot be delivered.

Exit codes: 0 ok, 1 runtime failure, 2 invalid config or input,
3 a dependency unreachable.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// With Args set, cobra hands an unknown subcommand to us instead of
		// failing with exit 1: it is invalid input (exit 2).
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return Invalid(fmt.Errorf("unknown command %q; see 'sfbridge --help'", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	if stdio.In != nil {
		root.SetIn(stdio.In)
	}
	// Flag errors (unknown flag, missing value) are invalid input: exit 2.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Invalid(err) })
	root.AddCommand(
		newVersionCmd(stdio),
		newValidateCmd(stdio),
		newEmulatorCmd(stdio),
		newRunCmd(stdio),
		newDemoCmd(stdio),
		newStateCmd(stdio),
		newTriggerCmd(stdio),
		newCheckCmd(stdio),
		newDLQCmd(stdio),
	)
	return root
}

// exactArgs is cobra.ExactArgs with exit code 2.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return Invalid(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
		}
		return nil
	}
}
