package emit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The spool on disk (Config.SpoolDir):
//
//	LOCK                      flock'ed while a Client has the spool open
//	cursor                    where the acknowledged events end (two slots)
//	00000000000000000001.seg  segments, appended to in order
//	00000000000000000002.seg
//
// A segment starts with the 8-byte magic "EMITSEG1"; then records, each a
// 4-byte little-endian payload length, the payload's 4-byte little-endian
// CRC-32C, and the payload (one encoded event). Only the last segment is
// written to; it is sealed when the next record would take it over
// Config.SegmentBytes, and deleted once the cursor has moved past it.
//
// The cursor file holds two 32-byte slots, written alternately: "EMC1", a
// generation, the segment and the offset the acknowledged events end at,
// and a CRC-32C of the slot's first 28 bytes. The valid slot with the
// highest generation wins, so a torn cursor write leaves the previous
// cursor (events after it are sent again: the server drops duplicates).
const (
	segMagic      = "EMITSEG1"
	segHeader     = int64(len(segMagic))
	recHeader     = 8
	segSuffix     = ".seg"
	cursorName    = "cursor"
	lockName      = "LOCK"
	cursorMagic   = "EMC1"
	cursorSlot    = 32
	maxRecordSize = 1 << 30 // a length above this is garbage, not an event
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// pos is a place in the spool: a segment and a byte offset in it.
type pos struct {
	seg uint64
	off int64
}

func (p pos) before(q pos) bool {
	return p.seg < q.seg || p.seg == q.seg && p.off < q.off
}

// segment is one segment file; end is where its readable records end (its
// committed size while it is the last one).
type segment struct {
	seq uint64
	end int64
}

func segName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, segSuffix) }

// spool is the on-disk queue of encoded events. One goroutine appends
// (append, rotate), one reads and acknowledges (read, ack); mu guards what
// they share.
type spool struct {
	dir      string
	log      *slog.Logger
	segBytes int64
	maxBytes int64 // 0: no limit
	lock     *os.File

	// Writer side.
	w      *os.File // the last segment
	wseq   uint64
	wsize  int64 // committed size of w
	wbuf   []byte
	broken error // set when a failed write could not be undone

	// Reader side.
	readers map[uint64]*os.File
	cf      *os.File // cursor file
	gen     uint64   // generation of the cursor last written
	skipped map[pos]bool

	mu           sync.Mutex
	segs         []segment // ascending; the last is w
	end          pos       // end of the committed records
	cursor       pos       // end of the acknowledged records
	pendingCount int64     // committed records after cursor
	pendingBytes int64     // their size, headers included
}

// openSpool opens (creating) the spool in dir, takes its lock, and scans
// it: the cursor, then every record after it, counting the pending ones.
// A torn record at the end of the last segment (a crash mid-write) is cut
// off; an invalid record elsewhere is logged and the rest of its segment
// skipped.
func openSpool(dir string, segBytes, maxBytes int64, log *slog.Logger) (_ *spool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("emit: create spool directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir, log: log, segBytes: segBytes, maxBytes: maxBytes, lock: lock,
		readers: map[uint64]*os.File{}, skipped: map[pos]bool{}}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := s.readCursor(); err != nil {
		return nil, err
	}
	seqs, err := s.listSegments()
	if err != nil {
		return nil, err
	}
	// Segments before the cursor's were acknowledged: a crash came
	// between saving the cursor and deleting them.
	for len(seqs) > 0 && seqs[0] < s.cursor.seg {
		if err := os.Remove(filepath.Join(dir, segName(seqs[0]))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("emit: remove acknowledged segment: %w", err)
		}
		seqs = seqs[1:]
	}
	if len(seqs) == 0 {
		seq := s.cursor.seg + 1
		if err := s.create(seq); err != nil {
			return nil, err
		}
		s.segs = []segment{{seq: seq, end: segHeader}}
		s.cursor = pos{seq, segHeader}
		s.end = s.cursor
		return s, nil
	}
	if s.cursor.seg < seqs[0] {
		s.cursor = pos{seqs[0], segHeader}
	}
	for i, seq := range seqs {
		end, err := s.scan(seq, i == len(seqs)-1)
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, segment{seq: seq, end: end})
	}
	last := s.segs[len(s.segs)-1]
	s.w, err = os.OpenFile(filepath.Join(dir, segName(last.seq)), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("emit: open spool segment: %w", err)
	}
	s.wseq, s.wsize = last.seq, last.end
	s.end = pos{last.seq, last.end}
	return s, nil
}

