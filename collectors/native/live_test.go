package native

import (
	"context"
	"flag"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostpush/hostpush/internal/hostload"
)

// TestKeptFilesFollowTheLoad: on the real /proc every task's stat stays
// open between gathers, and the descriptors of tasks that ended are
// closed at the next gather.
func TestKeptFilesFollowTheLoad(t *testing.T) {
	c := newProcesses(t, "/proc")
	spec := hostload.Spec{Procs: 10, Threads: 60, Lifetime: time.Minute}
	l, err := hostload.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop() })
	pids := l.Pids()
	for range 2 {
		if _, err := gatherText(t, c); err != nil {
			t.Fatal(err)
		}
	}
	if n, want := keptFor(c, pids), l.Counts().Threads; n != want {
		t.Errorf("%d files kept open for the load's %d threads, want one per thread", n, want)
	}
	if n := countFds(t); n < c.openFiles() {
		t.Errorf("the process has %d descriptors open, fewer than the %d the collector says it keeps", n, c.openFiles())
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := gatherText(t, c); err != nil {
		t.Fatal(err)
	}
	if n := keptFor(c, pids); n != 0 {
		t.Errorf("after the load ended, %d of its files still open", n)
	}
	held := 0
	for _, p := range c.procs {
		held += keptFor(c, []int{p.pid})
	}
	if held != c.openFiles() {
		t.Errorf("the entries hold %d descriptors, the budget counts %d", held, c.openFiles())
	}
}

// keptFor counts the descriptors the collector keeps for the processes.
func keptFor(c *Processes, pids []int) int {
	n := 0
	for _, pid := range pids {
		p := c.procs[pid]
		if p == nil {
			continue
		}
		if p.fd >= 0 {
			n++
		}
		for _, t := range p.tasks {
			if t.fd >= 0 {
				n++
			}
		}
	}
	return n
}

// TestFileBudget: beyond MaxOpenFiles files are opened and closed per
// gather; the counts are the same.
func TestFileBudget(t *testing.T) {
	small, err := NewProcesses(Config{ProcPath: "/proc", MaxOpenFiles: 5}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	for range 2 {
		out, err := gatherText(t, small)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "node_processes_pids ") {
			t.Fatalf("no pids in %s", out)
		}
	}
	if n := small.openFiles(); n > 5 {
		t.Errorf("%d files kept open, budget 5", n)
	}
	if small.scan.pids < 2 {
		t.Errorf("%d processes counted", small.scan.pids)
	}
}

func countFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

var sizes = flag.String("hostload.sizes", "host,medium,large", "host sizes BenchmarkProcesses runs at (see hostload.Sizes)")

// BenchmarkProcesses compares one Update of this collector with one of
// node_exporter's at each host size, the load running throughout (sleeping
// processes and threads), both warm. cpu-ms/op is the process's CPU time
// (user and system) per Update: run with -cpu 1, as hostpush runs with
// GOMAXPROCS=1.
//
//	go test ./collectors/native -run '^$' -bench Processes -cpu 1 -benchtime 50x
func BenchmarkProcesses(b *testing.B) {
	for _, size := range strings.Split(*sizes, ",") {
		spec, err := hostload.ParseSize(size)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("size="+size, func(b *testing.B) {
			if spec.Procs > 0 {
				spec.Lifetime = 30 * time.Minute
				l, err := hostload.Start(context.Background(), spec)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Stop()
			}
			b.Run("impl=hostpush", func(b *testing.B) { benchUpdate(b, newProcesses(b, "/proc")) })
			b.Run("impl=node_exporter", func(b *testing.B) { benchUpdate(b, nodeExporterProcesses(b, "/proc")) })
		})
	}
}

func benchUpdate(b *testing.B, u updater) {
	ch := make(chan prometheus.Metric, 4096)
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	if err := u.Update(ch); err != nil { // warm: kept files, known threads
		b.Fatal(err)
	}
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	b.ResetTimer()
	for b.Loop() {
		if err := u.Update(ch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	close(ch)
	<-done
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(time.Duration(r1.Stime.Nano()-r0.Stime.Nano()).Microseconds())/1000/float64(b.N), "sys-ms/op")
}
