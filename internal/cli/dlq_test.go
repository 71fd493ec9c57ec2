package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/queue/natsjs"
)

// runDLQ runs `sfbridge dlq args…` as Run does.
func runDLQ(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	stdio := IO{Out: &out, Err: &errOut}
	root := newRoot(stdio)
	if c, _, err := root.Find([]string{"dlq"}); err != nil || c.Name() != "dlq" {
		root.AddCommand(newDLQCmd(stdio)) // until root.go registers it
	}
	root.SetArgs(append([]string{"dlq"}, args...))
	err := root.ExecuteContext(context.Background())
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(&errOut, "sfbridge: "+err.Error())
	}
	return ExitCode(err), out.String(), errOut.String()
}

// dlqEnv is a config file whose embedded store holds a few DLQ entries.
type dlqEnv struct {
	dir, data, config string
	seqs              []uint64 // counselors: A, B, A; rescues: C
}

const dlqSubject = "in.platform_db.public.counselors"

func setupDLQ(t *testing.T) *dlqEnv {
	t.Helper()
	dir := t.TempDir()
	e := &dlqEnv{dir: dir, data: filepath.Join(dir, "data"), config: filepath.Join(dir, "sfbridge.yaml")}
	y := fmt.Sprintf(`version: 1
data_dir: %s
nats: embedded
salesforce:
  login_url: https://acme.my.salesforce.com
  auth: {flow: client_credentials, client_id: id, client_secret: secret}
sources:
  - name: platform_db
    type: postgres_poll
    dsn: postgres://localhost/test
    tables:
      - {table: public.counselors, key: id, cursor: updated_at}
syncs:
  - name: counselors
    from: platform_db
    object: Contact
    external_id: Counselor_Id__c
    fields:
      Counselor_Id__c: row.id
      LastName: row.last_name
`, e.data)
	require.NoError(t, os.WriteFile(e.config, []byte(y), 0o600))

	// What a run of sfbridge leaves behind: the sync's consumer and some
	// dead letters. The broker is closed again so the CLI can open it.
	b := brokertest.Embedded(t, e.data)
	q, err := natsjs.Open(context.Background(), b, natsjs.Config{})
	require.NoError(t, err)
	_, err = q.Consumer(context.Background(), queue.ConsumerConfig{Name: "counselors", Subject: "in.platform_db.>"})
	require.NoError(t, err)
	s := dlq.NewStore(q)
	for i, x := range []struct{ sync, code, msg string }{
		{"counselors", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Email must be a company address"},
		{"counselors", "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"},
		{"counselors", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Email must be a company address"},
		{"rescues", "DUPLICATE_VALUE", "duplicate value found"},
	} {
		at := time.Date(2026, 3, 1, 9, i, 0, 0, time.UTC)
		raw := fmt.Sprintf(`{"v":1,"id":"m%d","payload":{"id":%d}}`, i, 40+i)
		seq, err := s.Put(context.Background(), dlq.Entry{
			Sync: x.sync, Reason: dlq.ReasonPermanent, Code: x.code, Message: x.msg,
			Attempts: []dlq.Attempt{{N: 1, Delivery: 1, At: at, Class: "permanent", Code: x.code, Message: x.msg}},
			DeadAt:   at, Subject: dlqSubject, MessageID: fmt.Sprintf("m%d", i), Published: at.Add(-time.Second),
			Raw:    []byte(raw),
			Record: &dlq.Identity{ID: fmt.Sprintf("m%d", i), Source: "platform_db", Collection: "public.counselors", Op: "upsert", Key: fmt.Sprintf(`[["id",%d]]`, 40+i), Version: "time:2026-03-01T09:00:00Z"},
		})
		require.NoError(t, err)
		e.seqs = append(e.seqs, seq)
	}
	require.NoError(t, b.Close())
	return e
}

func TestDLQList(t *testing.T) {
	t.Parallel()
	e := setupDLQ(t)

	code, out, errOut := runDLQ(t, "list", "--config", e.config)
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 6, out)
	require.Regexp(t, `^SEQ +STORED \(UTC\) +SYNC +REASON +CODE +ATTEMPTS +KEY +MESSAGE$`, lines[0])
	require.Regexp(t, fmt.Sprintf(`^%d +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +counselors +permanent +FIELD_CUSTOM_VALIDATION_EXCEPTION +1 +\[\["id",40\]\] +Email must be a company address$`, e.seqs[0]), lines[1])
	require.Equal(t, "4 entries", lines[5])

	code, out, _ = runDLQ(t, "list", "--config", e.config, "--sync", "counselors", "--code", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "2 entries")
	require.NotContains(t, out, "REQUIRED_FIELD_MISSING")

	code, out, _ = runDLQ(t, "list", "--config", e.config, "--limit", "3")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, fmt.Sprintf("3 entries shown; more with --from %d", e.seqs[3]))

	code, out, _ = runDLQ(t, "list", "--config", e.config, "--since", "1h")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "4 entries", "stored just now")
	code, out, _ = runDLQ(t, "list", "--config", e.config, "--until", "2000-01-01")
	require.Equal(t, ExitOK, code)
	require.Equal(t, "No DLQ entries match.\n", out)

	code, out, errOut = runDLQ(t, "list", "--config", e.config, "--sync", "rescues", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var got struct {
		Entries []struct {
			Seq   uint64    `json:"seq"`
			Sync  string    `json:"sync"`
			Entry dlq.Entry `json:"entry"`
		} `json:"entries"`
		Next uint64 `json:"next"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got.Entries, 1)
	require.Equal(t, e.seqs[3], got.Entries[0].Seq)
	require.Equal(t, "rescues", got.Entries[0].Sync)
	require.Equal(t, "DUPLICATE_VALUE", got.Entries[0].Entry.Code)
	require.Zero(t, got.Next)
}

func TestDLQShow(t *testing.T) {
	t.Parallel()
	e := setupDLQ(t)
	seq := fmt.Sprint(e.seqs[1])
	code, out, errOut := runDLQ(t, "show", seq, "--config", e.config)
	require.Equal(t, ExitOK, code, errOut)
	for _, want := range []string{
		"Entry " + seq + ", stored ",
		"Sync:     counselors\n",
		"Reason:   permanent\n",
		"Error:    REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]\n",
		"Record:   upsert platform_db.public.counselors key [[\"id\",41]]",
		"  1. 2026-03-01 09:01:00 UTC  delivery 1  permanent  REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]\n",
		"\"payload\": {",
	} {
		require.Contains(t, out, want)
	}

	code, out, _ = runDLQ(t, "show", seq, "--config", e.config, "--json")
	require.Equal(t, ExitOK, code)
	var got struct {
		Entry json.RawMessage `json:"entry"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	en, err := dlq.Unmarshal(compact(t, got.Entry))
	require.NoError(t, err)
	require.Equal(t, "REQUIRED_FIELD_MISSING", en.Code)
	require.Equal(t, `{"v":1,"id":"m1","payload":{"id":41}}`, string(en.Raw))

	code, _, errOut = runDLQ(t, "show", "999", "--config", e.config)
	require.Equal(t, ExitInvalid, code)
	require.Contains(t, errOut, "no DLQ entry 999")
	code, _, errOut = runDLQ(t, "show", "x1", "--config", e.config)
	require.Equal(t, ExitInvalid, code)
	require.Contains(t, errOut, `"x1" is not a DLQ entry number`)
}

func compact(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, b))
	return buf.Bytes()
}