func (s *spool) listSegments() ([]uint64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("emit: read spool directory: %w", err)
	}
	var seqs []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok || len(name) != 20 {
			continue
		}
		if seq, err := strconv.ParseUint(name, 10, 64); err == nil && seq > 0 {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// scan reads segment seq from its start, checking every record, and
// returns where its valid records end. Records at or after the cursor are
// counted as pending; a cursor that is not on a record boundary moves
// back to the last boundary before it (resending is safe).
func (s *spool) scan(seq uint64, last bool) (int64, error) {
	name := filepath.Join(s.dir, segName(seq))
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		return 0, fmt.Errorf("emit: open spool segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("emit: spool segment: %w", err)
	}
	size := fi.Size()
	head := make([]byte, segHeader)
	n, _ := io.ReadFull(f, head)
	if n < len(segMagic) {
		// Cut short while being created (a crash before its first fsync).
		if !last || !bytes.HasPrefix([]byte(segMagic), head[:n]) {
			return 0, fmt.Errorf("emit: %s: %d bytes, too short for a spool segment (move it out of the spool directory)", name, size)
		}
		if err := rewriteHeader(f); err != nil {
			return 0, fmt.Errorf("emit: %s: %w", name, err)
		}
		if seq == s.cursor.seg {
			s.cursor.off = segHeader
		}
		return segHeader, nil
	}
	if string(head) != segMagic {
		return 0, fmt.Errorf("emit: %s: not a spool segment (bad magic %q; move it out of the spool directory)", name, head)
	}
	off := segHeader
	boundary := segHeader // last record boundary at or before the cursor
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), 64<<10)
	var hdr [recHeader]byte
	var payload []byte
	bad := ""
	for off < size {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			bad = fmt.Sprintf("record header cut short (%d bytes left)", size-off)
			break
		}
		length := int64(binary.LittleEndian.Uint32(hdr[:4]))
		if length == 0 || length > maxRecordSize || off+recHeader+length > size {
			bad = fmt.Sprintf("record length %d does not fit the %d bytes left", length, size-off-recHeader)
			break
		}
		payload = slices.Grow(payload[:0], int(length))[:length]
		if _, err := io.ReadFull(r, payload); err != nil {
			return 0, fmt.Errorf("emit: read %s at byte %d: %w", name, off, err)
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			bad = "record checksum mismatch"
			break
		}
		next := off + recHeader + length
		if seq > s.cursor.seg || seq == s.cursor.seg && next > s.cursor.off {
			s.pendingCount++
			s.pendingBytes += recHeader + length
		} else {
			boundary = next
		}
		off = next
	}
	if seq == s.cursor.seg && s.cursor.off != boundary {
		s.log.Warn("emit: spool cursor is not at the end of a record; resending from the record it points into",
			"file", name, "cursor_offset", s.cursor.off, "offset", boundary)
		s.cursor.off = boundary
	}
	if bad == "" {
		return off, nil
	}
	if last {
		// A crash mid-append leaves a torn last record, which no Emit
		// returned for: cut it off so appends continue after the valid ones.
		s.log.Warn("emit: spool: ignoring a torn record at the end of the spool (left by a crash)",
			"file", name, "offset", off, "bytes", size-off, "reason", bad)
		if err := f.Truncate(off); err != nil {
			return 0, fmt.Errorf("emit: truncate torn record of %s at byte %d: %w", name, off, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("emit: sync %s: %w", name, err)
		}
		return off, nil
	}
	s.log.Error("emit: spool segment corrupt: the rest of it is skipped (events in it are lost)",
		"file", name, "offset", off, "bytes", size-off, "reason", bad)
	return off, nil
}

func rewriteHeader(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
		return err
	}
	return f.Sync()
}

// create makes segment seq, durably, with its header.
func (s *spool) create(seq uint64) error {
	name := filepath.Join(s.dir, segName(seq))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("emit: create spool segment: %w", err)
	}
	if _, err = f.Write([]byte(segMagic)); err == nil {
		if err = f.Sync(); err == nil {
			err = syncDir(s.dir)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("emit: create spool segment %s: %w", name, err)
	}
	if s.w != nil {
		s.w.Close()
	}
	s.w, s.wseq, s.wsize = f, seq, segHeader
	return nil
}

