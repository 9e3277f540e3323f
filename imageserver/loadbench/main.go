// Command loadbench runs vegeta (as a library) against bin/imageserver,
// started as a child process serving the real 12 MP photo as gophers.jpg,
// in the four scenarios of the imageserver issue, and reports each one's
// latency histogram, quantiles, status codes, server CPU per request and
// peak RSS against the targets. It is a benchmark: it measures and reports,
// and exits non-zero only if it could not measure.
//
//	go run ./imageserver/loadbench --server=bin/imageserver --out=out/bench-imageserver.txt
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/hostpush/hostpush/imageserver/internal/testphoto"
)

// seedQuery is the request of the published comparison.
const seedQuery = "fit=crop&w=1024&h=1024&crop=center&blur=4"

type scenario struct {
	name     string
	rate     int
	uncached bool
	target   string
}

func main() {
	server := flag.String("server", "bin/imageserver", "imageserver binary to run")
	out := flag.String("out", "", "also write the report to this file")
	duration := flag.Duration("duration", 60*time.Second, "length of each load run")
	only := flag.String("scenarios", "seed,uncached,sustained,overload", "scenarios to run, comma separated")
	uncachedRate := flag.Int("uncached.rate", 5, "request rate of the CPU-per-request run")
	sustainedRate := flag.Int("sustained.rate", 14, "request rate of the sustained uncached run")
	flag.Parse()
	if err := run(*server, *out, *only, *duration, *uncachedRate, *sustainedRate); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func run(server, out, only string, d time.Duration, uncachedRate, sustainedRate int) error {
	photo, err := testphoto.Path()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "imageserver-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := os.ReadFile(photo)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "gophers.jpg"), b, 0o644); err != nil {
		return err
	}
	all := []scenario{
		{"seed", 50, false, "100% 200, p99 <= 10ms, max < 1s, peak RSS <= 150 MB"},
		{"uncached", uncachedRate, true, "CPU per request <= 130 ms"},
		{"sustained", sustainedRate, true, ">= 14 req/s, every request 200, p99 < 1s"},
		{"overload", 50, true, "successes <= 1.5s, the rest 503, peak RSS <= 300 MB"},
	}
	var w io.Writer = os.Stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	load1, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(w, "imageserver load runs: %s, photo %s (%d bytes) as gophers.jpg, %s per run, %s\nload average before: %s\n",
		time.Now().UTC().Format(time.RFC3339), testphoto.Module, len(b), d, "vegeta v12 in this process, server a child process", strings.TrimSpace(string(load1)))
	for _, sc := range all {
		if !strings.Contains(","+only+",", ","+sc.name+",") {
			continue
		}
		if err := runScenario(w, server, dir, sc, d); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
	}
	return nil
}

func runScenario(w io.Writer, server, dir string, sc scenario, d time.Duration) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(server, "--images.dir="+dir, "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	base := "http://" + addr
	if err := waitHealthy(base+"/healthz", 10*time.Second); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	cpu0, err := procCPU(pid)
	if err != nil {
		return err
	}
	busy0, self0 := machineBusy(), selfCPU()
	var seq atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		t.Method = "GET"
		t.URL = base + "/assets/images/gophers.jpg?" + query(sc.uncached, seq.Add(1)-1)
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Timeout(30*time.Second), vegeta.KeepAlive(true), vegeta.MaxWorkers(1000))
	hist := &vegeta.Histogram{Buckets: vegeta.Buckets{0, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}}
	var m vegeta.Metrics
	var okMax time.Duration
	var oks int
	for r := range atk.Attack(vegeta.Targeter(targeter), vegeta.Rate{Freq: sc.rate, Per: time.Second}, d, sc.name) {
		m.Add(r)
		hist.Add(r)
		if r.Code == 200 {
			oks++
			okMax = max(okMax, r.Latency)
		}
	}
	m.Close()
	cpu1, err := procCPU(pid)
	if err != nil {
		return err
	}
	hwm, err := vmHWM(pid)
	if err != nil {
		return err
	}
	cpu := cpu1 - cpu0
	others := machineBusy() - busy0 - cpu - (selfCPU() - self0)
	fmt.Fprintf(w, "\n== %s: %d req/s for %s, %s URL ==\ntarget: %s\n", sc.name, sc.rate, d, map[bool]string{true: "a distinct", false: "the same"}[sc.uncached], sc.target)
	fmt.Fprintf(w, "requests %d, throughput (200/s) %.2f, success ratio %.4f, status codes %v\n", m.Requests, m.Throughput, m.Success, m.StatusCodes)
	fmt.Fprintf(w, "latency p50 %s  p95 %s  p99 %s  max %s  (max of 200s %s)\n", r3(m.Latencies.P50), r3(m.Latencies.P95), r3(m.Latencies.P99), r3(m.Latencies.Max), r3(okMax))
	perReq := time.Duration(0)
	if oks > 0 {
		perReq = cpu / time.Duration(oks)
	}
	fmt.Fprintf(w, "server CPU %s total, %s per 200 response, %s per request; peak RSS (VmHWM) %.1f MB\n",
		r3(cpu), r3(perReq), r3(cpu/time.Duration(max(1, m.Requests))), float64(hwm)/1e6)
	fmt.Fprintf(w, "machine: vegeta used %.2f cores, other processes %.2f of the 2 cores on average during the run\n",
		(selfCPU()-self0).Seconds()/d.Seconds(), others.Seconds()/d.Seconds())
	if len(m.Errors) > 0 {
		fmt.Fprintf(w, "errors: %s\n", strings.Join(m.Errors, "; "))
	}
	if err := vegeta.NewHistogramReporter(hist)(w); err != nil {
		return err
	}
	if line, err := serverSide(base); err == nil {
		fmt.Fprintf(w, "server-side (imageserver_http_request_duration_seconds, cumulative): %s\n", line)
	}
	verdict(w, sc, &m, okMax, perReq, hwm)
	return nil
}