func TestDLQReplay(t *testing.T) {
	t.Parallel()
	e := setupDLQ(t)

	code, _, errOut := runDLQ(t, "replay", "--config", e.config)
	require.Equal(t, ExitInvalid, code)
	require.Contains(t, errOut, "--all")

	code, out, _ := runDLQ(t, "replay", "--all", "--sync", "counselors", "--dry-run", "--config", e.config)
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "Would replay 3, failed 0.")

	// Two of counselors' entries and the rescues one, whose sync has no
	// consumer: that one is kept and the exit code says so.
	code, out, errOut = runDLQ(t, "replay", fmt.Sprint(e.seqs[0]), fmt.Sprint(e.seqs[2]), fmt.Sprint(e.seqs[3]), "--json", "--config", e.config)
	require.Equal(t, ExitFailure, code, errOut)
	require.Empty(t, errOut)
	var got struct {
		Replayed []dlq.Replayed `json:"replayed"`
		Failed   []struct {
			Seq   uint64 `json:"seq"`
			Error string `json:"error"`
		} `json:"failed"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got.Replayed, 2)
	require.Equal(t, dlq.Replayed{Seq: e.seqs[0], Sync: "counselors", Subject: dlqSubject, MessageID: dlq.ReplayID(e.seqs[0], "m0")}, got.Replayed[0])
	require.Len(t, got.Failed, 1)
	require.Equal(t, e.seqs[3], got.Failed[0].Seq)
	require.Contains(t, got.Failed[0].Error, "no consumer")

	code, out, _ = runDLQ(t, "list", "--config", e.config)
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "2 entries")

	// The records wait for the sync, marked for it.
	b := brokertest.Embedded(t, e.data)
	q, err := natsjs.Open(context.Background(), b, natsjs.Config{})
	require.NoError(t, err)
	c, err := q.Consumer(context.Background(), queue.ConsumerConfig{Name: "counselors", Subject: "in.platform_db.>"})
	require.NoError(t, err)
	ds, err := c.Fetch(context.Background(), 10, 2*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	require.Equal(t, `{"v":1,"id":"m0","payload":{"id":40}}`, string(ds[0].Data()))
	require.Equal(t, "counselors", ds[0].Headers()[dlq.HeaderReplayFor])
	require.Equal(t, dlqSubject, ds[0].Subject())
	require.NoError(t, b.Close())
}

func TestDLQDrop(t *testing.T) {
	t.Parallel()
	e := setupDLQ(t)
	code, out, errOut := runDLQ(t, "drop", "--all", "--code", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "--json", "--config", e.config)
	require.Equal(t, ExitOK, code, errOut)
	var got struct {
		Dropped []uint64 `json:"dropped"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, []uint64{e.seqs[0], e.seqs[2]}, got.Dropped)

	code, out, _ = runDLQ(t, "drop", fmt.Sprint(e.seqs[0]), fmt.Sprint(e.seqs[1]), "--config", e.config)
	require.Equal(t, ExitFailure, code)
	require.Contains(t, out, fmt.Sprintf("Not dropped %d: no such entry", e.seqs[0]))
	require.Contains(t, out, "Dropped 1, failed 1.")

	code, _, errOut = runDLQ(t, "drop", "1", "--all", "--config", e.config)
	require.Equal(t, ExitInvalid, code)
	require.Contains(t, errOut, "not both")

	code, out, _ = runDLQ(t, "list", "--config", e.config)
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "1 entry\n")
}

