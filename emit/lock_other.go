//go:build !unix && !windows

package emit

import (
	"fmt"
	"os"
	"runtime"
)

// lockDir fails: this platform has no file lock emit knows how to take,
// and a spool without one could be corrupted by two writers.
func lockDir(path string) (*os.File, error) {
	return nil, fmt.Errorf("emit: lock %s: file locking is not supported on %s", path, runtime.GOOS)
}

func syncDir(string) error { return nil }
