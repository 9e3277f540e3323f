package native

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/node_exporter/collector"

	"github.com/hostpush/hostpush/internal/hostload"
)

func TestMain(m *testing.M) {
	hostload.MaybeChild()
	os.Exit(m.Run())
}

var discard = slog.New(slog.NewTextHandler(ioDiscard{}, nil))

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

// updater is what both processes collectors are.
type updater interface {
	Update(ch chan<- prometheus.Metric) error
}

// gatherText runs one Update and returns what it sent in the text format
// (families sorted, as a scrape shows them) and its error.
func gatherText(t testing.TB, u updater) (string, error) {
	t.Helper()
	ch := make(chan prometheus.Metric, 256)
	err := u.Update(ch)
	close(ch)
	reg := prometheus.NewPedanticRegistry()
	var ms []prometheus.Metric
	for m := range ch {
		ms = append(ms, m)
	}
	reg.MustRegister(constCollector(ms))
	fams, gerr := reg.Gather()
	if gerr != nil {
		t.Fatalf("gathering what Update sent: %v", gerr)
	}
	var b bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String(), err
}

// constCollector sends fixed metrics (unchecked: it describes nothing).
type constCollector []prometheus.Metric

func (c constCollector) Describe(chan<- *prometheus.Desc) {}
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// nodeExporterProcesses is node_exporter's own processes collector reading
// the procfs at dir. It reads the --path.procfs flag at every Update, so
// the flag is set until the test ends; such tests cannot run in parallel.
func nodeExporterProcesses(t testing.TB, dir string) updater {
	t.Helper()
	setProcPath(t, dir)
	c, err := collector.NewProcessStatCollector(discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setProcPath(t testing.TB, dir string) {
	t.Helper()
	f := kingpin.CommandLine.GetFlag("path.procfs")
	old := f.Model().Value.String()
	if err := f.Model().Value.Set(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Model().Value.Set(old) })
}

func newProcesses(t testing.TB, dir string) *Processes {
	t.Helper()
	c, err := NewProcesses(Config{ProcPath: dir}, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fixture is a procfs tree: processes by pid, each with its threads.
type fixture struct {
	threadsMax, pidMax string
	procs              []fproc
}

type fproc struct {
	pid       int
	comm      string
	state     string
	threads   []fthread // not the main thread
	noTaskDir bool
	stat      string // overrides the generated stat line
}

type fthread struct {
	tid   int
	state string
	stat  string // overrides the generated stat line
}

// statLine is a stat line as the kernel writes it.
func statLine(pid int, comm, state string, numThreads int) string {
	return fmt.Sprintf("%d (%s) %s 1 %d %d 0 -1 4194560 100 0 0 0 3 4 0 0 20 0 %d 0 12345 1000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		pid, comm, state, pid, pid, numThreads)
}

// write makes the tree under dir (a fresh one, or over the last, which
// it empties first) and returns dir.
func (f fixture) write(t testing.TB, dir string) string {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	put := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if f.threadsMax != "-" {
		put("sys/kernel/threads-max", or(f.threadsMax, "7801\n"))
	}
	if f.pidMax != "-" {
		put("sys/kernel/pid_max", or(f.pidMax, "32768\n"))
	}
	put("stat", "cpu  1 2 3 4\n") // a non-pid entry, as in /proc
	for _, p := range f.procs {
		base := fmt.Sprint(p.pid)
		put(base+"/stat", or(p.stat, statLine(p.pid, p.comm, p.state, 1+len(p.threads))))
		if p.noTaskDir {
			continue
		}
		put(fmt.Sprintf("%s/task/%d/stat", base, p.pid), statLine(p.pid, p.comm, p.state, 1+len(p.threads)))
		for _, th := range p.threads {
			put(fmt.Sprintf("%s/task/%d/stat", base, th.tid), or(th.stat, statLine(th.tid, p.comm, th.state, 1+len(p.threads))))
		}
	}
	return dir
}

// writeInPlace writes the tree without removing what is there, so files
// keep their inodes (and kept descriptors read the new content).
func (f fixture) writeInPlace(t testing.TB, dir string) {
	t.Helper()
	tmp := f.write(t, t.TempDir())
	err := filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sameAsNodeExporter runs both collectors on dir and fails the test when
// their output or their failing differ.
func sameAsNodeExporter(t *testing.T, native *Processes, dir string) string {
	t.Helper()
	return sameOutput(t, nodeExporterProcesses(t, dir), native)
}

// sameOutput runs node_exporter's collector ne, then u, and fails the
// test when their output differs, when one fails and the other does not,
// when only one returns no data, or when u's error spans lines. It
// returns u's output.
func sameOutput(t *testing.T, ne, u updater) string {
	t.Helper()
	want, werr := gatherText(t, ne)
	got, err := gatherText(t, noDataOf(u))
	if (werr == nil) != (err == nil) || (werr != nil && collector.IsNoDataError(werr) != collector.IsNoDataError(err)) {
		t.Fatalf("node_exporter's error %v, hostpush's %v", werr, err)
	}
	if got != want {
		t.Fatalf("output differs from node_exporter's\nnode_exporter:\n%s\nhostpush:\n%s", want, got)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Fatalf("error spans lines: %q", err)
	}
	return got
}
