package files

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The inotify events a watch asks for. Directories inside the folder are
// not watched (only files directly in it are read).
const watchMask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE |
	unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// newWatcher watches dir. The inotify descriptor is non-blocking, so its
// reads go through the runtime's poller and close ends them.
func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w (see fs.inotify.max_user_instances)", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, watchMask); err != nil {
		_ = unix.Close(fd)
		if errors.Is(err, unix.ENOSPC) {
			return nil, fmt.Errorf("inotify_add_watch %s: %w (raise fs.inotify.max_user_watches)", dir, err)
		}
		return nil, fmt.Errorf("inotify_add_watch %s: %w", dir, err)
	}
	w := &watcher{
		f:      os.NewFile(uintptr(fd), "inotify "+dir),
		events: make(chan fsEvent, eventBuffer),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	go w.read()
	return w, nil
}

// read turns what the kernel reports into fsEvents until close.
func (w *watcher) read() {
	defer close(w.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if !errors.Is(err, os.ErrClosed) {
				w.lose()
			}
			return
		}
		w.parse(buf[:n])
	}
}

// parse splits a read into events (struct inotify_event: wd, mask, cookie,
// len, then len bytes of NUL-padded name).
func (w *watcher) parse(b []byte) {
	for off := 0; off+unix.SizeofInotifyEvent <= len(b); {
		mask := binary.NativeEndian.Uint32(b[off+4:])
		n := int(binary.NativeEndian.Uint32(b[off+12:]))
		start := off + unix.SizeofInotifyEvent
		if start+n > len(b) {
			return
		}
		name := b[start : start+n]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		off = start + n
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			w.overflow.Store(true)
			w.signal()
		case mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_UNMOUNT) != 0:
			w.lose()
		case mask&unix.IN_ISDIR != 0:
		default:
			ev := fsEvent{name: string(name), op: opOf(mask)}
			select {
			case w.events <- ev:
			default:
				w.overflow.Store(true)
				w.signal()
			}
		}
	}
}

// opOf maps an inotify mask to the one thing the loop needs to know.
func opOf(mask uint32) op {
	switch {
	case mask&unix.IN_MOVED_TO != 0:
		return opRenamedIn
	case mask&(unix.IN_MOVED_FROM|unix.IN_DELETE) != 0:
		return opRemoved
	case mask&unix.IN_CLOSE_WRITE != 0:
		return opClosed
	case mask&unix.IN_MODIFY != 0:
		return opWritten
	case mask&unix.IN_CREATE != 0:
		return opCreated
	}
	return opChanged // IN_ATTRIB: times or permissions
}
