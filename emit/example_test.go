package emit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/sfbridge/sfbridge/emit"
)

func Example() {
	// A stand-in for sfbridge's http source: it prints what it receives
	// and answers 202 with the counts.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			var ev struct{ Type, Key string }
			if err := json.Unmarshal(sc.Bytes(), &ev); err == nil {
				fmt.Println("sfbridge received", ev.Type, "about", ev.Key)
				n++
			}
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted":%d,"duplicates":0,"rejected":[]}`, n)
	}))
	defer srv.Close()

	spool, err := os.MkdirTemp("", "emit-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(spool)

	sink, err := emit.NewHTTPSink(srv.URL, "the-token", emit.HTTPOptions{})
	if err != nil {
		log.Fatal(err)
	}
	client, err := emit.New(emit.Config{SpoolDir: spool, Sink: sink})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	defer client.Close(ctx)

	// Emit returns once the event is on disk; delivery happens behind it.
	for _, typ := range []string{"volunteer.login", "rescue.first_active"} {
		if _, err := client.Emit(ctx, emit.Event{Type: typ, Key: "v-42",
			Data: map[string]any{"volunteer_id": "v-42"}}); err != nil {
			log.Fatal(err)
		}
	}
	// Before exiting, an application may wait for delivery (bounded by
	// ctx); what it does not wait for is sent by the next New.
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("unsent:", client.Stats().Spooled)
	// Output:
	// sfbridge received volunteer.login about v-42
	// sfbridge received rescue.first_active about v-42
	// unsent: 0
}