// readCursor opens the cursor file and loads the newest valid slot.
func (s *spool) readCursor() error {
	name := filepath.Join(s.dir, cursorName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("emit: open spool cursor: %w", err)
	}
	s.cf = f
	buf := make([]byte, 2*cursorSlot)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("emit: read spool cursor %s: %w", name, err)
	}
	found := false
	for i := 0; i+cursorSlot <= n; i += cursorSlot {
		gen, p, ok := decodeCursor(buf[i : i+cursorSlot])
		if ok && (!found || gen > s.gen) {
			s.gen, s.cursor, found = gen, p, true
		}
	}
	if !found && n > 0 {
		s.log.Warn("emit: spool cursor unreadable; resending everything spooled", "file", name)
	}
	return nil
}

func encodeCursor(gen uint64, p pos) []byte {
	b := make([]byte, cursorSlot)
	copy(b, cursorMagic)
	binary.LittleEndian.PutUint64(b[4:], gen)
	binary.LittleEndian.PutUint64(b[12:], p.seg)
	binary.LittleEndian.PutUint64(b[20:], uint64(p.off))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

func decodeCursor(b []byte) (uint64, pos, bool) {
	if string(b[:4]) != cursorMagic || crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:]) {
		return 0, pos{}, false
	}
	p := pos{seg: binary.LittleEndian.Uint64(b[12:]), off: int64(binary.LittleEndian.Uint64(b[20:]))}
	if p.off < segHeader {
		return 0, pos{}, false
	}
	return binary.LittleEndian.Uint64(b[4:]), p, true
}

// request is one Emit waiting for its event to be on disk.
type request struct {
	data []byte
	done chan error
	err  error
}

// append writes the requests' events and fsyncs them as one group commit;
// each request's err says how it went. Writer goroutine only.
func (s *spool) append(reqs []*request) {
	s.mu.Lock()
	base := s.pendingBytes
	s.mu.Unlock()
	var reserved int64
	batch := reqs[:0:0]
	buf := s.wbuf[:0]
	commit := func() {
		if len(batch) == 0 {
			return
		}
		err := s.writeSync(buf)
		for _, r := range batch {
			r.err = err
		}
		if err != nil {
			reserved -= int64(len(buf))
		} else {
			s.mu.Lock()
			s.segs[len(s.segs)-1].end = s.wsize
			s.end = pos{s.wseq, s.wsize}
			s.pendingCount += int64(len(batch))
			s.pendingBytes += int64(len(buf))
			s.mu.Unlock()
		}
		batch, buf = batch[:0], buf[:0]
	}
	for _, r := range reqs {
		if s.broken != nil {
			r.err = s.broken
			continue
		}
		size := int64(recHeader + len(r.data))
		if s.maxBytes > 0 && base+reserved+size > s.maxBytes {
			r.err = fmt.Errorf("%w: %d bytes of unsent events, MaxSpoolBytes is %d", ErrSpoolFull, base+reserved, s.maxBytes)
			continue
		}
		if filled := s.wsize + int64(len(buf)); filled > segHeader && filled+size > s.segBytes {
			commit()
			if err := s.rotate(); err != nil {
				r.err = err
				continue
			}
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(r.data)))
		buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(r.data, castagnoli))
		buf = append(buf, r.data...)
		batch = append(batch, r)
		reserved += size
	}
	commit()
	if cap(buf) <= 4<<20 {
		s.wbuf = buf[:0]
	} else {
		s.wbuf = nil
	}
}

// writeSync appends buf to the last segment and fsyncs it. On failure it
// cuts the segment back to its committed size, so readers and later
// appends never see a half-written group.
func (s *spool) writeSync(buf []byte) error {
	_, err := s.w.WriteAt(buf, s.wsize)
	if err == nil {
		err = s.w.Sync()
	}
	if err != nil {
		name := s.w.Name()
		if terr := s.w.Truncate(s.wsize); terr != nil {
			s.broken = fmt.Errorf("emit: spool %s unusable after a failed write (%v) could not be undone: %w", name, err, terr)
		}
		return fmt.Errorf("emit: write spool %s: %w", name, err)
	}
	s.wsize += int64(len(buf))
	return nil
}

// rotate seals the last segment (already fsynced) and starts the next.
func (s *spool) rotate() error {
	seq := s.wseq + 1
	if err := s.create(seq); err != nil {
		return err
	}
	s.mu.Lock()
	s.segs = append(s.segs, segment{seq: seq, end: segHeader})
	s.end = pos{seq, segHeader}
	s.mu.Unlock()
	return nil
}

// entry is one event read from the spool.
type entry struct {
	msg  Message
	end  pos   // where its record ends
	size int64 // its record's size
}

