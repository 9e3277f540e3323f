package fidelity

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/procfs"

	"github.com/hostpush/hostpush/internal/hostload"
	"github.com/hostpush/hostpush/internal/procs"
)

var hostloadSize = flag.String("hostload.size", "", "also run TestProcessesDifferential at this host size (large; "+
	"the host and medium sizes always run)")

// differentialChurn is what the load does during the gathers: processes
// replaced (each with its threads) and threads replaced inside them.
var differentialChurn = hostload.Churn{ProcsPerSec: 10, ThreadsPerSec: 100}

// rounds of gathers per size; a state seen on one side only must be seen
// so in every round to fail (see checkStates).
const rounds = 3

// TestProcessesDifferential compares hostpush's own processes collector
// (bin/hostpush, warm: it keeps what it knows between gathers) with
// node_exporter's, each a running server scraped in turn, at the host as
// it is and with the load helper's processes and threads added, starting
// and exiting throughout. Each round scrapes hostpush (A), node_exporter
// (B), hostpush (C). Counts move between two gathers only by tasks born in
// between: whatever a later gather counts was either counted by the
// earlier one or born since it began, so B <= A + births(A..B) and C <= B +
// births(B..C), births read from the kernel's fork counter (/proc/stat
// "processes", every process and thread) around the scrapes, which also
// covers the rest of this shared machine.
func TestProcessesDifferential(t *testing.T) {
	t.Parallel()
	flags := []string{"--collector.disable-defaults", "--collector.processes"}
	ne := startScrapable(t, "node_exporter", cachedBuild(t, nodeExporterPath, "node_exporter"), flags)
	hp := startScrapable(t, "hostpush", hostpushBinary(t), append(flags,
		"--push.url=http://127.0.0.1:9/", "--push.interval=1h", "--log.level=error"))
	sizes := []string{"host", "medium"}
	if *hostloadSize != "" && !slices.Contains(sizes, *hostloadSize) {
		sizes = append(sizes, *hostloadSize)
	}
	for _, size := range sizes {
		t.Run(size, func(t *testing.T) {
			spec, err := hostload.ParseSize(size)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Procs > 0 {
				spec.Churn, spec.Lifetime = differentialChurn, 5*time.Minute
				l, err := hostload.Start(context.Background(), spec)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Stop()
				t.Logf("load: %+v", l.Counts())
			}
			hp.warm(t)
			runRounds(t, hp, ne, spec)
		})
	}
}

func runRounds(t *testing.T, hp, ne *scrapable, spec hostload.Spec) {
	t.Helper()
	violations := map[string][]string{} // what differs: what was seen, per round
	for r := range rounds {
		f0 := forks(t)
		a := hp.scrape(t)
		f1 := forks(t)
		b := ne.scrape(t)
		f2 := forks(t)
		c := hp.scrape(t)
		f3 := forks(t)
		ab, bc := f2-f0, f3-f1
		checkSignatures(t, a, b)
		checkExact(t, a, b, c)
		checkBounds(t, a, b, c, ab, bc)
		for _, v := range checkStates(t, a, b, c) {
			what, seen, _ := strings.Cut(v, "\x00")
			violations[what] = append(violations[what], fmt.Sprintf("round %d %s", r+1, seen))
		}
		t.Logf("round %d: pids A/B/C %v/%v/%v, threads %v/%v/%v, births A..B %d, B..C %d (the load's churn alone: about %.0f per second)",
			r+1, value(a, "node_processes_pids"), value(b, "node_processes_pids"), value(c, "node_processes_pids"),
			value(a, "node_processes_threads"), value(b, "node_processes_threads"), value(c, "node_processes_threads"),
			ab, bc, spec.Churn.ProcsPerSec*float64(spec.Threads)/float64(max(spec.Procs, 1))+spec.Churn.ThreadsPerSec)
	}
	for _, what := range slices.Sorted(mapKeys(violations)) {
		seen := violations[what]
		if len(seen) == rounds {
			t.Errorf("in every one of %d rounds: %s; %s", rounds, what, strings.Join(seen, "; "))
		} else {
			t.Logf("in %d of %d rounds (a task passing through a state, not a difference): %s; %s", len(seen), rounds, what, strings.Join(seen, "; "))
		}
	}
}

