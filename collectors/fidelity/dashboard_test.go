package fidelity

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hostpush/hostpush/internal/procs"
)

const (
	// pushInterval is hostpush's push interval in this test, and the
	// scrape interval of Prometheus (they should match, see README).
	pushInterval = time.Second
	// rateInterval is what Grafana substitutes for $__rate_interval when
	// the data source's scrape interval is pushInterval: four of them.
	rateInterval = "4s"
	// window is how far back a name counts as present: a collector that
	// misses its deadline on a busy machine drops out of one push.
	window = "10s"
	// dashboardJob is hostpush's default push.job.
	dashboardJob = "host-stats"
)

// dashMetric is one line of testdata/dashboard-1860-metrics.tsv.
type dashMetric struct {
	name, collector, absentWhen string
}

func loadDashboardMetrics(t *testing.T) []dashMetric {
	t.Helper()
	f, err := os.Open("testdata/dashboard-1860-metrics.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dashMetric
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("testdata/dashboard-1860-metrics.tsv: %q has %d columns, want 3 (metric, collector, absent_when)", line, len(cols))
		}
		out = append(out, dashMetric{cols[0], cols[1], cols[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dashboardJSON locates dashboard 1860 in shared/dashboards/ beside the
// repository, or beside one of its parent directories (a git worktree
// under wt/), or returns "".
func dashboardJSON(t *testing.T) string {
	t.Helper()
	root, err := procs.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "shared", "dashboards", "node-exporter-full.json")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if dir == filepath.Dir(dir) {
			return ""
		}
	}
}

// TestDashboard1860 pushes hostpush's default gather through a real
// Pushgateway into a real Prometheus, then checks each of the metric names
// dashboard 1860 queries: present with job and a non-empty instance, or
// absent for a reason it names. With the dashboard JSON at hand it also
// evaluates every panel's queries as Grafana would.
func TestDashboard1860(t *testing.T) {
	t.Parallel()
	dashboard1860(t, debianStack)
}

// TestDashboard1860Prometheus3 is TestDashboard1860 on the servers our
// deploy/ stack and Debian 13 ship: Pushgateway 1.11 scraped by
// Prometheus 3.16, which stores le and quantile in its canonical form.
func TestDashboard1860Prometheus3(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 13*time.Minute)
	defer cancel()
	// Built once per version (minutes, cold) before the pipeline's
	// one-minute start deadline applies.
	if _, err := procs.Prometheus3(ctx, t.Logf); err != nil {
		t.Fatal(err)
	}
	if _, err := procs.Pushgateway111(ctx); err != nil {
		t.Fatal(err)
	}
	dashboard1860(t, deployStack)
}

// gatewayStack is the Pushgateway and the Prometheus scraping it that a
// dashboard test runs.
type gatewayStack struct {
	pushgateway func(ctx context.Context, addr string, out io.Writer) (*procs.Proc, error)
	prometheus  func(ctx context.Context, addr, configFile, dataDir string, out io.Writer) (*procs.Proc, error)
}

var (
	// debianStack: Debian 12's Pushgateway 1.5.1 and Prometheus 2.42.
	debianStack = gatewayStack{procs.StartPushgateway, procs.StartPrometheus}
	// deployStack: Pushgateway 1.11.0 (Debian 13) and Prometheus 3.16.0,
	// the releases deploy/ pins.
	deployStack = gatewayStack{procs.StartPushgateway111,
		func(ctx context.Context, addr, configFile, dataDir string, out io.Writer) (*procs.Proc, error) {
			return procs.StartPrometheus3(ctx, addr, configFile, dataDir, out)
		}}
)

func dashboard1860(t *testing.T, stack gatewayStack) {
	metrics := loadDashboardMetrics(t)
	dash := loadDashboard(t)
	if dash != nil {
		checkNamesMatchDashboard(t, metrics, dash)
	}

	prom := startPipeline(t, stack)
	// node_exporter with hostpush's collector flags on this machine: what it
	// exposes hostpush must deliver.
	ref := scrapeNodeExporter(t, hostpushDefaultFlags())
	waitForData(t, prom)

	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	vars := resolveVariables(t, prom, host)
	absent := checkCoverage(t, prom, metrics, ref, host)
	t.Run("panels", func(t *testing.T) {
		if dash == nil {
			t.Skip("skipped: ../shared/dashboards/node-exporter-full.json (beside the repository) is absent; the names were checked from testdata")
		}
		checkPanels(t, prom, dash, vars, absent)
	})
}

// startPipeline runs the stack's Pushgateway and Prometheus (scraping the
// gateway with honor_labels every pushInterval) and bin/hostpush with its
// default configuration pushing every pushInterval.
func startPipeline(t *testing.T, stack gatewayStack) promClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gwAddr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gwLog := &logBuffer{}
	gw, err := stack.pushgateway(ctx, gwAddr, gwLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Stop(5 * time.Second) })

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    scrape_interval: %[1]s
    static_configs:
      - targets: [%[2]q]
