package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// cpuProfiler takes a CPU profile of a running hostpush over whole cycles
// in steady state: it starts at the second gather (the first one warms the
// collectors' caches up) and stops at the start of the gather after the
// last profiled cycle, so the profile holds exactly cycles gathers and
// their pushes, idle time between them included. It wraps the host
// gatherer, which the loop calls once per cycle.
//
// Operators get it through the hidden flag --debug.cpu-profile=FILE (see
// the README's operations notes); read the file with `go tool pprof`.
type cpuProfiler struct {
	next   prometheus.Gatherer
	path   string
	cycles int
	logger *slog.Logger

	mu      sync.Mutex
	gathers int
	file    *os.File
	done    bool
}

func (p *cpuProfiler) Gather() ([]*dto.MetricFamily, error) {
	p.mu.Lock()
	p.gathers++
	switch {
	case p.done:
	case p.gathers == 2:
		p.start()
	case p.gathers == 2+p.cycles:
		p.stop()
	}
	p.mu.Unlock()
	return p.next.Gather()
}

func (p *cpuProfiler) start() {
	f, err := os.Create(p.path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		p.done = true
		p.logger.Error("cpu profile not started", "err", err)
		return
	}
	p.file = f
	p.logger.Info("cpu profile started", "file", p.path, "cycles", p.cycles)
}

// stop ends the profile; it is called after the last profiled cycle or on
// shutdown, whichever comes first, and is a no-op the second time.
func (p *cpuProfiler) stop() {
	p.done = true
	if p.file == nil {
		return
	}
	pprof.StopCPUProfile()
	err := p.file.Close()
	p.file = nil
	if err != nil {
		p.logger.Error("cpu profile not written", "file", p.path, "err", err)
		return
	}
	p.logger.Info("cpu profile written", "file", p.path, "cycles", min(p.cycles, p.gathers-1))
}

// Close stops a profile still running at shutdown.
func (p *cpuProfiler) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stop()
}

func validProfileCycles(n int) error {
	if n < 1 {
		return fmt.Errorf("--debug.cpu-profile.cycles=%d: want at least 1", n)
	}
	return nil
}
