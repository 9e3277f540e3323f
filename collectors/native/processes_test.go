package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a small host: init, a kernel thread, a multi-threaded server.
func base() fixture {
	return fixture{procs: []fproc{
		{pid: 1, comm: "systemd", state: "S"},
		{pid: 2, comm: "kthreadd", state: "I", noTaskDir: true},
		{pid: 300, comm: "srv (x) y", state: "S", threads: []fthread{{tid: 301, state: "R"}, {tid: 302, state: "D"}, {tid: 303, state: "S"}}},
	}}
}

func TestMatchesNodeExporterOnFixtures(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fixture
		want []string // lines that must be in the output
	}{
		{"base", base(), []string{`node_processes_threads_state{thread_state="D"} 1`, `node_processes_threads 6`, `node_processes_pids 3`}},
		{"no task directories", fixture{procs: []fproc{{pid: 1, comm: "a", state: "S", noTaskDir: true}, {pid: 7, comm: "b", state: "I", noTaskDir: true}}},
			[]string{`node_processes_state{state="I"} 1`}},
		{"zombie and stopped", fixture{procs: []fproc{{pid: 5, comm: "z", state: "Z"}, {pid: 6, comm: "gdb", state: "t", threads: []fthread{{tid: 9, state: "T"}}}}},
			[]string{`node_processes_threads_state{thread_state="T"} 1`, `node_processes_state{state="Z"} 1`}},
		{"newline in a command", fixture{procs: []fproc{{pid: 5, comm: "a\nb) c", state: "R"}}}, []string{`node_processes_state{state="R"} 1`}},
		{"main thread counts with the process's state", fixture{procs: []fproc{{pid: 8, comm: "x", state: "D", threads: []fthread{{tid: 10, state: "S"}}}}},
			[]string{`node_processes_threads_state{thread_state="D"} 1`, `node_processes_threads_state{thread_state="S"} 1`}},
		{"no processes", fixture{}, []string{`node_processes_pids 0`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.f.write(t, t.TempDir())
			got := sameAsNodeExporter(t, newProcesses(t, dir), dir)
			for _, l := range tc.want {
				if !strings.Contains(got, l+"\n") {
					t.Errorf("output lacks %q:\n%s", l, got)
				}
			}
		})
	}
}

// TestWarmUpdatesFollowChanges changes the tree between Updates of one
// collector, which keeps what it knows: each output must still be
// node_exporter's, and a task directory is listed only when needed.
func TestWarmUpdatesFollowChanges(t *testing.T) {
	dir := t.TempDir()
	c := newProcesses(t, dir)
	f := base()
	vanish := ""
	// pid 2 has no task directory (the fixture's kernel thread): it is
	// tried on every gather, as upstream tries it, until it ends.
	steps := []struct {
		name     string
		change   func()
		listings int // task directories listed (or tried)
	}{
		{"first gather lists every process", func() {}, 3},
		{"nothing changed: nothing listed", func() {}, 1},
		{"a thread changes state", func() { f.procs[2].threads[0].state = "S" }, 1},
		{"a thread starts", func() { f.procs[2].threads = append(f.procs[2].threads, fthread{tid: 304, state: "R"}) }, 2},
		{"a thread ends: its read fails, the rest add up", func() { f.procs[2].threads = f.procs[2].threads[1:] }, 1},
		{"one thread ends, another starts", func() { f.procs[2].threads[0] = fthread{tid: 399, state: "D"} }, 2},
		{"a process starts", func() {
			f.procs = append(f.procs, fproc{pid: 500, comm: "new", state: "S", threads: []fthread{{tid: 501, state: "S"}}})
		}, 2},
		{"a process ends", func() { f.procs = append(f.procs[:1], f.procs[2:]...) }, 0},
		{"a pid is reused with other threads", func() {
			f.procs[len(f.procs)-1] = fproc{pid: 500, comm: "again", state: "R", threads: []fthread{{tid: 502, state: "S"}, {tid: 503, state: "S"}}}
		}, 1},
		{"a task directory goes", func() { f.procs[len(f.procs)-1].noTaskDir = true }, 1},
		{"a thread's stat is gone but it is listed", func() { vanish = fmt.Sprintf("300/task/%d/stat", f.procs[1].threads[0].tid) }, 2},
	}
	for _, s := range steps {
		s.change()
		f.write(t, dir)
		if vanish != "" {
			os.Remove(filepath.Join(dir, vanish))
		}
		sameAsNodeExporter(t, c, dir)
		if c.scan.listings != s.listings {
			t.Errorf("%s: %d task directories listed, want %d", s.name, c.scan.listings, s.listings)
		}
	}
}

