package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hostpush/hostpush/internal/procs"
)

// hostpushBin is built once by TestMain from this package's source, so the
// tests always run the code under test.
var hostpushBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hostpush-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hostpushBin = filepath.Join(dir, "hostpush")
	build := exec.Command("go", "build", "-o", hostpushBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building hostpush: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hostpushBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDryRun(t *testing.T) {
	r := runBin(t, "--dry-run", "--log.level=error")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatalf("dry-run output is not a valid exposition: %v", err)
	}
	for _, want := range []string{"node_cpu_seconds_total", "node_uname_info", "process_cpu_seconds_total", "hostpush_build_info", "node_scrape_collector_success"} {
		if fams[want] == nil {
			t.Errorf("dry-run lacks %s", want)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "go_") {
			t.Errorf("dry-run has %s; go_* families must not be pushed", name)
		}
	}
	// The extra default collectors run (and report, even where they fail).
	succ := map[string]bool{}
	for _, m := range fams["node_scrape_collector_success"].GetMetric() {
		succ[m.GetLabel()[0].GetValue()] = true
	}
	for _, c := range []string{"processes", "systemd", "interrupts", "tcpstat", "cpu", "meminfo"} {
		if !succ[c] {
			t.Errorf("collector %s did not run by default", c)
		}
	}
}

func TestNodeExporterFlagsWork(t *testing.T) {
	r := runBin(t, "--dry-run", "--log.level=error", "--collector.disable-defaults", "--collector.loadavg", "--collector.uname")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "node_cpu_seconds_total") || strings.Contains(r.stdout, `collector="systemd"`) {
		t.Error("--collector.disable-defaults left default or extra collectors on")
	}
	if !strings.Contains(r.stdout, "node_load1 ") || !strings.Contains(r.stdout, "node_uname_info{") {
		t.Error("explicitly enabled collectors missing")
	}
}

func TestBadInputOneLineExit2(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	misspelled := write("misspelled.yml", "push:\n  url: http://localhost:9091\n  intervall: 5s\n")
	tests := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"misspelled key", []string{"--config.file=" + misspelled, "--check-config"}, []string{"misspelled.yml:3:", `unknown key "intervall" in push`}},
		{"unknown flag", []string{"--push.urll=x"}, []string{"unknown long flag '--push.urll'"}},
		{"bad duration flag", []string{"--push.interval=5x", "--once"}, []string{"--push.interval", "5x"}},
		{"bad url flag", []string{"--push.url=ftp://x", "--once"}, []string{`push.url: "ftp://x" has scheme "ftp" (allowed: http, https)`}},
		{"missing config file", []string{"--config.file=" + filepath.Join(dir, "nope.yml")}, []string{"reading config file", "nope.yml"}},
		{"bad collector", []string{"--config.file=" + write("c.yml", "collectors:\n  enable: [wifii]\n"), "--check-config"}, []string{"c.yml:2: collectors.enable[0]: unknown collector \"wifii\""}},
		{"not yaml", []string{"--config.file=" + write("n.yml", "push: [\n"), "--check-config"}, []string{"n.yml:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, tc.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", len(lines), r.stderr)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Errorf("stack trace on stderr: %s", r.stderr)
			}
		})
	}
}

func TestCheckConfigValid(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ok.yml")
	os.WriteFile(p, []byte("push:\n  url: http://127.0.0.1:9091\n  grouping: {dc: eu1}\ncollectors:\n  enable: [wifi]\n  intervals: {filesystem: 30s}\n"), 0o644)
	if r := runBin(t, "--config.file="+p, "--check-config"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}

func TestOnceUnreachableGateway(t *testing.T) {
	r := runBin(t, "--once", "--push.url=http://127.0.0.1:1", "--log.level=error")
	if r.code == 0 {
		t.Fatal("--once against a closed port exited 0")
	}
	last := lastLine(r.stderr)
	if !strings.HasPrefix(last, "hostpush: ") || !strings.Contains(last, "http://127.0.0.1:1/metrics/job/host-stats") {
		t.Errorf("last line %q does not name the URL", last)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func startGateway(t *testing.T, addr string) *procs.Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), procs.StartTimeout)
	defer cancel()
	p, err := procs.StartPushgateway(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	return p
}

func freeAddr(t *testing.T) string {
	a, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// gatewayGroup returns the samples of the group with these job and
// instance labels, parsed from the gateway's own /metrics.
func gatewayGroup(t *testing.T, addr, job, instance string) map[string]int {
	t.Helper()
	fams, err := procs.Scrape(t.Context(), "http://"+addr+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var j, i string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "job":
					j = l.GetValue()
				case "instance":
					i = l.GetValue()
				}
			}
			if j == job && i == instance {
				series[name]++
			}
		}
	}
	return series
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// startAgent runs hostpush in the background and returns it with its
// stderr, which the test may read while it runs.
func startAgent(t *testing.T, args ...string) (*exec.Cmd, *procs.Buffer) {
	t.Helper()
	cmd := exec.Command(hostpushBin, args...)
	var errb procs.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &errb
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPushesToRealGatewayAndStopsOnSIGTERM(t *testing.T) {
	addr := freeAddr(t)
	startGateway(t, addr)
	host := hostname(t)
	cmd, stderr := startAgent(t, "--push.url=http://"+addr, "--push.interval=1s", "--log.level=warn")

	var group map[string]int
	waitFor(t, "the host group on the gateway", 20*time.Second, func() bool {
		group = gatewayGroup(t, addr, "host-stats", host)
		return group["node_uname_info"] > 0
	})
	if n := total(group); n < 400 {
		t.Errorf("group has %d series, want at least 400 on a Linux host", n)
	}
	for name := range group {
		if strings.HasPrefix(name, "go_") {
			t.Errorf("pushed %s: go_* collide with the gateway's own", name)
		}
	}
	for _, want := range []string{"node_cpu_seconds_total", "process_cpu_seconds_total", "hostpush_build_info", "push_time_seconds"} {
		if group[want] == 0 {
			t.Errorf("group lacks %s", want)
		}
	}

	begin := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v (want 0); stderr: %s", err, stderr)
	}
	t.Logf("exited 0 %s after SIGTERM", took.Round(time.Millisecond))
}

