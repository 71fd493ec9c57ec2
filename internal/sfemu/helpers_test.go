package sfemu_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixedNow = time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)

// setup starts an emulator with a fixed clock and seed, so Ids and dates
// in responses are reproducible.
func setup(t *testing.T) *sfemutest.Server {
	t.Helper()
	return sfemutest.Start(t, sfemu.Options{Seed: 1, Now: func() time.Time { return fixedNow }})
}

const v = "/services/data/v62.0"

type obj = map[string]any

// golden compares a response (status, content type, body with JSON
// indented and the server URL replaced by http://EMULATOR) with
// testdata/<name>.golden; -update rewrites the file.
func golden(t *testing.T, s *sfemutest.Server, name string, r *sfemutest.Response) {
	t.Helper()
	body := r.Body
	var buf bytes.Buffer
	if len(body) > 0 && json.Indent(&buf, body, "", "  ") == nil {
		body = buf.Bytes()
	}
	got := fmt.Sprintf("HTTP %d\nContent-Type: %s\n\n%s\n", r.Status, r.Header.Get("Content-Type"),
		strings.ReplaceAll(string(body), s.URL, "http://EMULATOR"))
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./internal/sfemu/ -update")
	require.Equal(t, string(want), got, "response differs from %s (go test -update rewrites it)", path)
}

// apiErrors decodes a REST error envelope.
func apiErrors(t *testing.T, r *sfemutest.Response) []sfemu.APIError {
	t.Helper()
	var errs []sfemu.APIError
	require.NoError(t, json.Unmarshal(r.Body, &errs), "body %s", r.Body)
	return errs
}

// requireError checks status and the single error of the envelope.
func requireError(t *testing.T, r *sfemutest.Response, status int, code, msg string) {
	t.Helper()
	require.Equal(t, status, r.Status, "body %s", r.Body)
	require.Equal(t, "application/json;charset=UTF-8", r.Header.Get("Content-Type"))
	errs := apiErrors(t, r)
	require.Len(t, errs, 1)
	require.Equal(t, code, errs[0].ErrorCode)
	require.Equal(t, msg, errs[0].Message)
}

// create inserts one record through the REST API and returns its Id.
func create(t *testing.T, s *sfemutest.Server, object string, fields obj) string {
	t.Helper()
	r := s.Do(t, "POST", v+"/sobjects/"+object, fields)
	require.Equal(t, 201, r.Status, "create %s: %s", object, r.Body)
	var res struct{ ID string }
	r.JSON(t, &res)
	return res.ID
}
