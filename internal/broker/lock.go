package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked is returned (wrapped) by Open when another process holds the
// embedded store: nats-server does not lock its store directory itself, and
// two servers writing one store corrupt it.
var ErrLocked = errors.New("embedded store in use")

// LockFile is the file under data_dir an embedded broker locks while open.
const LockFile = "sfbridge.lock"

// lockDataDir takes an exclusive, non-blocking flock on <dataDir>/sfbridge.lock.
// The kernel releases it when the process dies, even by SIGKILL.
func lockDataDir(dataDir string) (unlock func(), err error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("broker: data_dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("broker: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: the embedded store in %s is in use by another sfbridge process (%s is locked); stop it first, or use an external NATS (nats: nats://…)", ErrLocked, dataDir, path)
		}
		return nil, fmt.Errorf("broker: lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
