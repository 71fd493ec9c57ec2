//go:build windows

package emit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir opens path (created if missing) with no sharing, so a second
// open fails until the first handle is closed or its process ends.
func lockDir(path string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("emit: lock %s: %w", path, err)
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
		syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		const errorSharingViolation syscall.Errno = 32
		if errors.Is(err, errorSharingViolation) {
			return nil, fmt.Errorf("%w: %s is locked by another Client (in this or another process)", ErrSpoolInUse, path)
		}
		return nil, fmt.Errorf("emit: lock %s: %w", path, err)
	}
	return os.NewFile(uintptr(h), path), nil
}

// syncDir is a no-op: Windows makes renames durable with the file system's
// journal and cannot fsync a directory.
func syncDir(string) error { return nil }
