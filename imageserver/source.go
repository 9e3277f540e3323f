package imageserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// source is an image file found inside the image directory.
type source struct {
	name    string
	size    int64
	modTime time.Time
}

// stat resolves name inside the image directory. os.Root refuses "..",
// absolute paths and symlinks that lead outside; only regular files count.
func (s *Server) stat(name string) (source, error) {
	if name == "" || strings.ContainsRune(name, 0) || strings.HasSuffix(name, "/") {
		return source{}, errNotFound
	}
	fi, err := s.root.Stat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return source{}, errNotFound
		}
		return source{}, errBadPath
	}
	if !fi.Mode().IsRegular() {
		return source{}, errNotFound
	}
	if fi.Size() > s.cfg.MaxSourceBytes {
		return source{}, &httpError{code: 422, reason: "bad_source",
			msg: fmt.Sprintf("source file has %d bytes; allowed: at most %d", fi.Size(), s.cfg.MaxSourceBytes)}
	}
	return source{name: name, size: fi.Size(), modTime: fi.ModTime()}, nil
}

// read reads the whole source, refusing to read more than the size limit
// even if the file grew since stat.
func (s *Server) read(src source) ([]byte, error) {
	f, err := s.root.Open(src.name)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", src.name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, errNotFound
	}
	b, err := io.ReadAll(io.LimitReader(f, s.cfg.MaxSourceBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src.name, err)
	}
	if int64(len(b)) > s.cfg.MaxSourceBytes {
		return nil, &httpError{code: 422, reason: "bad_source", msg: fmt.Sprintf("source file is larger than %d bytes", s.cfg.MaxSourceBytes)}
	}
	return b, nil
}