// query returns the seed query, or for uncached runs a distinct variant of
// the same work (size within 3 % of 1024, quality 75-79).
func query(uncached bool, i uint64) string {
	if !uncached {
		return seedQuery
	}
	return fmt.Sprintf("fit=crop&w=%d&h=%d&crop=center&blur=4&q=%d", 1024-i%32, 1024-(i/32)%32, 75+(i/1024)%5)
}

func verdict(w io.Writer, sc scenario, m *vegeta.Metrics, okMax, perReq time.Duration, hwm int64) {
	mb := float64(hwm) / 1e6
	other := 0
	for code, n := range m.StatusCodes {
		if code != "200" && code != "503" {
			other += n
		}
	}
	switch sc.name {
	case "seed":
		fmt.Fprintf(w, "vs target: success %.4f (want 1), p99/10ms = %.2f, max/1s = %.3f, RSS/150MB = %.2f\n",
			m.Success, m.Latencies.P99.Seconds()/0.010, m.Latencies.Max.Seconds(), mb/150)
	case "uncached":
		fmt.Fprintf(w, "vs target: CPU per request / 130ms = %.2f, success %.4f\n", perReq.Seconds()/0.130, m.Success)
	case "sustained":
		fmt.Fprintf(w, "vs target: throughput %.2f req/s (/14 = %.2f), success %.4f (want 1), p99/1s = %.3f\n",
			m.Throughput, m.Throughput/14, m.Success, m.Latencies.P99.Seconds())
	case "overload":
		fmt.Fprintf(w, "vs target: max of 200s / 1.5s = %.2f, responses other than 200/503: %d, RSS/300MB = %.2f\n",
			okMax.Seconds()/1.5, other, mb/300)
	}
}

// serverSide summarizes the server's own request duration histogram, which
// leaves out the time vegeta and the kernel add on a busy machine.
func serverSide(base string) (string, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var parts, mem []string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "imageserver_http_request_duration_seconds_bucket{le=\""); ok {
			le, count, _ := strings.Cut(rest, "\"} ")
			parts = append(parts, "<="+le+"s: "+count)
		}
		for _, name := range []string{"go_memstats_heap_sys_bytes ", "go_memstats_heap_inuse_bytes ", "imageserver_cache_bytes ", "process_resident_memory_bytes "} {
			if v, ok := strings.CutPrefix(line, name); ok {
				var f float64
				fmt.Sscan(v, &f)
				mem = append(mem, fmt.Sprintf("%s%.0fMB", name, f/1e6))
			}
		}
	}
	return strings.Join(parts, ", ") + "\nmemory at the end: " + strings.Join(mem, ", "), nil
}

func r3(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("server did not become healthy")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// procCPU is utime+stime of a process from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ut, st int64
	if _, err := fmt.Sscan(fields[11], &ut); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(fields[12], &st); err != nil {
		return 0, err
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// machineBusy is the CPU time all processes used so far, from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		var n int64
		fmt.Sscan(v, &n)
		busy += n
	}
	return time.Duration(busy) * time.Second / 100
}

// selfCPU is the CPU time of this process (vegeta) so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmHWM is the peak resident set size of a process in bytes.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
