package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxSecretFile bounds what a ${file:…} reference may read.
const maxSecretFile = 1 << 20

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// interpolate replaces ${env:NAME} and ${file:/path} references in s, and
// $${ with a literal ${. A reference that cannot be resolved is a problem
// naming the variable or file (never a value). ok is false when any reference
// failed; the returned string is then meaningless.
func (d *decoder) interpolate(s, path string, line int) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var (
		b    strings.Builder
		refs []string
		ok   = true
	)
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				d.add(path, line, `"${" without a closing "}" (write $${ for a literal ${)`)
				return "", false
			}
			inner := s[i+2 : i+2+end]
			i += 2 + end + 1
			ref := "${" + inner + "}"
			refs = append(refs, ref)
			v, good := d.resolve(inner, ref, path, line)
			if !good {
				ok = false
				continue
			}
			b.WriteString(v)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	if len(refs) > 0 {
		d.refs[path] = strings.Join(refs, ", ")
	}
	return b.String(), ok
}

func (d *decoder) resolve(inner, ref, path string, line int) (string, bool) {
	kind, arg, found := strings.Cut(inner, ":")
	switch {
	case found && kind == "env":
		if !envName.MatchString(arg) {
			d.add(path, line, "%s: %q is not an environment variable name", shorten(ref), arg)
			return "", false
		}
		v, set := d.lookupEnv(arg)
		if !set {
			d.add(path, line, "environment variable %s is not set (referenced as %s)", arg, ref)
			return "", false
		}
		return v, true
	case found && kind == "file":
		if arg == "" {
			d.add(path, line, "%s names no file", ref)
			return "", false
		}
		p := arg
		if !filepath.IsAbs(p) && d.dir != "" {
			p = filepath.Join(d.dir, p)
		}
		data, err := d.readFile(p)
		if err != nil {
			d.add(path, line, "cannot read file %s (referenced as %s): %s", p, ref, fileReason(err))
			return "", false
		}
		if len(data) > maxSecretFile {
			d.add(path, line, "file %s (referenced as %s) is larger than 1 MiB", p, ref)
			return "", false
		}
		return strings.TrimRight(string(data), "\r\n"), true
	default:
		d.add(path, line, "unknown reference %s: use ${env:NAME} or ${file:/path} (write $${ for a literal ${)", shorten(ref))
		return "", false
	}
}

// fileReason turns a read error into a short reason without repeating the path.
func fileReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "not found"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// shorten cuts s to at most 60 runes for a message.
func shorten(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}
