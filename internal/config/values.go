package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Percent is a share written as "20%" in YAML; the value is 20.
type Percent float64

// Fraction returns the share as a number between 0 and 1.
func (p Percent) Fraction() float64 { return float64(p) / 100 }

// String formats the percentage as YAML accepts it, e.g. "20%".
func (p Percent) String() string { return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%" }

func (p *Percent) unmarshalNode(d *decoder, n *yaml.Node, path string) {
	s, ok := d.scalar(n, path, "a percentage like 20%")
	if !ok {
		return
	}
	num, isPct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !isPct || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.add(path, n.Line, "expected a percentage like 20%%, got %s", d.show(path, s))
		return
	}
	*p = Percent(f)
}

// ByteSize is a size in bytes, written as a number of bytes or with a unit:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// ParseByteSize parses "10MiB", "512 KB", "1024".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("expected a size like 1MiB, 512KB or 1048576")
	}
	return ByteSize(n * mult), nil
}

// String formats the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b != 0 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return fmt.Sprintf("%dB", int64(b))
}

func (b *ByteSize) unmarshalNode(d *decoder, n *yaml.Node, path string) {
	s, ok := d.scalar(n, path, "a size like 1MiB")
	if !ok {
		return
	}
	v, err := ParseByteSize(s)
	if err != nil {
		d.add(path, n.Line, "%v, got %s", err, d.show(path, s))
		return
	}
	*b = v
}

// StringList is a list of strings that may also be written as one string:
// `key: id` and `key: [org_id, id]` both work.
type StringList []string

func (l *StringList) unmarshalNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		if s, ok := d.scalar(n, path, "a string or a list of strings"); ok {
			*l = StringList{s}
		}
		return
	}
	var list []string
	d.value(n, valueOf(&list), path)
	*l = list
}

// enumString is a string type with a fixed set of values.
type enumString interface{ ~string }

func oneOf[T enumString](v T, allowed []T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func list[T enumString](allowed []T) string {
	s := make([]string, len(allowed))
	for i, a := range allowed {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
