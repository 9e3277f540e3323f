package remotewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The disk buffer keeps one file per batch, named by its sequence number
// (16 hex digits, so names sort oldest first). A file is written under a
// temporary name, fsynced, renamed into place and the directory fsynced:
// after a crash a batch file is either complete or absent. Each file:
//
//	magic "HPRW" | version 1 | 3 zero bytes | crc32c of the rest |
//	batch time (unix ms, int64) | samples (uint32) | body length (uint32) | body
//
// where body is the snappy-compressed WriteRequest as sent.
const (
	recordMagic   = "HPRW"
	recordVersion = 1
	headerSize    = 28
	recordSuffix  = ".rwb"
	tmpSuffix     = ".tmp"
	lockName      = "lock"
	maxRecordBody = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrStorageInUse is returned by New when another Writer, in this process
// or another, holds buffer.storage_path. On a reload that changes an
// output's settings but keeps its storage_path, close the old Writer
// before creating the new one.
var ErrStorageInUse = errors.New("in use by another hostpush process or remote_write output")

// errCorrupt marks a batch file that cannot be trusted.
var errCorrupt = errors.New("corrupt batch file")

// fileWriter is what the store needs of a file it writes; tests inject
// one that fails like a full disk.
type fileWriter interface {
	io.Writer
	Sync() error
	Close() error
}

type store struct {
	dir    string
	lock   *os.File
	create func(path string) (fileWriter, error)
}

// openStore creates dir when needed and takes an exclusive lock on it, so
// two writers never share a buffer directory.
func openStore(dir string) (*store, error) {
	lock, err := openLockFile(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("buffer directory %s: %w (%v)", dir, ErrStorageInUse, err)
	}
	return &store{dir: dir, lock: lock, create: createFile}, nil
}

// openLockFile creates dir when needed and opens its lock file, without
// taking the lock.
func openLockFile(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating buffer directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening buffer lock: %w", err)
	}
	return lock, nil
}

// CheckStorage reports whether New could open buffer.storage_path, short
// of taking its lock: the directory is created when needed, and it and
// its lock file must open and read. A reload that hands the directory
// from a Writer to its replacement checks it before closing the old one,
// so that a directory gone bad (a file in its place, permissions, a
// read-only file system) refuses the reload while the old Writer still
// runs. Closing the check's descriptor leaves another's flock in place.
func (c Config) CheckStorage() error {
	dir := c.Buffer.StoragePath
	if dir == "" {
		return nil
	}
	lock, err := openLockFile(dir)
	if err == nil {
		lock.Close()
		if _, err = os.ReadDir(dir); err != nil {
			err = fmt.Errorf("reading buffer directory: %w", err)
		}
	}
	if err != nil {
		return fmt.Errorf("remote_write %s: buffer.storage_path: %w", c.Name, err)
	}
	return nil
}

func createFile(path string) (fileWriter, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

func (s *store) close() error { return s.lock.Close() }

func (s *store) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", seq, recordSuffix))
}

// write stores one batch durably. On any error (ENOSPC, EIO, ...) nothing
// is left behind and the caller keeps the batch in memory.
func (s *store) write(seq uint64, t time.Time, samples int, body []byte) (string, error) {
	final := s.path(seq)
	tmp := final + tmpSuffix
	f, err := s.create(tmp)
	if err != nil {
		return "", err
	}
	_, err = f.Write(encodeRecord(t, samples, body))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	// The rename is in place; a failed directory fsync only weakens
	// durability against a power cut, so it does not fail the write.
	_ = s.syncDir()
	return final, nil
}

func (s *store) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// read returns the body of a stored batch.
func (s *store) read(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	_, _, body, err := decodeRecord(data)
	return body, err
}

func (s *store) remove(path string) error { return os.Remove(path) }

// recovered is one batch found on disk at start.
type recovered struct {
	seq     uint64
	path    string
	time    time.Time
	samples int
	size    int64
}

// corruptFile is a batch file recover removed; samples is what its header
// claims when the header is intact, else 0.
type corruptFile struct {
	name    string
	samples int
}

// recover lists the stored batches oldest first. Leftover temporary files
// are removed; corrupt batch files are removed and returned in bad so the
// caller can count them.
func (s *store) recover() (good []recovered, bad []corruptFile, err error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading buffer directory: %w", err)
	}
	for _, de := range ents {
		name := de.Name()
		p := filepath.Join(s.dir, name)
		if strings.HasSuffix(name, tmpSuffix) {
			os.Remove(p)
			continue
		}
		hex, ok := strings.CutSuffix(name, recordSuffix)
		if !ok {
			continue
		}
		seq, perr := strconv.ParseUint(hex, 16, 64)
		data, rerr := os.ReadFile(p)
		var t time.Time
		var samples int
		if rerr == nil {
			t, samples, _, rerr = decodeRecord(data)
		}
		if perr != nil || len(hex) != 16 || rerr != nil {
			os.Remove(p)
			bad = append(bad, corruptFile{name, claimedSamples(data)})
			continue
		}
		good = append(good, recovered{seq: seq, path: p, time: t, samples: samples, size: int64(len(data) - headerSize)})
	}
	sort.Slice(good, func(i, j int) bool { return good[i].seq < good[j].seq })
	return good, bad, nil
}

func encodeRecord(t time.Time, samples int, body []byte) []byte {
	b := make([]byte, headerSize+len(body))
	copy(b, recordMagic)
	b[4] = recordVersion
	binary.LittleEndian.PutUint64(b[12:], uint64(t.UnixMilli()))
	binary.LittleEndian.PutUint32(b[20:], uint32(samples))
	binary.LittleEndian.PutUint32(b[24:], uint32(len(body)))
	copy(b[headerSize:], body)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[12:], castagnoli))
	return b
}

// decodeRecord parses one batch file; any inconsistency is errCorrupt.
func decodeRecord(b []byte) (t time.Time, samples int, body []byte, err error) {
	if len(b) < headerSize || string(b[:4]) != recordMagic {
		return t, 0, nil, fmt.Errorf("%w: bad header", errCorrupt)
	}
	if b[4] != recordVersion || b[5]|b[6]|b[7] != 0 {
		return t, 0, nil, fmt.Errorf("%w: version %d, want %d", errCorrupt, b[4], recordVersion)
	}
	n := binary.LittleEndian.Uint32(b[24:])
	if n > maxRecordBody || int(n) != len(b)-headerSize {
		return t, 0, nil, fmt.Errorf("%w: body length %d, file holds %d", errCorrupt, n, len(b)-headerSize)
	}
	if crc32.Checksum(b[12:], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return t, 0, nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	t = time.UnixMilli(int64(binary.LittleEndian.Uint64(b[12:])))
	return t, int(binary.LittleEndian.Uint32(b[20:])), b[headerSize:], nil
}

// claimedSamples is the sample count in an intact-looking header of a
// corrupt file, for counting what was lost; 0 when the header is damaged.
func claimedSamples(b []byte) int {
	if len(b) < headerSize || string(b[:4]) != recordMagic || b[4] != recordVersion {
		return 0
	}
	if n := binary.LittleEndian.Uint32(b[20:]); n <= 1e7 {
		return int(n)
	}
	return 0
}