`, pushInterval, gwAddr))
	promAddr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	promLog := &logBuffer{}
	p, err := stack.prometheus(ctx, promAddr, cfg, filepath.Join(dir, "data"), promLog)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(promLog.String(), 20))
	}
	t.Cleanup(func() {
		_ = p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("prometheus output:\n%s\npushgateway output:\n%s", tail(promLog.String(), 20), tail(gwLog.String(), 20))
		}
	})
	startProc(t, "hostpush", hostpushBinary(t), "--push.url=http://"+gwAddr, "--push.interval="+pushInterval.String())
	return promClient{base: "http://" + promAddr}
}

// waitForData waits until Prometheus holds a few scrapes of hostpush's
// group, enough for rate() over rateInterval.
func waitForData(t *testing.T, prom promClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q := fmt.Sprintf(`count_over_time(node_uname_info{job=%q}[%s]) >= 5`, dashboardJob, window)
	for {
		res, err := prom.query(ctx, q, time.Now())
		if err == nil && len(res) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus has no 5 scrapes of hostpush's group within a minute (last: %v, %d series)", err, len(res))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// resolveVariables resolves the dashboard's variables as Grafana does:
// job from node_uname_info, nodename within the job, node (the instance)
// within both. It checks that hostpush's group is selectable.
func resolveVariables(t *testing.T, prom promClient, host string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	values := func(q, label string) []string {
		res, err := prom.query(ctx, q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range res {
			out = append(out, s.Metric[label])
		}
		sort.Strings(out)
		return out
	}
	jobs := values(`group by (job) (node_uname_info)`, "job")
	if !slices.Contains(jobs, dashboardJob) {
		t.Fatalf("$job: label_values(node_uname_info, job) = %q, want it to offer %q", jobs, dashboardJob)
	}
	nodenames := values(fmt.Sprintf(`group by (nodename) (node_uname_info{job=%q})`, dashboardJob), "nodename")
	if len(nodenames) != 1 || nodenames[0] == "" {
		t.Fatalf("$nodename: label_values(node_uname_info{job=%q}, nodename) = %q, want one host", dashboardJob, nodenames)
	}
	nodes := values(fmt.Sprintf(`group by (instance) (node_uname_info{job=%q,nodename=%q})`, dashboardJob, nodenames[0]), "instance")
	if len(nodes) != 1 || nodes[0] != host {
		t.Fatalf("$node: label_values(node_uname_info{...}, instance) = %q, want [%q] (hostpush's default instance, the host name)", nodes, host)
	}
	return map[string]string{"job": dashboardJob, "nodename": nodenames[0], "node": nodes[0], "__rate_interval": rateInterval}
}

// checkCoverage checks every dashboard name and prints the coverage line.
// It returns the names that are absent (each explained).
func checkCoverage(t *testing.T, prom promClient, metrics []dashMetric, ref map[string]*dto.MetricFamily, host string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = regexp.QuoteMeta(m.name)
	}
	q := fmt.Sprintf(`group by (__name__, job, instance) (last_over_time({__name__=~"%s"}[%s]))`, strings.Join(names, "|"), window)
	res, err := prom.query(ctx, q, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, s := range res {
		// Other jobs (the gateway's own process_*, other groups) are
		// legitimate; the dashboard filters on job and instance.
		if s.Metric["job"] != dashboardJob {
			continue
		}
		if s.Metric["instance"] != host {
			t.Errorf("%s arrived with instance=%q, want %q (hostpush's grouping key, kept by honor_labels)",
				s.Metric["__name__"], s.Metric["instance"], host)
			continue
		}
		present[s.Metric["__name__"]] = true
	}

	failed := collectorFailures(ref)
	absent := map[string]bool{}
	var explained, unexplained []string
	for _, m := range metrics {
		if present[m.name] {
			continue
		}
		absent[m.name] = true
		why, ok := explainAbsence(m, ref, failed)
		line := fmt.Sprintf("  %-45s %-17s %s", m.name, m.collector, why)
		if ok {
			explained = append(explained, line)
		} else {
			unexplained = append(unexplained, line)
		}
	}
	summary := fmt.Sprintf("%d of %d present, %d explained absent, %d unexplained",
		len(metrics)-len(absent), len(metrics), len(explained), len(unexplained))
	t.Logf("dashboard 1860 metric names: %s", summary)
	if len(explained) > 0 {
		t.Logf("explained absent on this machine:\n%s", strings.Join(explained, "\n"))
	}
	if len(unexplained) > 0 {
		t.Errorf("dashboard 1860: %s; unexplained:\n%s", summary, strings.Join(unexplained, "\n"))
	}
	return absent
}

// explainAbsence says why a name hostpush did not deliver may be absent.
// It is explained only when node_exporter with the same flags on this
// machine lacks it too and the test data says when it can be absent.
func explainAbsence(m dashMetric, ref map[string]*dto.MetricFamily, failed map[string]bool) (string, bool) {
	if ref[m.name] != nil {
		return "UNEXPLAINED: node_exporter with the same flags exposes it on this machine", false
	}
	if m.absentWhen == "" {
		return "UNEXPLAINED: node_exporter lacks it here too, but testdata says it is always present", false
	}
	evidence := "node_exporter lacks it here too"
	if failed[m.collector] {
		evidence = fmt.Sprintf("collector %s fails here in node_exporter too (node_scrape_collector_success 0)", m.collector)
	}
	return evidence + "; " + m.absentWhen, true
}

// collectorFailures lists the collectors node_exporter reported as failed.
func collectorFailures(ref map[string]*dto.MetricFamily) map[string]bool {
	failed := map[string]bool{}
	if f := ref["node_scrape_collector_success"]; f != nil {
		for _, m := range f.GetMetric() {
			if m.GetGauge().GetValue() == 0 {
				failed[label(m, "collector")] = true
			}
		}
	}
	return failed
}

// metricNameRe finds the metric names in a PromQL expression of dashboard
// 1860: all of them start with node_ or process_.
var metricNameRe = regexp.MustCompile(`\b(?:node|process)_[A-Za-z0-9_]+\b`)

// checkNamesMatchDashboard keeps testdata honest: its names are exactly
// those the dashboard's queries and variables use.
func checkNamesMatchDashboard(t *testing.T, metrics []dashMetric, d *dashboard) {
	t.Helper()
	inDash := map[string]bool{}
	for _, p := range d.panels() {
		for _, tg := range p.Targets {
			for _, n := range metricNameRe.FindAllString(tg.Expr, -1) {
				inDash[n] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, n := range metricNameRe.FindAllString(v.queryText(), -1) {
			inDash[n] = true
		}
	}
	inData := map[string]bool{}
	for _, m := range metrics {
		inData[m.name] = true
		if !inDash[m.name] {
			t.Errorf("testdata/dashboard-1860-metrics.tsv lists %s, which dashboard %d no longer queries", m.name, d.Version)
		}
	}
	for n := range inDash {
		if !inData[n] {
			t.Errorf("dashboard %d queries %s, which testdata/dashboard-1860-metrics.tsv lacks: add it with its collector", d.Version, n)
		}
	}
}
