package engine_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/pgtest"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// buildSfbridge builds the sfbridge command into a temporary directory.
func buildSfbridge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sfbridge")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/sfbridge/sfbridge/cmd/sfbridge").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// lockedBuffer is an io.Writer safe for a process's stdout and stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// daemon is `sfbridge run` as a process.
type daemon struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
}

func startDaemon(t *testing.T, bin, cfgPath string, env []string) *daemon {
	t.Helper()
	d := &daemon{out: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "run", "--config", cfgPath)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	require.NoError(t, d.cmd.Start())
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("sfbridge (pid %d) output:\n%s", d.cmd.Process.Pid, d.out.String())
		}
	})
	return d
}

// signal sends sig and waits for the process to end.
func (d *daemon) signal(t *testing.T, sig syscall.Signal, within time.Duration) {
	t.Helper()
	require.NoError(t, d.cmd.Process.Signal(sig))
	select {
	case <-d.done:
	case <-time.After(within):
		t.Fatalf("sfbridge did not exit within %s of %s", within, sig)
	}
}

// The process is killed with SIGKILL while batches are in flight and
// started again on the same data_dir: nothing is lost.
func TestKilledMidBatchAndRestartedLosesNothing(t *testing.T) {
	t.Parallel()
	bin := buildSfbridge(t)
	const counselors = 4000
	db := pgtest.New(t)
	ctx := t.Context()
	require.NoError(t, demo.Setup(ctx, db.Pool, db.Schema, 10, counselors))
	emu := sfemu.New(sfemu.Options{Seed: 1})
	// Slow writes: every batch spends a while in flight.
	require.NoError(t, emu.Faults().Set(sfemu.FaultConfig{Latency: []sfemu.LatencyFault{{
		Match: sfemu.Match{Endpoint: "collections.*"}, Fixed: sfemu.Duration(100 * time.Millisecond), PerRecord: sfemu.Duration(time.Millisecond),
	}}}))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	yaml := demo.ConfigYAML(filepath.Join(dir, "data"), srv.URL, "127.0.0.1:0", db.Schema)
	for old, repl := range map[string]string{
		"every: 2s":                       "every: 1s", // the least the config accepts
		"lag: 1s":                         "lag: 0s",
		"backoff: {initial: 2s, max: 1m}": "backoff: {initial: 200ms, max: 2s}",
		"sources:":                        "log: {level: debug}\nsources:",
	} {
		require.Equal(t, 1, strings.Count(yaml, old), "the demo config has %q once", old)
		yaml = strings.Replace(yaml, old, repl, 1)
	}
	cfgPath := filepath.Join(dir, "sfbridge.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(yaml), 0o600))
	env := os.Environ()
	for k, v := range demo.Env(db.URL) {
		env = append(env, k+"="+v)
	}
	b := &bundle{db: db, emu: emu, schema: db.Schema}
	org := emu.Org()

	first := startDaemon(t, bin, cfgPath, env)
	rnd := rand.New(rand.NewPCG(3, 3))
	for range 50 {
		_, err := demo.Change(ctx, db.Pool, db.Schema, rnd, counselors)
		require.NoError(t, err)
	}
	// Some but not all delivered, and writes in flight.
	eventually(t, 2*time.Minute, func() error {
		select {
		case <-first.done:
			require.FailNow(t, "sfbridge exited", "%v", first.err)
		default:
		}
		n, inflight := org.ObjectCounts()["Contact"], emu.Faults().Status().InFlight
		if n < counselors/5 || inflight == 0 {
			return fmt.Errorf("%d Contacts, %d calls in flight", n, inflight)
		}
		return nil
	})
	first.signal(t, syscall.SIGKILL, 10*time.Second)
	var exit *exec.ExitError
	require.ErrorAs(t, first.err, &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
	killedAt := org.ObjectCounts()["Contact"]
	require.Less(t, killedAt, counselors, "killed before everything was delivered")

	// Changes while it is down, then the second run on the same data_dir.
	for range 50 {
		_, err := demo.Change(ctx, db.Pool, db.Schema, rnd, counselors)
		require.NoError(t, err)
	}
	emu.Faults().Clear()
	start := time.Now()
	second := startDaemon(t, bin, cfgPath, env)
	b.waitInSync(t, 3*time.Minute)
	t.Logf("killed with %d of %d Contacts delivered; in sync %s after the restart", killedAt, counselors, time.Since(start).Round(time.Millisecond))

	second.signal(t, syscall.SIGTERM, time.Minute)
	require.NoError(t, second.err, "a drained stop exits 0")
	require.NotContains(t, second.out.String(), "level=ERROR")
}