func TestPutSemanticsDisabledCollectorVanishes(t *testing.T) {
	addr := freeAddr(t)
	startGateway(t, addr)
	host := hostname(t)
	if r := runBin(t, "--once", "--push.url=http://"+addr, "--log.level=error"); r.code != 0 {
		t.Fatalf("first push: exit %d: %s", r.code, r.stderr)
	}
	if gatewayGroup(t, addr, "host-stats", host)["node_load1"] == 0 {
		t.Fatal("node_load1 missing after the first push")
	}
	if r := runBin(t, "--once", "--push.url=http://"+addr, "--log.level=error", "--no-collector.loadavg"); r.code != 0 {
		t.Fatalf("second push: exit %d: %s", r.code, r.stderr)
	}
	g := gatewayGroup(t, addr, "host-stats", host)
	if g["node_load1"] != 0 {
		t.Error("node_load1 still on the gateway after a push without the loadavg collector: the push must replace the group (PUT)")
	}
	if g["node_cpu_seconds_total"] == 0 {
		t.Error("the second push did not arrive")
	}
}

func TestGatewayRestartFailuresCountedThenRecovers(t *testing.T) {
	addr := freeAddr(t)
	gw := startGateway(t, addr)
	host := hostname(t)
	startAgent(t, "--push.url=http://"+addr, "--push.interval=300ms", "--log.level=error")
	waitFor(t, "first push", 20*time.Second, func() bool { return gatewayGroup(t, addr, "host-stats", host)["node_uname_info"] > 0 })

	if err := gw.Stop(5 * time.Second); err != nil {
		t.Logf("stopping gateway: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // several ticks against a dead gateway
	startGateway(t, addr)               // fresh, empty gateway on the same port

	var failures float64
	waitFor(t, "a push after the restart that reports the failures", 20*time.Second, func() bool {
		failures = selfCounter(t, addr, host, "failure")
		return failures > 0
	})
	t.Logf("failed pushes counted while the gateway was down: %v", failures)
}

// selfCounter reads hostpush_pushes_total{result} for the host from the
// gateway, summed over senders.
func selfCounter(t *testing.T, addr, host, result string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sum := 0.0 // over senders
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "hostpush_pushes_total{") && strings.Contains(line, `instance="`+host+`"`) && strings.Contains(line, `result="`+result+`"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			sum += v
		}
	}
	return sum
}

func TestPrometheusSeesHostThroughGateway(t *testing.T) {
	gwAddr, promAddr := freeAddr(t), freeAddr(t)
	startGateway(t, gwAddr)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global: {scrape_interval: 1s}
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{targets: ["%s"]}]
`, gwAddr)), 0o644)
	ctx, cancel := context.WithTimeout(t.Context(), procs.StartTimeout)
	defer cancel()
	prom, err := procs.StartPrometheus(ctx, promAddr, cfg, filepath.Join(dir, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prom.Stop(10 * time.Second) })
	host := hostname(t)
	startAgent(t, "--push.url=http://"+gwAddr, "--push.interval=1s", "--log.level=error")

	q := fmt.Sprintf(`node_uname_info{job="host-stats",instance=%q}`, host)
	waitFor(t, q+" in Prometheus", 30*time.Second, func() bool { return len(query(t, promAddr, q)) == 1 })
}

func query(t *testing.T, addr, q string) model.Vector {
	return queryWith(t, addr, url.Values{"query": {q}})
}

// queryWith runs an instant query with these parameters (query, time).
func queryWith(t *testing.T, addr string, params url.Values) model.Vector {
	resp, err := http.Get("http://" + addr + "/api/v1/query?" + params.Encode())
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Data struct {
			Result model.Vector `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil
	}
	return r.Data.Result
}
