package sfemu

import "strings"

// base62 is the alphabet of the 15-character Id body.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checksumAlphabet maps a 5-bit chunk mask to the checksum character (§11).
const checksumAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// To18 returns the 18-character form of a 15-character Id: the Id plus a
// 3-character suffix that records, per 5-character chunk, which characters
// are upper-case letters (fact sheet §11). id15 must be 15 characters long.
func To18(id15 string) string {
	out := make([]byte, 0, 18)
	out = append(out, id15...)
	for c := 0; c < 3; c++ {
		n := 0
		for i := 0; i < 5; i++ {
			if ch := id15[c*5+i]; ch >= 'A' && ch <= 'Z' {
				n |= 1 << i
			}
		}
		out = append(out, checksumAlphabet[n])
	}
	return string(out)
}

// NormalizeID returns the canonical 18-character form of a 15- or
// 18-character Id and whether s is a well-formed Id. An 18-character Id is
// case-insensitive: its checksum restores the case of the first 15
// characters, so "001d000000irfmaiah" normalises to "001D000000IRFmaIAH".
// An 18-character Id whose checksum does not match is malformed.
func NormalizeID(s string) (string, bool) {
	switch len(s) {
	case 15:
		if !isAlnum(s) {
			return "", false
		}
		return To18(s), true
	case 18:
		if !isAlnum(s) {
			return "", false
		}
		body := []byte(s[:15])
		for c := 0; c < 3; c++ {
			n := strings.IndexByte(checksumAlphabet, upper(s[15+c]))
			if n < 0 {
				return "", false
			}
			for i := 0; i < 5; i++ {
				p := c*5 + i
				if n&(1<<i) != 0 {
					body[p] = upper(body[p])
				} else {
					body[p] = lower(body[p])
				}
			}
		}
		id := To18(string(body))
		if !strings.EqualFold(id[15:], s[15:]) || !strings.EqualFold(id[:15], s[:15]) {
			return "", false
		}
		return id, true
	}
	return "", false
}

// isAlnum reports whether s consists of ASCII letters and digits only.
func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	return len(s) > 0
}

func upper(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 'a' + 'A'
	}
	return b
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b - 'A' + 'a'
	}
	return b
}

// encodeBase62 writes n as exactly width base-62 digits (most significant
// first), wrapping silently past 62^width.
func encodeBase62(n uint64, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	return string(b)
}

// makeID builds an 18-character Id: key prefix (3), pod (2), the reserved
// character "0", and a 9-character base-62 sequence number.
func makeID(prefix, pod string, seq uint64) string {
	return To18(prefix + pod + "0" + encodeBase62(seq, 9))
}
