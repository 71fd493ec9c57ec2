// Command sfbridge carries data from PostgreSQL and application events into
// Salesforce. main wires signals and hands over to the CLI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sfbridge/sfbridge/internal/cli"
)

func main() {
	// The first SIGINT/SIGTERM cancels ctx: commands drain and flush. A second
	// one exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		os.Exit(cli.ExitFailure)
	}()
	code := cli.Run(ctx, os.Args[1:], cli.IO{Out: os.Stdout, Err: os.Stderr, In: os.Stdin})
	stop()
	os.Exit(code)
}
