package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of the times in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// cpuTimes is a process's CPU time from /proc/<pid>/stat: its own (all
// threads, live and exited) and that of its waited-for children.
type cpuTimes struct {
	Self, Children time.Duration
}

// readCPU reads /proc/<pid>/stat.
func readCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, fmt.Errorf("reading CPU times of pid %d: %w", pid, err)
	}
	t, err := parseStat(b)
	if err != nil {
		return cpuTimes{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	return t, nil
}

// parseStat reads utime, stime, cutime and cstime (fields 14-17) from the
// content of a /proc/<pid>/stat file. The command name (field 2) is in
// parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(b []byte) (cpuTimes, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuTimes{}, fmt.Errorf("no ')' closing the command name")
	}
	// After ")": field 3 (state) is rest[0]; utime (field 14) is rest[11].
	rest := strings.Fields(string(b[i+1:]))
	if len(rest) < 15 {
		return cpuTimes{}, fmt.Errorf("%d fields after the command name, want at least 15", len(rest))
	}
	var v [4]int64
	for k := range v {
		n, err := strconv.ParseInt(rest[11+k], 10, 64)
		if err != nil || n < 0 {
			return cpuTimes{}, fmt.Errorf("field %d is %q, want a non-negative tick count", 14+k, rest[11+k])
		}
		v[k] = n
	}
	return cpuTimes{
		Self:     time.Duration(v[0]+v[1]) * clockTick,
		Children: time.Duration(v[2]+v[3]) * clockTick,
	}, nil
}

// memory is a process's peak and current resident set from
// /proc/<pid>/status, in bytes: VmHWM, and the current RSS split into
// anonymous memory (heap, stacks) and file-backed pages (the mapped binary).
type memory struct {
	HWM, RssAnon, RssFile int64
}

// readMemory reads /proc/<pid>/status.
func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("reading the memory of pid %d: %w", pid, err)
	}
	defer f.Close()
	kb, err := parseStatusKB(f, "VmHWM", "RssAnon", "RssFile")
	if err != nil {
		return memory{}, fmt.Errorf("parsing /proc/%d/status: %w", pid, err)
	}
	return memory{HWM: kb[0] * 1024, RssAnon: kb[1] * 1024, RssFile: kb[2] * 1024}, nil
}

// parseStatusKB finds the "Key:   12345 kB" lines of keys in a
// /proc/<pid>/status file and returns their values in kB, in the order of
// keys. Every key must be present.
func parseStatusKB(r io.Reader, keys ...string) ([]int64, error) {
	out := make([]int64, len(keys))
	found := make([]bool, len(keys))
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		i := slices.Index(keys, name)
		if i < 0 {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return nil, fmt.Errorf("%s line %q, want \"%s: <n> kB\"", name, sc.Text(), name)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s value %q, want a non-negative number of kB", name, f[0])
		}
		out[i], found[i] = n, true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("no %s line", keys[i])
		}
	}
	return out, nil
}
