package native

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"strconv"
	"syscall"
	"unsafe"
)

// The file operations of the hot path: paths are built in reused byte
// buffers and opened relative to the procfs directory, so that reading
// thousands of small files allocates nothing.

// openAt opens path (relative to dir, no NUL inside) read-only.
// buf is scratch space for the NUL-terminated copy.
func openAt(dir int, path []byte, flags int, buf *[]byte) (int, error) {
	b := append((*buf)[:0], path...)
	b = append(b, 0)
	*buf = b
	for {
		fd, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(&b[0])),
			uintptr(flags|syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

// readAll reads the file behind fd from offset 0 into *buf, growing it
// when the content fills it, and returns the content.
func readAll(fd int, buf *[]byte) ([]byte, error) {
	for {
		b := *buf
		n, err := pread0(fd, b)
		if err != nil {
			return nil, err
		}
		if n < len(b) {
			return b[:n], nil
		}
		*buf = make([]byte, 2*len(b))
	}
}

// pread0 reads from offset 0 of fd into b, retrying on EINTR.
func pread0(fd int, b []byte) (int, error) {
	for {
		n, err := syscall.Pread(fd, b, 0)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// openRead opens path read-only, retrying on EINTR.
func openRead(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// gone reports whether err means that a process or thread no longer
// exists, the errors node_exporter ignores (ENOENT, ESRCH).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// listInts returns the names of the directory dir/path that are decimal
// numbers (pids or tids), appended to ids; buf is scratch space.
func listInts(dir int, path []byte, ids []int, buf, pathBuf *[]byte) ([]int, error) {
	fd, err := openAt(dir, path, syscall.O_DIRECTORY, pathBuf)
	if err != nil {
		return ids, err
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.Getdents(fd, *buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return ids, err
		}
		if n <= 0 {
			return ids, nil
		}
		ids = appendDirentInts(ids, (*buf)[:n])
	}
}

// appendDirentInts parses struct linux_dirent64 records (inode 8, offset
// 8, record length 2, type 1, NUL-terminated name) and appends the names
// that are numbers.
func appendDirentInts(ids []int, b []byte) []int {
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:]))
		if reclen < 19 || reclen > len(b) {
			return ids
		}
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if id, ok := atoi(name); ok {
			ids = append(ids, id)
		}
		b = b[reclen:]
	}
	return ids
}

// atoi parses a non-empty run of decimal digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// appendPath appends "pid/stat", "pid/task" or "pid/task/tid/stat".
func appendProcPath(b []byte, pid, tid int, leaf string) []byte {
	b = strconv.AppendInt(b, int64(pid), 10)
	if tid >= 0 {
		b = append(b, "/task/"...)
		b = strconv.AppendInt(b, int64(tid), 10)
	}
	return append(append(b, '/'), leaf...)
}

// fdBudget bounds the descriptors a collector keeps open.
type fdBudget struct {
	max, used int
}

func (b *fdBudget) take() bool {
	if b.used >= b.max {
		return false
	}
	b.used++
	return true
}

func (b *fdBudget) give() { b.used-- }
