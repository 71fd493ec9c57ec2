package files

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/perf"
)

// BenchmarkFolder publishes 100,000 events from 100 NDJSON files of 1,000
// each, already in the folder, into the embedded broker: every batch
// confirmed and checkpointed, every file moved. It reports records/s and
// the process's peak RSS.
//
//	go test ./internal/source/files -run '^$' -bench Folder -benchtime 3x
func BenchmarkFolder(b *testing.B) {
	const files, perFile = 100, 1000
	bb := setup(b)
	ctx := context.Background()
	for i := range b.N {
		b.StopTimer()
		dir := filepath.Join(bb.dir, fmt.Sprint("run", i))
		require.NoError(b, os.Mkdir(dir, 0o755))
		for f := range files {
			var buf bytes.Buffer
			for e := range perFile {
				fmt.Fprintf(&buf, `{"id":"%d-%d-%d","type":"rescue","time":"2024-05-01T12:00:00Z","counselor":%d,"note":"a typical event of a hundred bytes or so"}`+"\n", i, f, e, e)
			}
			require.NoError(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.ndjson", f)), buf.Bytes(), 0o644))
		}
		cfg := bb.config(func(c *config.Files) {
			c.Path = dir
			c.ProcessedDir = filepath.Join(dir, "processed")
			c.QuarantineDir = filepath.Join(dir, "quarantine")
			c.Settle = 0
		})
		s, err := New(bb.options(cfg, func(o *Options) { o.Queue = bb.queue }))
		require.NoError(b, err)
		b.StartTimer()

		require.NoError(b, s.Start(ctx))
		for s.Stats().Files < files {
			time.Sleep(time.Millisecond) // polling a condition, not waiting for one
		}
		b.StopTimer()
		require.NoError(b, s.Stop(ctx))
		st := s.Stats()
		require.Equal(b, int64(files*perFile), st.Events)
		require.Zero(b, st.DeadLettered+st.Quarantined+st.Failures)
		b.StartTimer()
	}
	perf.ReportThroughput(b, files*perFile*b.N)
}
