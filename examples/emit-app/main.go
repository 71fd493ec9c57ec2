// Command emit-app is an example application sending its events to
// sfbridge with the emit package: it emits a volunteer's login and first
// active rescue, waits a while for delivery, and says what happened.
//
//	export SFBRIDGE_EVENTS_TOKEN=…            # the http source's token
//	go run ./examples/emit-app -endpoint http://127.0.0.1:8081 -volunteer v-42
//
// The token comes from $SFBRIDGE_EVENTS_TOKEN or -token-file, never from a
// flag value, and is never printed. With -folder, events are written as
// NDJSON files for a files source instead of posted.
//
// Run it while sfbridge is down: the events stay in the spool (-spool) and
// the next run, or the same run once sfbridge is back, delivers them. Exit
// status: 0 when every event is delivered, 3 when some still wait in the
// spool after -wait, 1 on any other failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sfbridge/sfbridge/emit"
)

func main() {
	os.Exit(run())
}

func run() int {
	endpoint := flag.String("endpoint", envOr("SFBRIDGE_EVENTS_URL", "http://127.0.0.1:8081"),
		"base URL of sfbridge's http source (env SFBRIDGE_EVENTS_URL)")
	tokenFile := flag.String("token-file", "", "read the bearer token from this file (default: env SFBRIDGE_EVENTS_TOKEN)")
	folder := flag.String("folder", "", "write NDJSON files into this folder (a files source) instead of posting")
	spool := flag.String("spool", envOr("EMIT_SPOOL_DIR", "./emit-spool"), "spool directory (env EMIT_SPOOL_DIR)")
	volunteer := flag.String("volunteer", "v-42", "the volunteer the sample events are about")
	wait := flag.Duration("wait", 10*time.Second, "how long to wait for delivery before exiting")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sink, dest, err := newSink(*endpoint, *tokenFile, *folder)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emit-app:", err)
		return 1
	}
	client, err := emit.New(emit.Config{
		SpoolDir: *spool,
		Sink:     sink,
		Logger:   logger,
		OnReject: func(ev emit.Event, reason string) {
			fmt.Printf("rejected by sfbridge: %s %s: %s\n", ev.Type, ev.ID, reason)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "emit-app:", err)
		return 1
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := client.Close(closeCtx); err != nil {
			fmt.Fprintln(os.Stderr, "emit-app:", err)
		}
	}()
	if n := client.Stats().Spooled; n > 0 {
		fmt.Printf("%d events from an earlier run are still in %s; sending them too\n", n, *spool)
	}

	// ID and Time are left empty: Emit fills in a new id and now.
	events := []emit.Event{
		{Type: "volunteer.login", Key: *volunteer,
			Data: map[string]any{"volunteer_id": *volunteer, "channel": "web"}},
		{Type: "rescue.first_active", Key: *volunteer,
			Data: map[string]any{"volunteer_id": *volunteer, "rescue_id": "r-1001", "minutes_to_first_reply": 3}},
	}
	for _, ev := range events {
		id, err := client.Emit(ctx, ev)
		if err != nil {
			fmt.Fprintln(os.Stderr, "emit-app: emit", ev.Type+":", err)
			return 1
		}
		fmt.Printf("spooled %s %s (key %s)\n", ev.Type, id, ev.Key)
	}

	fmt.Printf("delivering to %s (waiting up to %s)\n", dest, *wait)
	flushCtx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	err = client.Flush(flushCtx)
	st := client.Stats()
	if err != nil {
		fmt.Printf("not delivered yet: %d events stay in %s and are sent by the next run (%v)\n", st.Spooled, *spool, err)
		return 3
	}
	fmt.Printf("delivered: %d sent (%d already known to sfbridge), %d rejected, %d failed attempts\n",
		st.Sent, st.Duplicates, st.Rejected, st.Retries)
	return 0
}

// newSink builds the destination and a description of it for the output.
func newSink(endpoint, tokenFile, folder string) (emit.Sink, string, error) {
	if folder != "" {
		s, err := emit.NewFolderSink(folder)
		return s, "folder " + folder, err
	}
	token, err := readToken(tokenFile)
	if err != nil {
		return nil, "", err
	}
	s, err := emit.NewHTTPSink(endpoint, token, emit.HTTPOptions{UserAgent: "emit-app"})
	if err != nil {
		return nil, "", err
	}
	return s, s.URL(), nil
}

// readToken returns the token from tokenFile, else $SFBRIDGE_EVENTS_TOKEN.
func readToken(tokenFile string) (string, error) {
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		token := strings.TrimRight(string(b), "\r\n")
		if token == "" {
			return "", fmt.Errorf("token file %s is empty", tokenFile)
		}
		return token, nil
	}
	if token := os.Getenv("SFBRIDGE_EVENTS_TOKEN"); token != "" {
		return token, nil
	}
	return "", errors.New("no token: set SFBRIDGE_EVENTS_TOKEN or pass -token-file")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
