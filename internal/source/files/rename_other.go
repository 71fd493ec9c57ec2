//go:build !linux

package files

// renameNoReplace renames oldpath to newpath unless newpath exists
// (fs.ErrExist then).
func renameNoReplace(oldpath, newpath string) error {
	return renameIfAbsent(oldpath, newpath)
}
