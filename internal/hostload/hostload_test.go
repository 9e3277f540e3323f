package hostload

import (
	"github.com/prometheus/procfs"

	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envTestParent makes the test binary a parent that starts a load, prints
// its id and child pids and then waits to be killed (TestParentKilled).
const envTestParent = "HOSTLOAD_TEST_PARENT"

func TestMain(m *testing.M) {
	MaybeChild()
	if os.Getenv(envTestParent) != "" {
		os.Exit(runTestParent())
	}
	os.Exit(m.Run())
}

func runTestParent() int {
	l, err := Start(context.Background(), Spec{Procs: 8, Threads: 48, Lifetime: time.Minute})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("load", l.id, l.Pids())
	time.Sleep(time.Minute)
	return 0
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want string // in the error; "" means valid
	}{
		{"zero", Spec{}, ""},
		{"medium", Sizes["medium"], ""},
		{"large", Sizes["large"], ""},
		{"default threads", Spec{Procs: 3}, ""},
		{"negative procs", Spec{Procs: -1}, "procs -1 out of range"},
		{"too many procs", Spec{Procs: MaxProcs + 1}, "procs 10001 out of range"},
		{"too few threads", Spec{Procs: 10, Threads: 10}, "threads 10 out of range for 10 processes"},
		{"too many threads", Spec{Procs: 1, Threads: MaxThreadsPerProc + 1}, "threads 1001 out of range"},
		{"threads alone", Spec{Threads: 5}, "threads 5 without processes"},
		{"churn", Spec{Procs: 1, Churn: Churn{ProcsPerSec: -1}}, "churn procs/s -1 out of range"},
		{"thread churn", Spec{Procs: 1, Churn: Churn{ThreadsPerSec: 1e9}}, "churn threads/s 1e+09 out of range"},
		{"lifetime", Spec{Procs: 1, Lifetime: -time.Second}, "lifetime -1s out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error with %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	if s, err := ParseSize("large"); err != nil || s.Procs != 2000 || s.Threads != 10000 {
		t.Errorf("ParseSize(large) = %+v, %v", s, err)
	}
	if _, err := ParseSize("huge"); err == nil || !strings.Contains(err.Error(), "host, medium, large") {
		t.Errorf("ParseSize(huge) = %v, want the allowed names", err)
	}
}

// TestStartRefusesOverLimit asks for more tasks than pid_max can ever be
// (PID_MAX_LIMIT is 4,194,304): refused before anything starts.
func TestStartRefusesOverLimit(t *testing.T) {
	_, err := Start(context.Background(), Spec{Procs: MaxProcs, Threads: MaxProcs * MaxThreadsPerProc})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "pid_max") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Start = %v, want one line naming pid_max", err)
	}
	t.Log(err)
}

func TestCheckLimitsNamesTheLimit(t *testing.T) {
	l := limit{name: "the cgroup's pids.max", where: "/sys/fs/cgroup/x/pids.max", max: 1000, used: 800}
	if got := l.allows(); got != 100 {
		t.Errorf("allows = %d, want 100 (1000 - 10%% headroom - 800 used)", got)
	}
	if got := (limit{max: 100, used: 0}).allows(); got != 36 {
		t.Errorf("allows = %d, want 36 (the headroom is at least 64)", got)
	}
}

