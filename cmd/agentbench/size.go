package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/prometheus/procfs"

	"github.com/hostpush/hostpush/internal/hostload"
	"github.com/hostpush/hostpush/internal/procs"
)

// sizeRun is one size in one round of the bench.
type sizeRun struct {
	round      int
	host       hostCount // processes and threads when the window started
	hostEnd    hostCount // and when it ended
	loadBefore string    // load average when the window started
	side       *sideResult
	floor      floor
}

// hostCount is the host's processes and threads.
type hostCount struct{ procs, threads int }

// countHost counts every process and thread on the host now.
func countHost() (hostCount, error) {
	all, err := procfs.AllProcs()
	if err != nil {
		return hostCount{}, fmt.Errorf("listing processes: %w", err)
	}
	var c hostCount
	for _, p := range all {
		st, err := p.Stat()
		if err != nil {
			continue // gone since the listing
		}
		c.procs++
		c.threads += st.NumThreads
	}
	return c, nil
}

// runSize adds the size's load (sleeping processes and threads, bounded
// in time and gone when this returns, also on error or interrupt), runs
// both sides and measures the collector floor alongside them.
func runSize(ctx context.Context, c *Config, env *benchEnv, size string, r int, log io.Writer) (res sizeRun, err error) {
	spec, err := hostload.ParseSize(size)
	if err != nil {
		return res, err
	}
	res.round = r
	// Lifetime bounds the children even if this process is killed with
	// SIGKILL before Stop (they also leave when its pipe closes).
	spec.Lifetime = sizeBudget(c) + 5*time.Minute
	if spec.Procs > 0 {
		fmt.Fprintf(log, "agentbench: round %d, size %s: starting %d processes / %d threads of load\n", r, size, spec.Procs, spec.Threads)
		stop, err := startHolder(ctx, size, spec.Lifetime, log)
		if err != nil {
			return res, err
		}
		defer func() {
			if serr := stop(); serr != nil {
				err = errors.Join(err, fmt.Errorf("stopping the load: %w", serr))
			}
		}()
	}
	prefix := filepath.Join(env.logDir, fmt.Sprintf("r%d-%s", r, size))
	fmt.Fprintf(log, "agentbench: round %d, size %s: %d+%d cycles per side, the floor alongside\n", r, size, c.Warmup, c.Cycles)
	// The floor runs during the measured window, so it meets the host as
	// both agents do: on a shared machine the host's processes and threads
	// change from minute to minute. It is a process of its own, so its CPU
	// is not counted to either side.
	win := func() func() error {
		res.loadBefore = procs.LoadAvgText()
		res.host, _ = countHost()
		done := make(chan error, 1)
		go func() {
			var ferr error
			res.floor, ferr = measureFloor(ctx, env.floorBin, env.logDir, c.FloorIters, c.Period, log)
			done <- ferr
		}()
		return func() error {
			ferr := <-done
			end, cerr := countHost()
			if cerr == nil {
				res.hostEnd = end
			}
			return ferr
		}
	}
	if res.side, err = runSide(ctx, c, profiles[c.Profile], env.bash, prefix, win); err != nil {
		return res, err
	}
	fmt.Fprintf(log, "agentbench: round %d, size %s: %s | floor %.1f; host %d/%d -> %d/%d processes/threads, load average %s\n",
		r, size, res.side.rd.short(), res.floor.total(), res.host.procs, res.host.threads, res.hostEnd.procs, res.hostEnd.threads, res.loadBefore)
	return res, nil
}

// sizeBudget is a generous bound on one size's run: warmup and measured
// cycles, starting the processes and the floor.
func sizeBudget(c *Config) time.Duration {
	return time.Duration(c.Warmup+c.Cycles+10)*c.Period + 2*time.Minute
}
