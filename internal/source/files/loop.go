package files

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// candidate is a file of the folder not yet taken, and what is known of
// it. Only the loop goroutine touches candidates.
type candidate struct {
	name string
	id   identity
	// seen is when id was first observed (monotonic clock): the file is
	// settled once a look at least settle later finds the same id.
	seen time.Time
	// writing: the watch saw a write and no close after it; the file is
	// not taken until it is closed.
	writing bool
	// renamed: renamed into the folder and unchanged since: taken at once.
	renamed bool
	// failures counts the failed attempts at this file; retryAt is when
	// the next may start.
	failures int
	retryAt  time.Time
}

// observe records fi as the file's latest state; true when it differs
// from what was known (the settle period starts again).
func (c *candidate) observe(fi os.FileInfo, now time.Time) bool {
	id := identityOf(fi)
	if !c.seen.IsZero() && id.equal(c.id) {
		return false
	}
	c.id, c.seen, c.renamed = id, now, false
	return true
}

// due is when the file may next be looked at to be taken; zero when it
// waits for an event (still open for writing).
func (c *candidate) due(settle time.Duration) time.Time {
	if c.writing {
		return time.Time{}
	}
	at := c.seen.Add(settle)
	if c.renamed {
		at = c.seen
	}
	if c.retryAt.After(at) {
		at = c.retryAt
	}
	return at
}

func identityOf(fi os.FileInfo) identity {
	id := identity{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.inode = uint64(st.Ino) // uint32 on some architectures
	}
	return id
}

// runner is the state of the source's loop goroutine.
type runner struct {
	s     *Source
	w     *watcher // nil when the folder is not watched
	cands map[string]*candidate
	// pauseUntil holds every file back after an outage (the queue, DLQ or
	// state store failed); outages counts the consecutive ones.
	pauseUntil time.Time
	outages    int
	// cleaned: checkpoints of files no longer in the folder were removed.
	cleaned bool
	// listFailed: the last listing of the folder failed (logged once).
	listFailed bool
}

// run is the source's loop: it keeps the candidates up to date from the
// watch and the listings, and takes the files that are ready one at a
// time, oldest first (modification time, then name).
func (s *Source) run(ctx context.Context, w *watcher) {
	defer s.wg.Done()
	r := &runner{s: s, w: w, cands: map[string]*candidate{}}
	defer func() {
		if r.w != nil {
			r.w.close()
		}
	}()
	r.scan(ctx)
	ticker := time.NewTicker(s.cfg.Rescan)
	defer ticker.Stop()
	// Since Go 1.23 a stopped or reset timer delivers no stale tick.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.takeReady(ctx)
		if s.isStopping() {
			return
		}
		s.pending.Store(int64(len(r.cands)))
		var wake <-chan time.Time
		if at := r.nextDue(); !at.IsZero() {
			timer.Reset(max(time.Until(at), 0))
			wake = timer.C
		} else {
			timer.Stop()
		}
		var events <-chan fsEvent
		var kick <-chan struct{}
		if r.w != nil {
			events, kick = r.w.events, r.w.kick
		}
		select {
		case <-s.stopCtx.Done():
			return
		case ev := <-events:
			r.handle(ev)
		case <-kick:
			r.kicked(ctx)
		case <-ticker.C:
			r.scan(ctx)
		case <-s.trigger:
			r.scan(ctx)
		case <-wake:
		}
		r.drain()
	}
}

// drain applies the events that are waiting, without blocking.
func (r *runner) drain() {
	if r.w == nil {
		return
	}
	for {
		select {
		case ev := <-r.w.events:
			r.handle(ev)
		default:
			return
		}
	}
}