func TestParseLoadavgTasks(t *testing.T) {
	for in, want := range map[string]int{"0.10 0.20 0.30 1/123 4567\n": 123, "1 2 3 10/99999 1": 99999} {
		if n, err := parseLoadavgTasks([]byte(in)); err != nil || n != want {
			t.Errorf("parseLoadavgTasks(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"", "0.1 0.2 0.3", "0.1 0.2 0.3 12 5", "0.1 0.2 0.3 1/x 5"} {
		if _, err := parseLoadavgTasks([]byte(in)); err == nil {
			t.Errorf("parseLoadavgTasks(%q) accepted", in)
		}
	}
}

func TestParseChildEnv(t *testing.T) {
	c := childConfig{load: 7, threads: 5, deadline: time.Unix(100, 5), churn: time.Second}
	got, err := parseChildEnv(c.env())
	if err != nil || got != c {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, c)
	}
	for _, bad := range []string{"", "threads=x", "threads=5", "nope=1,threads=5,deadline=1"} {
		if _, err := parseChildEnv(bad); err == nil {
			t.Errorf("parseChildEnv(%q) accepted", bad)
		}
	}
}

// TestStartStop reaches the counts and leaves nothing after Stop.
func TestStartStop(t *testing.T) {
	spec := Spec{Procs: 20, Threads: 20*MinThreadsPerProc + 7, Lifetime: time.Minute}
	l, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop() })
	c := l.Counts()
	if c.Procs != spec.Procs || c.Threads < spec.Threads || c.Threads > spec.Threads+MaxOvershoot {
		t.Errorf("Counts = %+v, want %d processes and %d to %d threads", c, spec.Procs, spec.Threads, spec.Threads+MaxOvershoot)
	}
	if m, err := l.Memory(); err != nil {
		t.Error(err)
	} else {
		t.Logf("per child: RSS %d KiB, PSS %d KiB, private %d KiB", m.RSS>>10, m.PSS>>10, m.Private>>10)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := survivors(t, l.id); len(left) > 0 {
		t.Fatalf("after Stop, children still running: %v", left)
	}
}

// TestParentThreadsStayFew: waiting for the children must not cost this
// process a thread each (exec.Cmd.Wait would hold one in wait4 per child,
// and the Go runtime keeps idle threads), or a load of 2,000 processes
// would add 2,000 threads to the host beside its own.
func TestParentThreadsStayFew(t *testing.T) {
	const procs = 120
	before := ownThreads(t)
	l, err := Start(context.Background(), Spec{Procs: procs, Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop() })
	during := ownThreads(t)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	after := ownThreads(t)
	t.Logf("this process's threads: %d before, %d with %d children, %d after Stop", before, during, procs, after)
	if grown := max(during, after) - before; grown > procs/4 {
		t.Errorf("this process gained %d threads for %d children (before %d, during %d, after %d): waiting holds a thread per child",
			grown, procs, before, during, after)
	}
}

func ownThreads(t *testing.T) int {
	t.Helper()
	p, err := procfs.Self()
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.NumThreads
}

// TestContextEndsLoad: a cancelled context stops the load by itself.
func TestContextEndsLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	l, err := Start(ctx, Spec{Procs: 3})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitGone(t, l.id, 10*time.Second)
	_ = l.Stop()
}

// TestChurn: processes are replaced and threads come and go while the
// counts stay where they were asked to be.
func TestChurn(t *testing.T) {
	spec := Spec{Procs: 10, Threads: 60, Churn: Churn{ProcsPerSec: 10, ThreadsPerSec: 100}, Lifetime: time.Minute}
	l, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop() })
	before := tids(l.Pids())
	time.Sleep(time.Second)
	after := tids(l.Pids())
	gone, born := 0, 0
	for tid := range before {
		if !after[tid] {
			gone++
		}
	}
	for tid := range after {
		if !before[tid] {
			born++
		}
	}
	if gone == 0 || born == 0 {
		t.Errorf("in 1 s of churn %d threads ended and %d started; want both", gone, born)
	}
	if l.Started() <= spec.Procs {
		t.Errorf("%d processes started, want replacements beyond the first %d", l.Started(), spec.Procs)
	}
	// Each replacement briefly lacks one process and its threads.
	c := l.Counts()
	perProc := spec.Threads / spec.Procs
	if c.Procs < spec.Procs-1 || c.Procs > spec.Procs || c.Threads < spec.Threads-perProc-spec.Procs || c.Threads > spec.Threads+spec.Procs {
		t.Errorf("Counts under churn = %+v, want about %d processes and %d threads", c, spec.Procs, spec.Threads)
	}
	t.Logf("1 s of churn: %d threads ended, %d started, %d processes started in all; counts %+v", gone, born, l.Started(), c)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := survivors(t, l.id); len(left) > 0 {
		t.Fatalf("after Stop, children still running: %v", left)
	}
}

