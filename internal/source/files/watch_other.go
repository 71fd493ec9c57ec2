//go:build !linux

package files

import "errors"

// newWatcher fails: only Linux has inotify. The folder is listed every
// rescan interval instead.
func newWatcher(string) (*watcher, error) {
	return nil, errors.New("watching a folder needs inotify (Linux)")
}
