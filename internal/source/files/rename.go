package files

import (
	"errors"
	"io/fs"
	"os"
)

// renameIfAbsent renames oldpath to newpath unless newpath exists
// (fs.ErrExist then). Only this source writes its processed and
// quarantine folders, so the check and the rename do not race.
func renameIfAbsent(oldpath, newpath string) error {
	if _, err := os.Lstat(newpath); err == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(oldpath, newpath)
}
