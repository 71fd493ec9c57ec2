package httpsrc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// readFailure tells whether reading the body failed (the body or its
// decompression over max_body_bytes, a read error, a corrupt gzip stream),
// and the answer when it did.
func (s *Source) readFailure(body, unzipped *tap) (answer, bool) {
	if body.err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(body.err, &mbe):
			return s.tooLarge(errors.New("the body")), true
		case errors.As(body.err, &ne) && ne.Timeout():
			return fail(http.StatusRequestTimeout, "reading the request body: timed out after %d bytes", body.n), true
		}
		return fail(http.StatusBadRequest, "reading the request body: %v after %d bytes", body.err, body.n), true
	}
	if unzipped != nil && unzipped.err != nil {
		if errors.Is(unzipped.err, errTooLarge) {
			return s.tooLarge(errors.New("the decompressed body")), true
		}
		return fail(http.StatusBadRequest, "gzip body: %s at byte %d of the decompressed body (byte %d of the request body)",
			strings.TrimPrefix(unzipped.err.Error(), "gzip: "), unzipped.n, body.n), true
	}
	return answer{}, false
}

// tooLarge is the 413 answer; what names what was too large, for the log.
func (s *Source) tooLarge(what error) answer {
	a := fail(http.StatusRequestEntityTooLarge, "request body over max_body_bytes (%s)", s.cfg.MaxBodyBytes)
	a.err = fmt.Errorf("%v over max_body_bytes (%s)", what, s.cfg.MaxBodyBytes)
	return a
}

// errTooLarge is a tap's error past its limit.
var errTooLarge = errors.New("over the size limit")

// tap reads through r, counting the bytes and keeping the first error that
// is not io.EOF, so the handler learns what the Reader may have folded into
// an event error. Past limit bytes (when limit ≥ 0) it fails with
// errTooLarge.
type tap struct {
	r     io.Reader
	limit int64
	n     int64
	err   error
}

func (t *tap) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.limit >= 0 && int64(len(p)) > t.limit-t.n+1 {
		p = p[:t.limit-t.n+1] // one byte more tells whether there is more
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	if t.limit >= 0 && t.n > t.limit {
		t.n = t.limit
		t.err = errTooLarge
		return 0, t.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}
