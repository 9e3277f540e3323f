package imageserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
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

// bufs recycles source buffers: a 12 MP JPEG is 4 MB, read for every
// transform, and garbage that size inflates the heap between collections.
var bufs sync.Pool

// read reads the whole source into a pooled buffer, refusing to read more
// than the size limit even if the file grew since stat. The caller returns
// the buffer with putBuf once nothing refers to it.
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
	size := min(fi.Size(), s.cfg.MaxSourceBytes) + 1 // one more byte to see growth
	buf := getBuf(int(size))
	n, err := io.ReadFull(f, buf)
	switch {
	case err == nil: // the file is larger than it was or than allowed
		putBuf(buf)
		return nil, &httpError{code: 422, reason: "bad_source", msg: fmt.Sprintf("source file is larger than %d bytes", s.cfg.MaxSourceBytes)}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n], nil
	default:
		putBuf(buf)
		return nil, fmt.Errorf("reading %s: %w", src.name, err)
	}
}

func getBuf(n int) []byte {
	if b, ok := bufs.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n, n+n/8)
}

func putBuf(b []byte) { bufs.Put(&b) }
