package procs

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestReadUsageOfSelf reads this test's own /proc entry: the format of the
// running kernel.
func TestReadUsageOfSelf(t *testing.T) {
	before, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	after, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.CPU < before.CPU {
		t.Errorf("CPU time went backwards: %v then %v", before.CPU, after.CPU)
	}
	if m := after; m.PeakRSS <= 0 || m.RSSAnon <= 0 || m.RSSFile <= 0 || m.RSSAnon+m.RSSFile > m.PeakRSS*2 || m.RSS <= 0 || m.RSS > m.PeakRSS || m.CPU < 0 {
		t.Errorf("implausible memory of the test process: %+v", m)
	}
	if _, err := ReadUsage(-1); err == nil {
		t.Error("no error for pid -1")
	}
}

func TestMachine(t *testing.T) {
	busy, err := MachineCPU()
	if err != nil || busy <= 0 {
		t.Errorf("MachineCPU = %v, %v", busy, err)
	}
	if l, err := LoadAvg(); err != nil || l.Load1 < 0 {
		t.Errorf("LoadAvg = %+v, %v", l, err)
	}
}

func TestSampler(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	s := &Sampler{Pid: os.Getpid(), Every: 20 * time.Millisecond}
	s.Run(ctx, time.Now())
	if s.Err != nil || len(s.Samples) < 3 {
		t.Fatalf("%d samples, err %v", len(s.Samples), s.Err)
	}
	for i := 1; i < len(s.Samples); i++ {
		if s.Samples[i].At <= s.Samples[i-1].At || s.Samples[i].Cores < 0 {
			t.Errorf("sample %d: %+v after %+v", i, s.Samples[i], s.Samples[i-1])
		}
	}
}

func TestThreadsCPUOfSelf(t *testing.T) {
	before, err := ThreadsCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn 50 ms of CPU, measured by the kernel rather than the wall
	// clock: on a busy machine 50 ms of wall time may get far less CPU.
	start := selfCPU(t)
	for selfCPU(t)-start < 50*time.Millisecond {
	}
	after, err := ThreadsCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 20*time.Millisecond {
		t.Errorf("50 ms of spinning counted as %s", d)
	}
	if after > u.CPU+50*time.Millisecond {
		t.Errorf("threads' CPU %s exceeds the process's %s", after, u.CPU)
	}
	if _, err := ThreadsCPU(1 << 30); err == nil {
		t.Error("no error for a pid that does not exist")
	}
}

// selfCPU is the CPU time this process has used, from getrusage.
func selfCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
