package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/hostpush/hostpush/internal/procs"
)

// scenario is one of the load runs of the imageserver issues, with the
// target it is reported against. The rate of two comes from flags.
type scenario struct {
	name   string
	rate   func(*config) int
	bust   bool
	target string
}

var scenarios = []scenario{
	{"seed", func(*config) int { return 50 }, false, "100% 200, p99 <= 10ms, max < 1s, peak RSS <= 150 MB"},
	{"uncached", func(c *config) int { return c.UncachedRate }, true, "CPU per request <= 130 ms"},
	{"sustained", func(c *config) int { return c.SustainedRate }, true, ">= 14 req/s, every request 200, p99 < 1s"},
	{"overload", func(*config) int { return 50 }, true,
		"only 200 and 503; 503s p99 < 50ms; goodput >= 95% of the rate sustained in the same run; successes < 1s; peak RSS <= 300 MB besides the result cache"},
	{"avif-burst", func(*config) int { return 8 }, true,
		"the seed at 8 req/s while 20 AVIF requests arrive at once: seed p99 and max during the burst near those before it, under 1s; AVIF 200 or 503"},
}

func scenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// runScenarios runs the selected scenarios one after the other, each
// against a freshly started server on the seed URL (distinct variants of it
// when uncached), and reports each against its target, on stdout and in
// --out. Plots of each run go to the output folder under its name.
func runScenarios(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	w := stdout
	if c.Out != "" {
		if err := os.MkdirAll(filepath.Dir(c.Out), 0o755); err != nil {
			return err
		}
		f, err := os.Create(c.Out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(stdout, f)
	}
	photo, err := procs.SampleImagePath(ctx)
	if err != nil {
		return err
	}
	st, err := os.Stat(photo)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "imageserver load runs: %s, photo %s (%d bytes) as gophers.jpg, %s per run, %s\nload average before: %s\n",
		time.Now().UTC().Format(time.RFC3339), procs.SampleImageModule, st.Size(), c.Duration,
		"vegeta v12 in this process, server a child process", procs.LoadAvgText())
	for _, sc := range scenarios {
		if !strings.Contains(","+c.Scenarios+",", ","+sc.name+",") {
			continue
		}
		run := *c
		run.Name, run.Rate, run.CacheBust, run.URLs = sc.name, sc.rate(c), sc.bust, []string{SeedPath}
		if err := runScenario(ctx, w, &run, sc, stderr); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func runScenario(ctx context.Context, w io.Writer, c *config, sc scenario, stderr io.Writer) error {
	out := filepath.Join(c.OutDir, c.Name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	srv, addr, stop, err := startServer(ctx, c, out, stderr)
	if err != nil {
		return err
	}
	defer stop()
	base := "http://" + addr
	tr, err := newTargeter(base, c.URLs, c.CacheBust)
	if err != nil {
		return err
	}
	ph := startPhases(ctx, c, sc, base, tr, stderr)
	busy0, _ := procs.MachineCPU()
	self0, _ := procs.ReadUsage(os.Getpid())
	o, err := attack(ctx, c, tr, srv.Pid(), stderr)
	ph.wait()
	if err != nil {
		return err
	}
	busy1, _ := procs.MachineCPU()
	self1, _ := procs.ReadUsage(os.Getpid())
	self := self1.CPU - self0.CPU
	writeScenario(w, c, sc, o, self, busy1-busy0-cpuTime(o.CPU)-self)
	view, err := serverSide(base)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "server-side (imageserver_http_request_duration_seconds, cumulative): %s\n", view.histogram())
	fmt.Fprintf(w, "memory at the end: %s\n", strings.Join(view.mem, ", "))
	verdict(w, sc, o, view)
	writePhases(w, sc, o, ph)
	files, err := writePlots(out, c, o)
	if err != nil {
		return fmt.Errorf("writing plots: %w", err)
	}
	fmt.Fprintf(stderr, "imagebench: %s: plots %v\n", c.Name, files)
	return nil
}

func cpuTime(seconds float64) time.Duration { return time.Duration(seconds * float64(time.Second)) }

// writeScenario prints one run: requests and status codes, latency
// quantiles, the server's CPU per request and peak RSS, how busy the rest
// of the machine was, and the histogram.
func writeScenario(w io.Writer, c *config, sc scenario, o *outcome, self, others time.Duration) {
	s := summarize(o.Results)
	d := o.Duration.Seconds()
	cpu := cpuTime(o.CPU)
	url := map[bool]string{true: "a distinct", false: "the same"}[c.CacheBust]
	fmt.Fprintf(w, "\n== %s: %d req/s for %s, %s URL ==\ntarget: %s\n", c.Name, c.Rate, c.Duration, url, sc.target)
	fmt.Fprintf(w, "requests %d, throughput (200/s) %.2f, success ratio %.4f, status codes %v\n",
		o.Metrics.Requests, o.Metrics.Throughput, o.Metrics.Success, o.Metrics.StatusCodes)
	fmt.Fprintf(w, "latency p50 %s  p95 %s  p99 %s  max %s  (max of 200s %s)\n", r3(s.P50), r3(s.P95), r3(s.P99), r3(s.Max), r3(s.OKMax))
	fmt.Fprintf(w, "server CPU %s total, %s per 200 response, %s per request; peak RSS (VmHWM) %.1f MB\n",
		r3(cpu), r3(cpu/time.Duration(max(1, s.OK))), r3(cpu/time.Duration(max(1, s.Requests))), float64(o.PeakRSS)/1e6)
	fmt.Fprintf(w, "machine: vegeta used %.2f cores, other processes %.2f of the %d cores on average during the run\n",
		self.Seconds()/d, others.Seconds()/d, runtime.NumCPU())
	if len(o.Metrics.Errors) > 0 {
		fmt.Fprintf(w, "errors: %s\n", strings.Join(o.Metrics.Errors, "; "))
	}
	_ = vegeta.NewHistogramReporter(&o.Hist).Report(w)
}

// verdict prints the run's figures as ratios of its target.
func verdict(w io.Writer, sc scenario, o *outcome, view *serverView) {
	s := summarize(o.Results)
	m := &o.Metrics
	mb := float64(o.PeakRSS) / 1e6
	perReq := o.CPU / float64(max(1, s.OK))
	other := 0
	for code, n := range m.StatusCodes {
		if code != "200" && code != "503" {
			other += n
		}
	}
	switch sc.name {
	case "seed":
		fmt.Fprintf(w, "vs target: success %.4f (want 1), p99/10ms = %.2f, max/1s = %.3f, RSS/150MB = %.2f\n",
			m.Success, s.P99.Seconds()/0.010, s.Max.Seconds(), mb/150)
	case "uncached":
		fmt.Fprintf(w, "vs target: CPU per request / 130ms = %.2f, success %.4f\n", perReq/0.130, m.Success)
	case "sustained":
		fmt.Fprintf(w, "vs target: throughput %.2f req/s (/14 = %.2f), success %.4f (want 1), p99/1s = %.3f\n",
			m.Throughput, m.Throughput/14, m.Success, s.P99.Seconds())
	case "overload", "avif-burst":
		// The result cache is memory the operator sized (--cache.size);
		// the bound is on what the server needs besides it.
		work := mb - view.cacheBytes/1e6
		fmt.Fprintf(w, "vs target: max of 200s / 1s = %.2f, responses other than 200/503: %d, (peak RSS - cached results %.0f MB)/300MB = %.2f\n",
			s.OKMax.Seconds(), other, view.cacheBytes/1e6, work/300)
	}
}

// serverView is the server's own account at the end of a run: its request
// duration histogram, which leaves out the time vegeta and the kernel add on
// a busy machine, and its memory.
type serverView struct {
	buckets    []*dto.Bucket // cumulative, by upper bound
	cacheBytes float64       // imageserver_cache_bytes
	mem        []string      // memory figures, "name NMB"
}

// serverSide reads the server's /metrics.
func serverSide(base string) (*serverView, error) {
	fams, err := procs.Scrape(context.Background(), base+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("reading the server's metrics: %w", err)
	}
	v := &serverView{}
	if f := fams["imageserver_http_request_duration_seconds"]; f != nil && len(f.GetMetric()) > 0 {
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if len(v.buckets) == 0 {
				for _, b := range h.GetBucket() {
					v.buckets = append(v.buckets, &dto.Bucket{UpperBound: b.UpperBound, CumulativeCount: new(uint64)})
				}
			}
			for i, b := range h.GetBucket() {
				if i < len(v.buckets) {
					*v.buckets[i].CumulativeCount += b.GetCumulativeCount()
				}
			}
		}
	}
	for _, name := range []string{"go_memstats_heap_sys_bytes", "go_memstats_heap_inuse_bytes", "imageserver_cache_bytes", "process_resident_memory_bytes"} {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			continue
		}
		val := f.GetMetric()[0].GetGauge().GetValue()
		if name == "imageserver_cache_bytes" {
			v.cacheBytes = val
		}
		v.mem = append(v.mem, fmt.Sprintf("%s %.0fMB", name, val/1e6))
	}
	return v, nil
}

func (v *serverView) histogram() string {
	parts := make([]string, len(v.buckets))
	for i, b := range v.buckets {
		parts[i] = fmt.Sprintf("<=%gs: %d", b.GetUpperBound(), b.GetCumulativeCount())
	}
	return strings.Join(parts, ", ")
}

func r3(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
