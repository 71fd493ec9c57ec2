package files

import (
	"os"
	"sync/atomic"
)

// op is what happened to a file, as far as taking it is concerned.
type op int

const (
	// opCreated: the name appeared (opened with O_CREAT, or linked).
	opCreated op = iota
	// opWritten: data was written; more may come until opClosed.
	opWritten
	// opClosed: a writer closed it after writing (IN_CLOSE_WRITE).
	opClosed
	// opRenamedIn: renamed into the folder, complete (IN_MOVED_TO).
	opRenamedIn
	// opRemoved: deleted or renamed away.
	opRemoved
	// opChanged: its times or permissions changed.
	opChanged
)

// fsEvent is one event of the watched folder.
type fsEvent struct {
	name string
	op   op
}

// eventBuffer bounds the events waiting for the source's loop. When it is
// full (the loop is busy with a long file) further events are dropped and
// the loop lists the folder instead, as after a kernel queue overflow.
const eventBuffer = 4096

// watcher reports the events of one folder (inotify on Linux).
type watcher struct {
	f      *os.File
	events chan fsEvent
	// kick is signalled when events were lost (overflow) or the watch
	// ended (lost); the loop then lists the folder.
	kick     chan struct{}
	overflow atomic.Bool
	lost     atomic.Bool
	done     chan struct{}
}

func (w *watcher) lose() {
	w.lost.Store(true)
	w.signal()
}

func (w *watcher) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// close ends the watch and waits for the reader.
func (w *watcher) close() {
	_ = w.f.Close()
	<-w.done
}
