package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/procs"
)

// Buckets are the histogram buckets the seed experiment printed.
var Buckets = vegeta.Buckets{0, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}

// outcome is everything one run measured.
type outcome struct {
	Results  []vegeta.Result
	Metrics  vegeta.Metrics
	Hist     vegeta.Histogram
	Samples  []procs.Sample // empty when no server process was sampled
	CPU      float64        // server CPU seconds during the attack
	PeakRSS  int64          // server peak RSS (VmHWM), bytes
	Sampled  bool
	Start    time.Time
	Duration time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stdout, stderr)
	if c == nil {
		return err
	}
	if c.Scenarios != "" {
		return runScenarios(ctx, c, stdout, stderr)
	}
	out := filepath.Join(c.OutDir, c.Name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	base, pid := c.ServerURL, c.ServerPID
	if base == "" {
		srv, addr, stop, err := startServer(ctx, c, out, stderr)
		if err != nil {
			return err
		}
		defer stop()
		base, pid = "http://"+addr, srv.Pid()
	}
	tr, err := newTargeter(base, c.URLs, c.CacheBust)
	if err != nil {
		return cli.ConfigError{Err: err}
	}
	fmt.Fprintf(stderr, "imagebench: %s: %d req/s for %s on %s%s\n", c.Name, c.Rate, c.Duration, tr.urls[0], bustNote(c.CacheBust))
	o, err := attack(ctx, c, tr, pid, stderr)
	if err != nil {
		return err
	}
	var report bytesWriter
	writeReport(io.MultiWriter(stdout, &report), c, o)
	if err := os.WriteFile(filepath.Join(out, "summary.txt"), report.b, 0o644); err != nil {
		return err
	}
	files, err := writePlots(out, c, o)
	if err != nil {
		return fmt.Errorf("writing plots: %w", err)
	}
	fmt.Fprintf(stdout, "Plots: %v\n", files)
	return ctx.Err()
}

func bustNote(b bool) string {
	if b {
		return " (cache-busting: every request distinct)"
	}
	return ""
}

type bytesWriter struct{ b []byte }

func (w *bytesWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// startServer runs the image server binary on a free loopback port with the
// 12 MP sample photo as gophers.jpg in a temporary folder; stop ends the
// server and removes the folder.
func startServer(ctx context.Context, c *config, out string, stderr io.Writer) (p *procs.Proc, addr string, stop func(), err error) {
	images, err := os.MkdirTemp("", "imagebench-images-")
	if err != nil {
		return nil, "", nil, err
	}
	if p, addr, err = startServerIn(ctx, c, images, out, stderr); err != nil {
		os.RemoveAll(images)
		return nil, "", nil, err
	}
	return p, addr, func() { _ = p.Stop(10 * time.Second); os.RemoveAll(images) }, nil
}

func startServerIn(ctx context.Context, c *config, images, out string, stderr io.Writer) (*procs.Proc, string, error) {
	bin, err := filepath.Abs(c.ServerBin)
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, "", fmt.Errorf("%s not found: run make build, or pass --server.url", bin)
	}
	if err := procs.SampleImage(ctx, images, "gophers.jpg"); err != nil {
		return nil, "", err
	}
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	logPath := filepath.Join(out, "imageserver.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	p, err := procs.StartImageServer(ctx, bin, addr, images, c.ServerArgs, log)
	if err != nil {
		return nil, "", fmt.Errorf("%w (log: %s)", err, logPath)
	}
	fmt.Fprintf(stderr, "imagebench: started %s on %s (pid %d, log %s)\n", bin, addr, p.Pid(), logPath)
	return p, addr, nil
}

// maxWorkers bounds vegeta's goroutines (one per request in flight): an
// overloaded server that answers slowly must not make the benchmark grow
// without bound.
const maxWorkers = 1000

// attack runs vegeta at the configured rate, sampling the server process
// if pid is set, and prints a progress line every second.
func attack(ctx context.Context, c *config, tr *targeter, pid int, stderr io.Writer) (*outcome, error) {
	o := &outcome{Hist: vegeta.Histogram{Buckets: Buckets}}
	var base procs.Usage
	if pid != 0 {
		var err error
		if base, err = procs.ReadUsage(pid); err != nil {
			return nil, fmt.Errorf("sampling server pid %d: %w", pid, err)
		}
	}
	atk := vegeta.NewAttacker(vegeta.Timeout(c.Timeout), vegeta.KeepAlive(true), vegeta.MaxWorkers(maxWorkers))
	o.Start = time.Now()
	sctx, stopSampling := context.WithCancel(context.Background())
	smp := &procs.Sampler{Pid: pid, Every: c.SampleEvery}
	var wg sync.WaitGroup
	if pid != 0 {
		wg.Go(func() { smp.Run(sctx, o.Start) })
	}
	results := atk.Attack(tr.target, vegeta.Rate{Freq: c.Rate, Per: time.Second}, c.Duration, c.Name)
	prog := newProgress(stderr, c, o.Start)
	stopped := false
	for r := range results {
		if ctx.Err() != nil && !stopped {
			atk.Stop()
			stopped = true
		}
		o.Metrics.Add(r)
		o.Hist.Add(r)
		o.Results = append(o.Results, *r)
		prog.add(r)
	}
	o.Duration = time.Since(o.Start)
	stopSampling()
	wg.Wait()
	prog.done()
	o.Metrics.Close()
	if pid != 0 {
		end, err := procs.ReadUsage(pid)
		if err != nil {
			return nil, fmt.Errorf("sampling server pid %d after the run: %w", pid, err)
		}
		o.Sampled, o.Samples = true, smp.Samples
		o.CPU, o.PeakRSS = (end.CPU - base.CPU).Seconds(), end.PeakRSS
	}
	return o, nil
}
