package emit

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestSpoolFormatGolden pins the on-disk format: a spool written by one
// version must be readable by the next.
func TestSpoolFormatGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sp, err := openSpool(dir, DefaultSegmentBytes, 0, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	var reqs []*request
	for i, typ := range []string{"volunteer.login", "rescue.first_active"} {
		ev := Event{ID: fmt.Sprintf("01HXZ5M8Q4T2V6W9Y3B7C1D0E%d", i), Type: typ, Time: t0, Key: "v-42", Data: map[string]any{"channel": "web"}}
		b, err := encode(&ev, 0)
		require.NoError(t, err)
		reqs = append(reqs, &request{data: b})
	}
	sp.append(reqs)
	for _, r := range reqs {
		require.NoError(t, r.err)
	}
	batch, _, err := sp.read(pos{1, segHeader}, 10, 1<<20)
	require.NoError(t, err)
	require.Len(t, batch, 2)
	require.NoError(t, sp.ack(batch[0].end, 1, batch[0].size))
	require.NoError(t, sp.close())

	for name, golden := range map[string]string{segName(1): "segment.golden", cursorName: "cursor.golden"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		path := filepath.Join("testdata", golden)
		if *update {
			require.NoError(t, os.WriteFile(path, got, 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test -update to create it")
		require.Equal(t, want, got, "%s differs from %s", name, path)
	}

	// The golden spool opens with the second event pending.
	dir2 := t.TempDir()
	for name, golden := range map[string]string{segName(1): "segment.golden", cursorName: "cursor.golden"} {
		b, err := os.ReadFile(filepath.Join("testdata", golden))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir2, name), b, 0o600))
	}
	sp, err = openSpool(dir2, DefaultSegmentBytes, 0, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer sp.close()
	_, _, n, _ := sp.state()
	require.EqualValues(t, 1, n)
	batch, _, err = sp.read(sp.cursor, 10, 1<<20)
	require.NoError(t, err)
	require.Len(t, batch, 1)
	require.Equal(t, "01HXZ5M8Q4T2V6W9Y3B7C1D0E1", batch[0].msg.ID)
}

func TestForeignSegmentRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, segName(1)), []byte("not a spool segment at all"), 0o600))
	sink, err := NewFolderSink(t.TempDir())
	require.NoError(t, err)
	cfg, _ := testConfig(t, sink)
	cfg.SpoolDir = dir
	_, err = New(cfg)
	require.ErrorContains(t, err, "not a spool segment")
	// The lock was released on the way out.
	require.NoError(t, os.Remove(filepath.Join(dir, segName(1))))
	c, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Close(t.Context()))
}

const killChildEnv = "EMIT_TEST_KILL_CHILD_SPOOL"

// TestKillDuringEmit kills (SIGKILL) a process while 8 goroutines emit;
// every event whose Emit returned must be delivered after a restart.
func TestKillDuringEmit(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "spool")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringEmit$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	var acked []string
	for sc.Scan() {
		acked = append(acked, sc.Text())
		if len(acked) == 500 {
			require.NoError(t, cmd.Process.Kill())
		}
	}
	cmd.Wait()
	require.GreaterOrEqual(t, len(acked), 500, "the child printed too few ids")

	srv := newEventServer(t, "tok")
	cfg, _ := testConfig(t, httpSink(t, srv.url(), "tok"))
	cfg.SpoolDir = dir
	c := open(t, cfg)
	flush(t, c)
	accepted, seen, _ := srv.snapshot()
	for _, id := range acked {
		require.NotNil(t, accepted[id], "event %s was acknowledged by Emit before the kill but is lost", id)
		require.Equal(t, 1, seen[id])
	}
	t.Logf("%d events acknowledged before the kill, %d delivered after the restart", len(acked), len(accepted))
}

// killChild emits until killed, printing each id Emit returned.
func killChild(dir string) {
	c, err := New(Config{SpoolDir: dir, Sink: holdSink{}, MaxSpoolBytes: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second) // the parent kills it long before
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				id, err := c.Emit(context.Background(), Event{Type: "kill.test", Data: map[string]any{"g": g, "i": i, "pad": strings.Repeat("x", i%300)}})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				os.Stdout.WriteString(id + "\n")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}
