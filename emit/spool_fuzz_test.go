package emit

import (
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSpoolSegment: a segment file holding anything after its magic (a
// torn write, a disk error, garbage) never makes opening the spool or
// reading it panic; what is read back is only whole, checksummed records.
func FuzzSpoolSegment(f *testing.F) {
	good := func(payload string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum([]byte(payload), castagnoli))
		return append(b, payload...)
	}
	one := good(`{"id":"a","type":"t","time":"2024-05-01T12:00:00Z"}`)
	f.Add(one)
	f.Add(append(append([]byte{}, one...), one[:5]...))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		seg := append([]byte(segMagic), data...)
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openSpool(dir, 1<<20, 1<<30, slog.New(slog.DiscardHandler))
		if err != nil {
			return // refused with a reason: fine
		}
		defer s.close()
		from := s.cursor
		for range 1000 {
			entries, next, err := s.read(from, 100, 1<<20)
			if err != nil || len(entries) == 0 {
				return
			}
			for _, e := range entries {
				if len(e.msg.JSON) == 0 {
					t.Fatal("an empty record was read back")
				}
			}
			from = next
		}
	})
}

// FuzzDecodeCursor: any 32 bytes in a cursor slot decode or are refused,
// never panic.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(3, pos{seg: 2, off: 100}))
	f.Add(make([]byte, cursorSlot))
	f.Fuzz(func(t *testing.T, b []byte) {
		slot := make([]byte, cursorSlot)
		copy(slot, b)
		if gen, p, ok := decodeCursor(slot); ok && p.off < segHeader {
			t.Fatalf("accepted a cursor before the segment header: gen %d %+v", gen, p)
		}
	})
}