func TestDLQWhileTheDaemonHoldsTheStore(t *testing.T) {
	t.Parallel()
	e := setupDLQ(t)
	b := brokertest.Embedded(t, e.data) // the running sfbridge
	code, out, errOut := runDLQ(t, "list", "--config", e.config)
	require.Equal(t, ExitFailure, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "in use by another sfbridge process")
	require.Contains(t, errOut, "external NATS")
	require.NoError(t, b.Close())
	code, _, _ = runDLQ(t, "list", "--config", e.config)
	require.Equal(t, ExitOK, code)
}

func TestDLQBadInput(t *testing.T) {
	t.Parallel()
	e := setupDLQ(t)
	for _, args := range [][]string{
		{"list", "--since", "yesterday"},
		{"list", "--since", "1h", "--until", "2h"},
		{"list", "--sync", "bad name"},
		{"list", "--reason", "tired"},
		{"list", "--limit", "0"},
		{"show"},
		{"list", "--config", filepath.Join(e.dir, "missing.yaml")},
	} {
		if !slicesContain(args, "--config") {
			args = append(args, "--config", e.config)
		}
		code, _, errOut := runDLQ(t, args...)
		require.Equal(t, ExitInvalid, code, "%v: %s", args, errOut)
		require.True(t, strings.HasPrefix(errOut, "sfbridge: "), errOut)
	}
}

func slicesContain(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func TestParseWhen(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2026-03-01T09:00:00Z", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		{"2026-03-01T09:00:00+02:00", time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := parseWhen(tt.in, now)
		require.NoError(t, err, tt.in)
		require.True(t, tt.want.Equal(got), "%s: %s", tt.in, got)
	}
	for _, bad := range []string{"yesterday", "-2h", "7x", "2026-13-01"} {
		_, err := parseWhen(bad, now)
		require.Error(t, err, bad)
	}
}
