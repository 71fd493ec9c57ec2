package natskv

import (
	"fmt"
	"strings"

	"github.com/sfbridge/sfbridge/internal/state"
)

const hexDigits = "0123456789ABCDEF"

// safe reports whether c is kept as is inside a segment.
func safe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// encodeKey maps a state key to a NATS KV key: '/' → '.', an empty segment
// → "=", any other byte outside [A-Za-z0-9_-] → '=' and two uppercase hex
// digits. The mapping is injective and prefix-preserving per segment.
func encodeKey(key string) (string, error) {
	if err := state.ValidateKey(key); err != nil {
		return "", fmt.Errorf("%w (key %q)", err, truncate(key))
	}
	return encodeSegments(key), nil
}

func encodeSegments(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			if start {
				b.WriteByte('=')
			}
			b.WriteByte('.')
			start = true
			continue
		case safe(c):
			b.WriteByte(c)
		default:
			b.WriteByte('=')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0x0f])
		}
		start = false
	}
	if start {
		b.WriteByte('=')
	}
	return b.String()
}

// decodeKey inverts encodeKey. It rejects anything encodeKey cannot produce
// (lowercase hex, escaped safe bytes, stray '='), so the mapping stays a
// bijection on the keys it accepts.
func decodeKey(enc string) (string, error) {
	var b strings.Builder
	b.Grow(len(enc))
	for i, tok := range strings.Split(enc, ".") {
		if i > 0 {
			b.WriteByte('/')
		}
		if tok == "=" {
			continue
		}
		if tok == "" {
			return "", fmt.Errorf("natskv: key %q: empty token", enc)
		}
		for j := 0; j < len(tok); j++ {
			c := tok[j]
			if safe(c) {
				b.WriteByte(c)
				continue
			}
			if c != '=' || j+2 >= len(tok) {
				return "", fmt.Errorf("natskv: key %q: not written by sfbridge (byte %q at %d)", enc, c, j)
			}
			hi, lo := strings.IndexByte(hexDigits, tok[j+1]), strings.IndexByte(hexDigits, tok[j+2])
			if hi < 0 || lo < 0 || safe(byte(hi<<4|lo)) || hi<<4|lo == '/' {
				return "", fmt.Errorf("natskv: key %q: bad escape %q", enc, tok[j:j+3])
			}
			b.WriteByte(byte(hi<<4 | lo))
			j += 2
		}
	}
	key := b.String()
	if err := state.ValidateKey(key); err != nil {
		return "", fmt.Errorf("natskv: key %q: %w", enc, err)
	}
	return key, nil
}

// listFilter returns the NATS subject filter (relative to the bucket) that
// covers every key starting with prefix: the prefix's complete '/' segments
// followed by ">", or ">" when it has none. The caller still checks the
// whole prefix.
func listFilter(prefix string) string {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return ">"
	}
	return encodeSegments(prefix[:i]) + ".>"
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
