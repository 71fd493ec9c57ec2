package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxSuffix bounds the names tried when the target folder has the name
// already.
const maxSuffix = 10000

// quarantine moves a file that cannot be read to quarantine_dir and writes
// "<name>.error" next to it, saying why (where is its location in the
// file, "" when the reason is about the whole file).
func (s *Source) quarantine(ctx context.Context, name, where, reason string) (outcome, error) {
	log := s.log.With("file", name)
	full := filepath.Join(s.dir, name)
	target, err := moveAside(log, full, s.quarantineDir, name, true)
	if errors.Is(err, fs.ErrNotExist) {
		return outGone, nil
	}
	if err != nil {
		return outFailed, fmt.Errorf("file %s cannot be read (%s), and cannot be moved to quarantine_dir %s: %w", name, reason, s.quarantineDir, err)
	}
	s.quarantined.Add(1)
	if where == "" {
		where = "the whole file"
	}
	errPath := filepath.Join(s.quarantineDir, target+".error")
	if err := writeFileAtomic(errPath, s.errorText(name, target, where, reason)); err != nil {
		log.Error("files: cannot write the .error file of a quarantined file", "path", errPath, "err", err)
	}
	if err := s.deleteCheckpoint(ctx, name); err != nil {
		log.Warn("files: cannot delete the checkpoint of a quarantined file (removed at the next start)", "err", err)
	}
	log.Warn("files: file quarantined: it cannot be read", "quarantined_as", filepath.Join(s.quarantineDir, target), "location", where, "reason", reason)
	return outQuarantined, nil
}

// errorText is the content of a quarantined file's .error file: one
// "key: value" per line.
func (s *Source) errorText(name, target, where, reason string) []byte {
	oneLine := strings.NewReplacer("\r", " ", "\n", " ")
	var b strings.Builder
	fmt.Fprintf(&b, "source: %s\n", s.name)
	fmt.Fprintf(&b, "file: %s\n", oneLine.Replace(name))
	fmt.Fprintf(&b, "folder: %s\n", s.dir)
	if target != name {
		fmt.Fprintf(&b, "quarantined_as: %s\n", oneLine.Replace(target))
	}
	fmt.Fprintf(&b, "location: %s\n", where)
	fmt.Fprintf(&b, "reason: %s\n", oneLine.Replace(reason))
	fmt.Fprintf(&b, "time: %s\n", s.now().UTC().Format(time.RFC3339))
	return []byte(b.String())
}

// moveAside renames full into dir under name, or, when dir has that name
// already, the first free of name.1.ext, name.2.ext, … (see suffixed).
// With errFile, a name is free only if "<name>.error" is free too. It
// returns the name used.
func moveAside(log *slog.Logger, full, dir, name string, errFile bool) (string, error) {
	for k := range maxSuffix {
		target := suffixed(name, k)
		if errFile {
			if _, err := os.Lstat(filepath.Join(dir, target+".error")); err == nil {
				continue
			}
		}
		err := renameNoReplace(full, filepath.Join(dir, target))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		syncDir(log, dir)
		syncDir(log, filepath.Dir(full))
		return target, nil
	}
	return "", fmt.Errorf("%s and %d variants of it are taken in %s", name, maxSuffix-1, dir)
}

// suffixed is name with k inserted before its extension (k > 0):
// "a.ndjson" → "a.1.ndjson", "a.ndjson.gz" → "a.1.ndjson.gz", "a" → "a.1".
func suffixed(name string, k int) string {
	if k == 0 {
		return name
	}
	stem, ext := name, ""
	if strings.HasSuffix(strings.ToLower(stem), ".gz") && len(stem) > 3 {
		stem, ext = stem[:len(stem)-3], stem[len(stem)-3:]
	}
	if e := filepath.Ext(stem); e != "" && e != stem {
		stem, ext = stem[:len(stem)-len(e)], e+ext
	}
	return stem + "." + strconv.Itoa(k) + ext
}

// syncDir makes a rename or removal in dir durable. A failure is logged:
// at worst a crash brings the file back, and it is read again (its events
// are already published, with the same IDs).
func syncDir(log *slog.Logger, dir string) {
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync()
		_ = d.Close()
	}
	if err != nil {
		log.Warn("files: cannot sync a folder to disk", "path", dir, "err", err)
	}
}

// writeFileAtomic writes data to path through a hidden temporary file in
// the same folder, so the file appears complete.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
