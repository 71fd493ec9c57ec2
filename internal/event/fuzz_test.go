package event

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// check reads in to the end and checks the Reader's promises: it ends;
// every event has its identity and valid UTF-8; every problem says where,
// within the input; an InputError comes only when no event came out.
func check(t *testing.T, in []byte, f Format) {
	s := Spec{IDField: "id", TypeField: "type", TimeField: "time", KeyField: "k", MaxEventBytes: 512}
	r := NewReader(bytes.NewReader(in), f, s)
	events := 0
	for range len(in) + 10 {
		ev, err := r.Next()
		var ie *ItemError
		var inp *InputError
		switch {
		case err == nil:
			events++
			if ev.ID == "" || ev.Type == "" || ev.Key == "" || ev.Time.IsZero() || ev.Fields == nil {
				t.Fatalf("event without identity: %+v", ev)
			}
			if !utf8.ValidString(ev.ID) || !utf8.ValidString(ev.Type) {
				t.Fatalf("identity not UTF-8: %q %q", ev.ID, ev.Type)
			}
			if ev.Loc.Offset < 0 || ev.Loc.Offset > int64(len(in)) {
				t.Fatalf("event offset %d outside the input (%d bytes)", ev.Loc.Offset, len(in))
			}
			if _, err := s.Record("src", ev, ev.Time, nil); err != nil {
				t.Fatalf("a good event makes a bad record: %v", err)
			}
		case errors.As(err, &ie):
			if ie.Reason == "" || ie.Loc.Offset < 0 || ie.Loc.Offset > int64(len(in)) {
				t.Fatalf("item error without a place or reason: %+v", ie)
			}
		case errors.As(err, &inp):
			if events > 0 {
				t.Fatalf("input error after %d events: %v", events, inp)
			}
			if inp.Reason == "" {
				t.Fatal("input error without a reason")
			}
			return
		case errors.Is(err, io.EOF):
			if r.Events() != events {
				t.Fatalf("Events() = %d, returned %d", r.Events(), events)
			}
			return
		default:
			t.Fatalf("unexpected error %T: %v", err, err)
		}
	}
	t.Fatalf("the reader did not end within %d calls", len(in)+10)
}

const seedTime = `"time":"2024-05-01T12:00:00Z"`

func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(`{"id":"a","type":"t","k":1,` + seedTime + "}\n" + `{"id":"b"}` + "\nnot json\n"))
	f.Add([]byte("\xff\xfe\x00\x01"))
	f.Add([]byte(""))
	f.Add([]byte(`{"id":"a","type":"t","k":"x","time":1714564800}`))
	f.Fuzz(func(t *testing.T, in []byte) { check(t, in, NDJSON) })
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(`[{"id":"a","type":"t","k":1,` + seedTime + `}, 5, {"id":"b"}]`))
	f.Add([]byte(`{"id":"a","type":"t","k":1,` + seedTime + `}`))
	f.Add([]byte(`[{"id":"a","type":"t","k":1,` + seedTime + `}, {"id"`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) { check(t, in, JSON) })
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("id,type,time,k\na,t,2024-05-01T12:00:00Z,1\nb,t\n\"c\nd\",t,1714564800,2\n"))
	f.Add([]byte("id,,x\n"))
	f.Add([]byte("id,type,time,k\na,t,\"bad\"quote,1\n"))
	f.Fuzz(func(t *testing.T, in []byte) { check(t, in, CSV) })
}

func FuzzGzipNDJSON(f *testing.F) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(`{"id":"a","type":"t","k":1,` + seedTime + "}\n"))
	_ = zw.Close()
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:b.Len()/2])
	f.Fuzz(func(t *testing.T, in []byte) {
		zr, err := Open(bytes.NewReader(in), true)
		if err != nil {
			var inp *InputError
			if !errors.As(err, &inp) {
				t.Fatalf("Open: %T %v", err, err)
			}
			return
		}
		data, _ := io.ReadAll(io.LimitReader(zr, 1<<20))
		check(t, data, NDJSON)
		// And through the reader directly, corruption and all.
		zr, _ = Open(bytes.NewReader(in), true)
		r := NewReader(zr, NDJSON, Spec{IDField: "id", TypeField: "type"})
		for range 100000 {
			if _, err := r.Next(); err != nil {
				var ie *ItemError
				if errors.As(err, &ie) {
					continue
				}
				return
			}
		}
	})
}