// kicked handles events lost to an overflow (list the folder, forget what
// was known about open writers) or the end of the watch.
func (r *runner) kicked(ctx context.Context) {
	if r.w == nil {
		return
	}
	if r.w.lost.Load() {
		r.s.log.Warn("files: the watch on the folder ended (the folder was removed, moved or unmounted); listing it every rescan interval until it can be watched again", "path", r.s.dir)
		r.w.close()
		r.w = nil
		r.s.watching.Store(false)
	} else if r.w.overflow.Swap(false) {
		r.s.log.Debug("files: events of the watch were lost (queue overflow); listing the folder")
		r.drain()
		for _, c := range r.cands {
			c.writing = false // a close may have been lost; settle decides
		}
	}
	r.scan(ctx)
}

// eligible reports whether a name in the folder is one the source takes.
func (s *Source) eligible(name string) bool {
	if name == "" || name[0] == '.' || s.skipNames[name] {
		return false
	}
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".tmp") || strings.HasSuffix(lower, ".part") {
		return false
	}
	ok, _ := filepath.Match(s.cfg.Pattern, name) // checked by New
	return ok
}

// handle applies one event of the watch.
func (r *runner) handle(ev fsEvent) {
	if !r.s.eligible(ev.name) {
		return
	}
	now := time.Now()
	c := r.cands[ev.name]
	switch ev.op {
	case opRemoved:
		delete(r.cands, ev.name)
		return
	case opRenamedIn:
		c = &candidate{name: ev.name}
		r.cands[ev.name] = c
	case opWritten:
		if c != nil {
			c.writing, c.renamed = true, false
			return // no need to look: it is not taken before the close
		}
	}
	if c == nil {
		c = &candidate{name: ev.name}
		r.cands[ev.name] = c
	}
	fi, ok := r.lstat(ev.name)
	if !ok {
		delete(r.cands, ev.name)
		return
	}
	c.observe(fi, now)
	switch ev.op {
	case opRenamedIn:
		c.renamed, c.writing = true, false
	case opCreated:
		// Created empty: a writer has it open (a file linked into place
		// is not empty). Its writes and close tell the rest.
		c.writing = fi.Size() == 0
	case opWritten:
		c.writing = true
	case opClosed:
		c.writing = false
	}
}

// lstat looks at a name of the folder; false when it is gone or not a
// regular file.
func (r *runner) lstat(name string) (os.FileInfo, bool) {
	fi, err := os.Lstat(filepath.Join(r.s.dir, name))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.s.log.Warn("files: cannot look at a file", "file", name, "err", err)
		}
		return nil, false
	}
	return fi, fi.Mode().IsRegular()
}

// scan lists the folder: new files become candidates (settled after
// settle), candidates no longer there are forgotten. It also watches the
// folder again if the watch ended, and (once) removes the checkpoints of
// files no longer in the folder.
func (r *runner) scan(ctx context.Context) {
	s := r.s
	if r.w == nil && !s.noWatch && s.isStarted() {
		if w, err := newWatcher(s.dir); err == nil {
			s.log.Info("files: watching the folder again", "path", s.dir)
			r.w = w
			s.watching.Store(true)
		}
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		if !r.listFailed {
			s.log.Error("files: cannot list the folder; trying again every rescan interval", "path", s.dir, "err", err)
		}
		r.listFailed = true
		return
	}
	if r.listFailed {
		s.log.Info("files: the folder can be listed again", "path", s.dir)
		r.listFailed = false
	}
	now := time.Now()
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !s.eligible(name) {
			continue
		}
		present[name] = true
		if r.cands[name] != nil {
			continue
		}
		fi, ok := r.lstat(name)
		if !ok {
			continue
		}
		c := &candidate{name: name}
		c.observe(fi, now)
		r.cands[name] = c
	}
	for name := range r.cands {
		if !present[name] {
			delete(r.cands, name)
		}
	}
	if !r.cleaned {
		r.cleaned = r.cleanCheckpoints(ctx)
	}
}

// isStarted: the source got past Start (a watch set up by scan would
// otherwise outlive a failed Start).
func (s *Source) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started && !s.stopped
}