// scrapable is a server whose /metrics is gathered on each scrape.
type scrapable struct {
	name, url string
}

func startScrapable(t *testing.T, name, bin string, flags []string) *scrapable {
	t.Helper()
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, name, bin, append(slicesClone(flags), "--web.listen-address="+addr)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := &scrapable{name: name, url: "http://" + addr + "/metrics"}
	if err := procs.WaitHTTP(ctx, p, s.url); err != nil {
		t.Fatal(err)
	}
	return s
}

// warm scrapes until the processes collector has run once in full, so
// that it knows every task. The first tick's gather may still run when
// the server starts answering: a scrape meanwhile finds the collector in
// flight and gets none of its families.
func (s *scrapable) warm(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		out, _ := s.scrapeOnce(t)
		if len(out) == 6 || time.Now().After(deadline) {
			return
		}
	}
}

// scrape returns the processes families of one scrape.
func (s *scrapable) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	out, fams := s.scrapeOnce(t)
	if len(out) != 6 {
		t.Fatalf("%s sent %d node_processes_ families, want 6: %v (did the collector fail? node_scrape_collector_success %v)",
			s.name, len(out), slices.Sorted(mapKeys(out)), fams["node_scrape_collector_success"])
	}
	return out
}

func (s *scrapable) scrapeOnce(t *testing.T) (processes, all map[string]*dto.MetricFamily) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body, err := httpGet(ctx, s.url)
	if err != nil {
		t.Fatal(err)
	}
	all = parseFamilies(t, s.name+"'s /metrics", body)
	processes = map[string]*dto.MetricFamily{}
	for n, f := range all {
		if strings.HasPrefix(n, "node_processes_") {
			processes[n] = f
		}
	}
	return processes, all
}

// forks is the kernel's count of processes and threads created since boot.
func forks(t *testing.T) uint64 {
	t.Helper()
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	st, err := fs.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.ProcessCreated
}

// checkSignatures: the same families, types, help texts and label names.
func checkSignatures(t *testing.T, hp, ne map[string]*dto.MetricFamily) {
	t.Helper()
	for _, n := range slices.Sorted(mapKeys(ne)) {
		if signature(hp[n]) != signature(ne[n]) {
			t.Errorf("%s: node_exporter %s, hostpush %s", n, signature(ne[n]), signature(hp[n]))
		}
	}
}

// checkExact: the limits do not move.
func checkExact(t *testing.T, a, b, c map[string]*dto.MetricFamily) {
	t.Helper()
	for _, n := range []string{"node_processes_max_threads", "node_processes_max_processes"} {
		if va, vb, vc := value(a, n), value(b, n), value(c, n); va != vb || vb != vc {
			t.Errorf("%s: hostpush %v, node_exporter %v, hostpush %v; want equal", n, va, vb, vc)
		}
	}
}

// checkBounds holds the counts to what births between the gathers allow.
func checkBounds(t *testing.T, a, b, c map[string]*dto.MetricFamily, ab, bc uint64) {
	t.Helper()
	for _, n := range []string{"node_processes_pids", "node_processes_threads", "node_processes_threads_state"} {
		va, vb, vc := value(a, n), value(b, n), value(c, n)
		if vb > va+float64(ab) {
			t.Errorf("%s: node_exporter %v, more than hostpush's %v before it plus the %d tasks born since", n, vb, va, ab)
		}
		if vc > vb+float64(bc) {
			t.Errorf("%s: hostpush %v, more than node_exporter's %v before it plus the %d tasks born since", n, vc, vb, bc)
		}
	}
}

