package procs

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/procfs"
)

// Usage is what a process has used so far, read from /proc with procfs.
type Usage struct {
	CPU     time.Duration // user+system time of the process, all its threads
	RSS     int64         // resident bytes now (VmRSS)
	RSSAnon int64         // the anonymous part of RSS (heap, stacks)
	RSSFile int64         // the file-backed part of RSS (the mapped binary)
	PeakRSS int64         // the highest RSS so far (VmHWM)
}

// ReadUsage reads the CPU times and memory of process pid.
func ReadUsage(pid int) (Usage, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Usage{}, fmt.Errorf("reading pid %d: %w", pid, err)
	}
	st, err := p.Stat()
	if err != nil {
		return Usage{}, fmt.Errorf("reading the CPU times of pid %d: %w", pid, err)
	}
	status, err := p.NewStatus()
	if err != nil {
		return Usage{}, fmt.Errorf("reading the memory of pid %d: %w", pid, err)
	}
	return Usage{
		CPU:     time.Duration(st.CPUTime() * float64(time.Second)),
		RSS:     int64(status.VmRSS),
		RSSAnon: int64(status.RssAnon),
		RSSFile: int64(status.RssFile),
		PeakRSS: int64(status.VmHWM),
	}, nil
}

// ThreadsCPU is the CPU time of process pid's live threads, summed from
// their schedstat, in nanoseconds: Usage.CPU comes from /proc/PID/stat in
// clock ticks (10 ms), too coarse for a few ms per cycle. Threads that
// have exited are not in it; compare with Usage.CPU to notice one.
func ThreadsCPU(pid int) (time.Duration, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	threads, err := fs.AllThreads(pid)
	if err != nil {
		return 0, fmt.Errorf("listing the threads of pid %d: %w", pid, err)
	}
	var sum time.Duration
	for _, t := range threads {
		st, err := t.Schedstat()
		if err != nil {
			continue // the thread exited since the listing
		}
		sum += time.Duration(st.RunningNanoseconds)
	}
	return sum, nil
}

// LoadAvg returns the machine's load average over 1, 5 and 15 minutes.
func LoadAvg() (procfs.LoadAvg, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return procfs.LoadAvg{}, err
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return procfs.LoadAvg{}, fmt.Errorf("reading the load average: %w", err)
	}
	return *l, nil
}

// LoadAvgText is LoadAvg as "1m 5m 15m", or "(unknown)".
func LoadAvgText() string {
	l, err := LoadAvg()
	if err != nil {
		return "(unknown)"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}

// MachineCPU is the CPU time all processes of the machine have used since
// boot (user, nice, system, irq, softirq, steal: everything but idle and
// iowait), summed over its cores.
func MachineCPU() (time.Duration, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	st, err := fs.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading /proc/stat: %w", err)
	}
	c := st.CPUTotal
	busy := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	return time.Duration(busy * float64(time.Second)), nil
}

// Sample is one reading of a process during a run.
type Sample struct {
	At time.Duration // since the sampler started
	Usage
	Cores float64 // CPU seconds per second since the previous sample
}

// Sampler reads a process every Every until the context of Run ends.
type Sampler struct {
	Pid     int
	Every   time.Duration
	Samples []Sample
	Err     error // the read that ended the sampling early, if any
}

// Run samples from start until ctx ends; read Samples after it returned.
func (s *Sampler) Run(ctx context.Context, start time.Time) {
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		u, err := ReadUsage(s.Pid)
		if err != nil {
			s.Err = err
			return
		}
		p := Sample{At: time.Since(start), Usage: u}
		if n := len(s.Samples); n > 0 {
			prev := s.Samples[n-1]
			if dt := (p.At - prev.At).Seconds(); dt > 0 {
				p.Cores = (p.CPU - prev.CPU).Seconds() / dt
			}
		}
		s.Samples = append(s.Samples, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