// cleanCheckpoints removes the checkpoints of files no longer in the
// folder: left by a crash after a file was moved and before its
// checkpoint was deleted. True when done.
func (r *runner) cleanCheckpoints(ctx context.Context) bool {
	s := r.s
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	entries, err := s.state.List(cctx, statePrefix(s.name))
	if err != nil {
		s.log.Warn("files: cannot list the checkpoints (tried again at the next listing)", "err", err)
		return false
	}
	for _, e := range entries {
		name := strings.TrimPrefix(e.Key, statePrefix(s.name))
		if _, err := os.Lstat(filepath.Join(s.dir, name)); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := s.state.Delete(cctx, e.Key, e.Revision); err != nil {
			s.log.Warn("files: cannot delete the checkpoint of a file no longer in the folder", "key", e.Key, "err", err)
			return false
		}
		s.log.Debug("files: deleted the checkpoint of a file no longer in the folder", "file", name)
	}
	return true
}

// nextDue is the earliest time a candidate (or the end of a pause) needs
// the loop; zero when nothing does.
func (r *runner) nextDue() time.Time {
	var at time.Time
	for _, c := range r.cands {
		d := c.due(r.s.cfg.Settle)
		if !d.IsZero() && (at.IsZero() || d.Before(at)) {
			at = d
		}
	}
	if !at.IsZero() && at.Before(r.pauseUntil) {
		at = r.pauseUntil
	}
	return at
}

// ready returns the candidates that may be taken now, oldest first
// (modification time, then name). A candidate due by its settle period is
// looked at again: it is ready only if unchanged.
func (r *runner) ready(now time.Time) []*candidate {
	if now.Before(r.pauseUntil) {
		return nil
	}
	var out []*candidate
	for name, c := range r.cands {
		d := c.due(r.s.cfg.Settle)
		if d.IsZero() || d.After(now) {
			continue
		}
		if !c.renamed {
			fi, ok := r.lstat(name)
			if !ok {
				delete(r.cands, name)
				continue
			}
			if c.observe(fi, now) && r.s.cfg.Settle > 0 {
				continue // changed: settle again
			}
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *candidate) int {
		if c := a.id.mtime.Compare(b.id.mtime); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	return out
}

// takeReady takes the ready files one at a time, until none is left, the
// source stops, or an outage pauses it.
func (r *runner) takeReady(ctx context.Context) {
	s := r.s
	for _, c := range r.ready(time.Now()) {
		r.drain()
		if s.isStopping() || time.Now().Before(r.pauseUntil) {
			return
		}
		if r.cands[c.name] != c || c.writing || (!c.renamed && c.seen.Add(s.cfg.Settle).After(time.Now())) {
			continue // an event changed it meanwhile
		}
		res, err := s.take(ctx, c)
		now := time.Now()
		switch res {
		case outDone, outQuarantined, outGone:
			delete(r.cands, c.name)
			s.pending.Store(int64(len(r.cands)))
			r.outages = 0
		case outChanged:
			if fi, ok := r.lstat(c.name); ok {
				c.observe(fi, now)
				c.seen = now // whatever the look says, it changed: settle again
				c.renamed = false
			} else {
				delete(r.cands, c.name)
			}
		case outStopped:
			return
		case outFailed:
			s.failures.Add(1)
			if s.isStopping() {
				return
			}
			var o *outageError
			if errors.As(err, &o) {
				r.outages++
				delay := s.backoff.Delay(r.outages)
				r.pauseUntil = now.Add(delay)
				s.log.Warn("files: the queue, DLQ or state store failed; the file stays and is tried again", "file", c.name, "err", err, "attempt", r.outages, "retry_in", delay.Round(time.Millisecond).String())
				return
			}
			c.failures++
			delay := s.backoff.Delay(c.failures)
			c.retryAt = now.Add(delay)
			s.log.Error("files: taking a file failed; it stays and is tried again", "file", c.name, "err", err, "attempt", c.failures, "retry_in", delay.Round(time.Millisecond).String())
		}
		s.pending.Store(int64(len(r.cands)))
	}
}