// read returns up to maxN committed events after from, at most maxBytes
// of payload (but at least one event), and where reading stopped (after
// the last event returned, or further when it crossed empty segment ends).
// Reader goroutine only.
func (s *spool) read(from pos, maxN, maxBytes int) ([]entry, pos, error) {
	s.mu.Lock()
	segs := make([]segment, 0, len(s.segs))
	for _, sg := range s.segs {
		if sg.seq >= from.seg {
			segs = append(segs, sg)
		}
	}
	s.mu.Unlock()
	var out []entry
	bytesOut := 0
	p := from
	for i, sg := range segs {
		if sg.seq > p.seg {
			if i > 0 && p.off < segs[i-1].end {
				break // cannot happen: the previous segment was read to its end
			}
			p = pos{sg.seq, segHeader}
		}
		if p.off >= sg.end {
			continue
		}
		f, err := s.reader(sg.seq)
		if err != nil {
			return out, p, err
		}
		r := bufio.NewReaderSize(io.NewSectionReader(f, p.off, sg.end-p.off), 64<<10)
		var hdr [recHeader]byte
		for p.off < sg.end {
			if len(out) >= maxN {
				return out, p, nil
			}
			bad := ""
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				bad = "record header unreadable: " + err.Error()
			}
			length := int64(binary.LittleEndian.Uint32(hdr[:4]))
			if bad == "" && (length == 0 || p.off+recHeader+length > sg.end) {
				bad = fmt.Sprintf("record length %d does not fit the segment", length)
			}
			if bad == "" && len(out) > 0 && bytesOut+int(length) > maxBytes {
				return out, p, nil
			}
			var payload []byte
			if bad == "" {
				payload = make([]byte, length)
				if _, err := io.ReadFull(r, payload); err != nil {
					bad = "record unreadable: " + err.Error()
				} else if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
					bad = "record checksum mismatch"
				}
			}
			if bad != "" {
				// Damaged after it was written and checked: skip what is
				// left of the segment rather than stop delivering.
				if !s.skipped[p] {
					s.skipped[p] = true
					s.log.Error("emit: spool segment damaged: the rest of it is skipped (events in it are lost)",
						"file", f.Name(), "offset", p.off, "bytes", sg.end-p.off, "reason", bad)
				}
				p.off = sg.end
				break
			}
			p.off += recHeader + length
			out = append(out, entry{msg: Message{ID: messageID(payload), JSON: payload}, end: p, size: recHeader + length})
			bytesOut += int(length)
		}
	}
	return out, p, nil
}

func (s *spool) reader(seq uint64) (*os.File, error) {
	if f := s.readers[seq]; f != nil {
		return f, nil
	}
	f, err := os.Open(filepath.Join(s.dir, segName(seq)))
	if err != nil {
		return nil, fmt.Errorf("emit: open spool segment: %w", err)
	}
	s.readers[seq] = f
	return f, nil
}

// ack moves the cursor to p (n events, size bytes acknowledged), saves it,
// then deletes the segments before p's. Reader goroutine only. A failure
// to save is returned but the cursor still moves in memory: the events
// are settled, and a restart would only send them again.
func (s *spool) ack(p pos, n, size int64) error {
	s.mu.Lock()
	if !s.cursor.before(p) {
		s.mu.Unlock()
		return nil
	}
	s.cursor = p
	s.pendingCount -= n
	s.pendingBytes -= size
	var gone []uint64
	for len(s.segs) > 1 && s.segs[0].seq < p.seg {
		gone = append(gone, s.segs[0].seq)
		s.segs = s.segs[1:]
	}
	s.mu.Unlock()
	s.gen++
	if _, err := s.cf.WriteAt(encodeCursor(s.gen, p), int64(s.gen%2)*cursorSlot); err != nil {
		return fmt.Errorf("emit: save spool cursor: %w", err)
	}
	if err := s.cf.Sync(); err != nil {
		return fmt.Errorf("emit: save spool cursor: %w", err)
	}
	var errs []error
	for _, seq := range gone {
		if f := s.readers[seq]; f != nil {
			f.Close()
			delete(s.readers, seq)
		}
		if err := os.Remove(filepath.Join(s.dir, segName(seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("emit: delete acknowledged spool segment: %w", err))
		}
	}
	for p := range s.skipped {
		if p.seg < s.cursor.seg {
			delete(s.skipped, p)
		}
	}
	return errors.Join(errs...)
}

// state returns the cursor, the committed end and the pending counts.
func (s *spool) state() (cursor, end pos, count, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor, s.end, s.pendingCount, s.pendingBytes
}

// close closes every file and releases the lock.
func (s *spool) close() error {
	var errs []error
	for _, f := range s.readers {
		f.Close()
	}
	s.readers = nil
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.cf != nil {
		errs = append(errs, s.cf.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}