// TestFailsAsNodeExporterDoes: an unreadable or malformed file fails the
// Update with one line naming the file, after sending what node_exporter
// sends before the same failure. A process or thread that vanished is
// not an error.
func TestFailsAsNodeExporterDoes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     func(f *fixture)
		after func(dir string)
		err   string // in the error; "" means none
	}{
		{"malformed process stat", func(f *fixture) { f.procs[0].stat = "1 (systemd S 0 1\n" }, nil, "1/stat: malformed stat"},
		{"truncated thread stat", func(f *fixture) { f.procs[2].threads[1].stat = "302 (srv) S 1 2 3\n" }, nil, "300/task/302/stat: malformed stat"},
		{"empty process stat", func(f *fixture) { f.procs[0].stat = " " }, func(dir string) { os.Truncate(filepath.Join(dir, "1/stat"), 0) }, "1/stat: malformed stat: empty file"},
		{"stat is a directory", func(f *fixture) {}, func(dir string) {
			os.Remove(filepath.Join(dir, "300/stat"))
			os.Mkdir(filepath.Join(dir, "300/stat"), 0o755)
		}, "300/stat: is a directory"},
		{"task is a file", func(f *fixture) {}, func(dir string) {
			os.RemoveAll(filepath.Join(dir, "300/task"))
			os.WriteFile(filepath.Join(dir, "300/task"), nil, 0o644)
		}, "300/task: not a directory"},
		{"threads-max missing", func(f *fixture) { f.threadsMax = "-" }, nil, "unable to retrieve limit number of threads"},
		{"pid_max malformed", func(f *fixture) { f.pidMax = "many\n" }, nil, "unable to retrieve limit number of maximum pids allowed"},
		{"process vanished: no stat", func(f *fixture) {}, func(dir string) { os.Remove(filepath.Join(dir, "1/stat")) }, ""},
		{"thread vanished: no stat", func(f *fixture) {}, func(dir string) { os.Remove(filepath.Join(dir, "300/task/301/stat")) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.f(&f)
			dir := f.write(t, t.TempDir())
			if tc.after != nil {
				tc.after(dir)
			}
			c := newProcesses(t, dir)
			sameAsNodeExporter(t, c, dir)
			_, err := gatherText(t, c)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Update: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Update = %v, want an error with %q", err, tc.err)
			}
			if err != nil && strings.Contains(tc.err, "malformed") && !errors.Is(err, errMalformed) {
				t.Errorf("error %v is not errMalformed", err)
			}
			t.Log(err)
		})
	}
}

// TestRecoversAfterAFailure: a gather that failed halfway through a
// process's threads leaves nothing behind that skews the next ones, in
// the output or in the descriptors kept (forced on for the fixture, whose
// files are rewritten in place so kept descriptors stay current).
func TestRecoversAfterAFailure(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep files %v", keep), func(t *testing.T) {
			dir := t.TempDir()
			c := newProcesses(t, dir)
			if keep {
				c.fds.max = 1000
			}
			held := func() {
				t.Helper()
				n := 0
				for _, p := range c.procs {
					n += keptFor(c, []int{p.pid})
				}
				if n != c.openFiles() {
					t.Fatalf("the entries hold %d descriptors, the budget counts %d", n, c.openFiles())
				}
			}
			f := base()
			f.writeInPlace(t, dir)
			sameAsNodeExporter(t, c, dir)
			f.procs[2].threads = append(f.procs[2].threads, fthread{tid: 304, state: "S", stat: "304 (srv) S 1\n"}, fthread{tid: 305, state: "S"})
			f.writeInPlace(t, dir)
			if _, err := gatherText(t, c); err == nil {
				t.Fatal("a malformed thread stat did not fail the gather")
			}
			held()
			f.procs[2].threads[3].stat = ""
			// A new thread listed before the known ones (tids wrap around).
			f.procs[2].threads = append(f.procs[2].threads, fthread{tid: 250, state: "D"})
			f.procs = append(f.procs, fproc{pid: 700, comm: "other", state: "S", threads: []fthread{{tid: 701, state: "D"}, {tid: 702, state: "S"}, {tid: 703, state: "S"}, {tid: 704, state: "R"}}})
			f.writeInPlace(t, dir)
			for range 3 {
				sameAsNodeExporter(t, c, dir)
				held()
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "--path.procfs") {
		t.Errorf("empty path: %v", err)
	}
	if err := (Config{ProcPath: "/proc", MaxOpenFiles: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative budget: %v", err)
	}
	if _, err := New("nosuch", Config{ProcPath: "/proc"}, discard); err == nil || !strings.Contains(err.Error(), "processes") {
		t.Errorf("New(nosuch) = %v, want the known names", err)
	}
}

// TestFailingGathersForgetEndedProcesses: while one process's stat stays
// malformed, every Update fails as node_exporter's does, and processes
// start and end between them. What the collector tracks (entries and
// kept descriptors) must follow the live set, not every pid ever seen.
func TestFailingGathersForgetEndedProcesses(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep files %v", keep), func(t *testing.T) {
			dir := t.TempDir()
			c := newProcesses(t, dir)
			if keep {
				c.fds.max = 1000
			}
			// Written first, so that on file systems that list newest first
			// the churning processes are read before it.
			bad := fproc{pid: 1, comm: "bad", state: "S", stat: "1 (bad S 0 1\n"}
			next := 1000
			for round := range 20 {
				f := fixture{procs: []fproc{bad, {pid: 2, comm: "stays", state: "S", threads: []fthread{{tid: 3, state: "S"}}}}}
				for range 5 {
					f.procs = append(f.procs, fproc{pid: next, comm: "short", state: "R", threads: []fthread{{tid: next + 1, state: "S"}}})
					next += 2
				}
				f.write(t, dir)
				sameAsNodeExporter(t, c, dir)
				_, err := gatherText(t, c)
				if err == nil || !strings.Contains(err.Error(), "1/stat: malformed stat") {
					t.Fatalf("round %d: Update = %v, want the malformed stat of pid 1", round, err)
				}
				if len(c.procs) > len(f.procs) {
					t.Fatalf("round %d: %d processes tracked, %d live", round, len(c.procs), len(f.procs))
				}
				live := make([]int, len(f.procs))
				for i, p := range f.procs {
					live[i] = p.pid
				}
				if n, open := keptFor(c, live), c.openFiles(); n != open || open > 2*len(f.procs) {
					t.Fatalf("round %d: %d descriptors open, %d of them for the %d live processes", round, open, n, len(f.procs))
				}
			}
		})
	}
}
