package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports (the kernel fixes it for ABI).
const clockTicks = 100

// procSample is one reading of a process's CPU and memory.
type procSample struct {
	At       time.Duration // since the attack started
	CPU      float64       // user+system seconds since the process started
	RSS      int64         // resident bytes
	PeakRSS  int64         // VmHWM: the highest RSS so far, in bytes
	CPUCores float64       // CPU seconds per second since the previous sample
}

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) may hold spaces; fields after it are fixed.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields after the name, want at least 13", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	s.CPU = float64(utime+stime) / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSS = kB(v)
		case "VmHWM":
			s.PeakRSS = kB(v)
		}
	}
	return s, nil
}

func kB(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n * 1024
}

// sampler records a process every interval until ctx ends.
type sampler struct {
	pid     int
	every   time.Duration
	samples []procSample
	err     error
}

func (s *sampler) run(ctx context.Context, start time.Time) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		p, err := readProc(s.pid)
		if err != nil {
			s.err = err
			return
		}
		p.At = time.Since(start)
		if n := len(s.samples); n > 0 {
			prev := s.samples[n-1]
			if dt := (p.At - prev.At).Seconds(); dt > 0 {
				p.CPUCores = (p.CPU - prev.CPU) / dt
			}
		}
		s.samples = append(s.samples, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