// kernelStates are the letters of fs/proc/array.c's task_state_array.
const kernelStates = "RSDTtXZPI"

// checkStates checks that every state label is a kernel state and
// returns the state label sets' differences: a state node_exporter saw
// that hostpush saw neither before nor after, or one hostpush saw before
// and after that node_exporter did not. A task passing through a state
// (D, say) can cause one of these in one round; a collector that
// miscounts a state causes it in every round. R is left out: each server
// sees its own gathering thread running, and its main thread at times,
// so R on one side only is the observer, not a difference.
func checkStates(t *testing.T, a, b, c map[string]*dto.MetricFamily) []string {
	t.Helper()
	var diffs []string
	for _, n := range []string{"node_processes_state", "node_processes_threads_state"} {
		la, lb, lc := stateLabels(a[n]), stateLabels(b[n]), stateLabels(c[n])
		for _, l := range slices.Concat(la, lb, lc) {
			if len(l) != 1 || !strings.Contains(kernelStates, l) {
				t.Errorf("%s: state %q is not a kernel state (%s)", n, l, kernelStates)
			}
		}
		seen := fmt.Sprintf("(hostpush %v, node_exporter %v, hostpush %v)", la, lb, lc)
		for _, l := range lb {
			if l != "R" && !slices.Contains(la, l) && !slices.Contains(lc, l) {
				diffs = append(diffs, fmt.Sprintf("%s: node_exporter has state %q, hostpush had it neither before nor after\x00%s", n, l, seen))
			}
		}
		for _, l := range la {
			if l != "R" && slices.Contains(lc, l) && !slices.Contains(lb, l) {
				diffs = append(diffs, fmt.Sprintf("%s: hostpush has state %q before and after, node_exporter not\x00%s", n, l, seen))
			}
		}
	}
	return diffs
}

// stateLabels lists the values of a family's only label, sorted.
func stateLabels(f *dto.MetricFamily) []string {
	var ls []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetValue())
		}
	}
	slices.Sort(ls)
	return ls
}

// value sums a family's samples.
func value(fams map[string]*dto.MetricFamily, name string) float64 {
	v := 0.0
	for _, m := range fams[name].GetMetric() {
		v += m.GetGauge().GetValue()
	}
	return v
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestProcessesUnreadableFixture: a malformed /proc file fails the
// processes collector alone, with one log line, in hostpush's own
// collector as in node_exporter's; the other collectors' metrics are
// gathered (and would be pushed) as usual.
func TestProcessesUnreadableFixture(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"loadavg":                "0.21 0.37 0.39 1/80 11\n",
		"sys/kernel/threads-max": "7801\n",
		"sys/kernel/pid_max":     "32768\n",
		"1/stat":                 "1 (init S 0 1 1\n", // no closing parenthesis
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), content)
	}
	for _, native := range []string{"--collector.processes.native", "--no-collector.processes.native"} {
		t.Run(native, func(t *testing.T) {
			cmd := exec.Command(hostpushBinary(t), "--dry-run", "--collector.disable-defaults", "--collector.processes",
				"--collector.loadavg", "--path.procfs="+dir, native)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("hostpush: %v\n%s", err, stderr.String())
			}
			for _, want := range []string{
				`node_scrape_collector_success{collector="processes"} 0`,
				`node_scrape_collector_success{collector="loadavg"} 1`,
				`node_load1 0.21`,
			} {
				if !strings.Contains(string(out), want+"\n") {
					t.Errorf("output lacks %q", want)
				}
			}
			// node_exporter's error names the pid; hostpush's names the file.
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "collector=processes") || !strings.Contains(lines[0], "pid 1") ||
				native == "--collector.processes.native" && !strings.Contains(lines[0], dir+"/1/stat") {
				t.Errorf("want one log line naming the collector and the file, got:\n%s", stderr.String())
			}
			t.Log(lines[0])
		})
	}
}