// TestParentKilled kills a parent that holds a load, with SIGKILL (no
// cleanup at all) and with SIGINT (Ctrl-C): its children go by themselves.
// This process becomes their subreaper, so they are reparented here and
// can be reaped rather than left as zombies of init.
func TestParentKilled(t *testing.T) {
	if err := setSubreaper(1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setSubreaper(0) })
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envTestParent+"=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			var id int64
			var pidList string
			if _, err := fmt.Sscanf(line, "load %d [%s", &id, &pidList); err != nil {
				_ = cmd.Process.Kill()
				t.Fatalf("parent said %q", line)
			}
			pids := parsePids(line)
			if len(pids) != 8 {
				t.Fatalf("parent reported %d children, want 8: %q", len(pids), line)
			}
			_ = cmd.Process.Signal(sig)
			_ = cmd.Wait()
			waitGone(t, id, 10*time.Second)
			for _, pid := range pids {
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(pid, &ws, 0, nil) // reap what was reparented here
			}
		})
	}
}

func parsePids(line string) []int {
	_, list, _ := strings.Cut(line, "[")
	list, _, _ = strings.Cut(list, "]")
	var pids []int
	for _, f := range strings.Fields(list) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

func setSubreaper(on uintptr) error {
	const prSetChildSubreaper = 36
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, on, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	return nil
}

func waitGone(t *testing.T, id int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := survivors(t, id)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("children of load %d still running after %s: %v", id, within, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// survivors lists the live processes on the host that belong to load id,
// found by their environment: a reused pid cannot fool it, and a zombie
// (which has exited) has no environment left.
func survivors(t *testing.T, id int64) []int {
	t.Helper()
	marker := []byte(fmt.Sprintf("%s=load=%d,", envChild, id))
	dirs, err := filepath.Glob("/proc/[0-9]*/environ")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, marker) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		pids = append(pids, pid)
	}
	return pids
}

// tids is the set of thread ids of the processes.
func tids(pids []int) map[int]bool {
	set := map[int]bool{}
	for _, pid := range pids {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, e := range ents {
			n, _ := strconv.Atoi(e.Name())
			set[n] = true
		}
	}
	return set
}

var sizeFlag = flag.String("hostload.size", "", "run TestSize at this host size (host, medium, large)")

// TestSize starts a named size and reports what it costs: go test
// ./internal/hostload -run TestSize -v -hostload.size=large
func TestSize(t *testing.T) {
	if *sizeFlag == "" {
		t.Skip("no -hostload.size given")
	}
	spec, err := ParseSize(*sizeFlag)
	if err != nil {
		t.Fatal(err)
	}
	spec.Lifetime = 5 * time.Minute
	start := time.Now()
	l, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop() })
	started := time.Since(start)
	c := l.Counts()
	m, err := l.Memory()
	if err != nil {
		t.Fatal(err)
	}
	if c.Procs != spec.Procs || c.Threads < spec.Threads || c.Threads > spec.Threads+MaxOvershoot {
		t.Errorf("Counts = %+v, want %d processes and %d threads", c, spec.Procs, spec.Threads)
	}
	start = time.Now()
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d processes, %d threads, started in %s, stopped in %s; per child RSS %d KiB, PSS %d KiB, private %d KiB",
		*sizeFlag, c.Procs, c.Threads, started.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), m.RSS>>10, m.PSS>>10, m.Private>>10)
	if left := survivors(t, l.id); len(left) > 0 {
		t.Fatalf("after Stop, children still running: %v", left)
	}
}
