package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hostpush/hostpush/internal/procs"
)

// The processes measured at each size.
const (
	pNodeExporter = iota
	pGatewayA     // the replaced setup's gateway
	pHostpush
	pGatewayB // hostpush's gateway
	nProcs
)

var procNames = [nProcs]string{"node_exporter", "pushgateway A", "hostpush", "pushgateway B"}

// round is the CPU each process spent over a window of whole periods.
type round struct {
	cycles int
	cpu    [nProcs]time.Duration
	script time.Duration // bash + two curls, all cycles
	failed int           // script cycles that exited non-zero
}

// sideResult is one measured window of both sides at one size.
type sideResult struct {
	rd     round
	mem    [nProcs]procs.Usage
	groupA group // replaced setup
	groupB group // hostpush
	// deadlineMisses counts hostpush's log lines about a collector that
	// missed its deadline (its metrics were dropped for that tick).
	deadlineMisses int
}

// scaledIntervals are the profile's intervals scaled to the bench period.
func scaledIntervals(p profile, period time.Duration) map[string]time.Duration {
	if len(p.intervals) == 0 {
		return nil
	}
	out := map[string]time.Duration{}
	for n, d := range p.intervals {
		out[n] = time.Duration(float64(d) * float64(period) / float64(productionInterval))
	}
	return out
}

// window is called when the measured window starts; the function it
// returns is called when the window ends, before the processes stop.
type window func() (end func() error)

// runSide starts both sides, each with its own gateway, warms them up and
// measures c.Cycles cycles; every process is stopped when it returns.
func runSide(ctx context.Context, c *Config, p profile, bash, logPrefix string, win window) (*sideResult, error) {
	res := &sideResult{}
	var addrs [nProcs]string
	for i := range addrs {
		a, err := procs.FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	var running [nProcs]*procs.Proc
	defer func() {
		for i := nProcs - 1; i >= 0; i-- {
			if running[i] != nil {
				_ = running[i].Stop(5 * time.Second)
			}
		}
	}()
	logFile := func(name string) (*os.File, error) {
		return os.Create(logPrefix + "-" + strings.ReplaceAll(name, " ", "-") + ".log")
	}
	for _, i := range []int{pGatewayA, pGatewayB} {
		f, err := logFile(procNames[i])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if running[i], err = procs.StartPushgateway(ctx, addrs[i], f); err != nil {
			return nil, err
		}
	}

	neArgs := []string{"--web.listen-address=" + addrs[pNodeExporter]}
	for _, n := range extraCollectors {
		neArgs = append(neArgs, "--collector."+n)
	}
	f, err := logFile("node_exporter")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if running[pNodeExporter], err = procs.Start("node_exporter", c.NodeExporter, neArgs, f); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, procs.StartTimeout)
	err = procs.WaitHTTP(wctx, running[pNodeExporter], "http://"+addrs[pNodeExporter]+"/")
	cancel()
	if err != nil {
		return nil, fmt.Errorf("node_exporter not ready: %w", err)
	}

	gwB := "http://" + addrs[pGatewayB]
	hpArgs := []string{"--push.url=" + gwB, "--push.interval=" + c.Period.String()}
	cfg := logPrefix + "-hostpush.yml"
	if err := os.WriteFile(cfg, []byte(hostpushYAML(scaledIntervals(p, c.Period))), 0o644); err != nil {
		return nil, err
	}
	hpArgs = append(hpArgs, "--config.file="+cfg)
	if f, err = logFile("hostpush"); err != nil {
		return nil, err
	}
	defer f.Close()
	if running[pHostpush], err = procs.Start("hostpush", c.Hostpush, hpArgs, f); err != nil {
		return nil, err
	}

	gwA := "http://" + addrs[pGatewayA]
	script := logPrefix + "-push.sh"
	body := fmt.Sprintf("#!/bin/bash\n# what the systemd timer ran every cycle\ncurl -s http://%s/metrics | curl -s --data-binary @- %s/metrics/job/host-stats\n",
		addrs[pNodeExporter], gwA)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		return nil, err
	}
	cycle := func() (time.Duration, bool, error) {
		cmd := exec.CommandContext(ctx, bash, script)
		// No proxy settings from the environment: both sides talk loopback directly.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANG=C"}
		err := cmd.Run()
		if cmd.ProcessState == nil {
			return 0, false, fmt.Errorf("running the push script: %w", err)
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return 0, false, errors.New("no rusage for the push script")
		}
		// wait4 reports bash's own times plus those of the curls it reaped.
		d := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		return d, err == nil, nil
	}
	alive := func() error {
		for i, pr := range running {
			select {
			case <-pr.Done():
				return fmt.Errorf("%s exited early (%v); see %s", procNames[i], pr.Err(), logPrefix+"-*.log")
			default:
			}
		}
		return nil
	}

	// Warm up both sides; then find hostpush's push phase so the script
	// fires half a period away from it and the bursts do not overlap.
	next := time.Now().Truncate(c.Period).Add(c.Period)
	for k := 0; k < c.Warmup; k++ {
		if err := sleepUntil(ctx, next); err != nil {
			return nil, err
		}
		if _, _, err := cycle(); err != nil {
			return nil, err
		}
		next = next.Add(c.Period)
	}
	if err := alive(); err != nil {
		return nil, err
	}
	gb, err := fetchGroup(ctx, gwB, "host-stats")
	if err != nil {
		return nil, err
	}
	if gb.PushTime == 0 {
		return nil, fmt.Errorf("hostpush pushed nothing to %s within %d periods; see %s", gwB, c.Warmup, logPrefix+"-hostpush.log")
	}
	lastPush := time.Unix(0, int64(gb.PushTime*1e9))
	next = lastPush.Add(c.Period / 2)
	for !next.After(time.Now().Add(c.Period / 10)) {
		next = next.Add(c.Period)
	}

	if err := sleepUntil(ctx, next); err != nil {
		return nil, err
	}
	before, err := snapshot(running)
	if err != nil {
		return nil, err
	}
	end := win()
	for k := 0; k < c.Cycles; k++ {
		if err := sleepUntil(ctx, next); err != nil {
			return nil, err
		}
		d, ok, err := cycle()
		if err != nil {
			return nil, err
		}
		res.rd.script += d
		if !ok {
			res.rd.failed++
		}
		next = next.Add(c.Period)
	}
	if err := sleepUntil(ctx, next); err != nil {
		return nil, err
	}
	after, err := snapshot(running)
	if err != nil {
		return nil, err
	}
	res.rd.cycles = c.Cycles
	for i := range res.rd.cpu {
		res.rd.cpu[i] = cpuBetween(before[i], after[i])
	}
	if err := end(); err != nil {
		return nil, err
	}
	if err := alive(); err != nil {
		return nil, err
	}
	for i, pr := range running {
		if res.mem[i], err = procs.ReadUsage(pr.Pid()); err != nil {
			return nil, err
		}
	}
	if res.groupA, err = fetchGroup(ctx, gwA, "host-stats"); err != nil {
		return nil, err
	}
	if res.groupB, err = fetchGroup(ctx, gwB, "host-stats"); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(logPrefix + "-hostpush.log"); err == nil {
		res.deadlineMisses = strings.Count(string(b), "missed its deadline")
	}
	if res.groupA.Series == 0 || res.groupB.Series == 0 {
		return nil, fmt.Errorf("a gateway holds no series (replaced %d, hostpush %d); see the logs %s", res.groupA.Series, res.groupB.Series, logPrefix+"-*.log")
	}
	return res, nil
}

// cpuReading is a process's CPU time read two ways: from /proc/PID/stat
// (whole process, exited threads included, 10 ms ticks) and summed over
// its live threads' schedstat (nanoseconds).
type cpuReading struct{ ticks, threads time.Duration }

func snapshot(running [nProcs]*procs.Proc) ([nProcs]cpuReading, error) {
	var s [nProcs]cpuReading
	for i, pr := range running {
		u, err := procs.ReadUsage(pr.Pid())
		if err != nil {
			return s, err
		}
		th, err := procs.ThreadsCPU(pr.Pid())
		if err != nil {
			return s, err
		}
		s[i] = cpuReading{ticks: u.CPU, threads: th}
	}
	return s, nil
}

// cpuBetween is the CPU spent between two readings: the nanosecond sum
// over threads, unless the tick count says a thread exited in between
// (its time is then missing from the sum and the ticks are used).
func cpuBetween(before, after cpuReading) time.Duration {
	th, ti := after.threads-before.threads, after.ticks-before.ticks
	if ti-th > 30*time.Millisecond || th < 0 {
		return ti
	}
	return th
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// hostpushYAML is hostpush's configuration in the bench: no scrape
// targets (the built-in default scrapes the image server, which the bench
// does not run, and which node_exporter's side has no counterpart of: a
// refused connection every cycle would be measured as hostpush's cost),
// and the profile's collector intervals, if any.
func hostpushYAML(iv map[string]time.Duration) string {
	var b strings.Builder
	b.WriteString("# written by agentbench\nscrape: []\n")
	if len(iv) > 0 {
		b.WriteString("# the slow-collector profile\ncollectors:\n  intervals:\n")
		for _, n := range sortedNames(iv) {
			fmt.Fprintf(&b, "    %s: %s\n", n, iv[n])
		}
	}
	return b.String()
}

// intervalsText is {name: interval, ...} in name order.
func intervalsText(iv map[string]time.Duration) string {
	var parts []string
	for _, n := range sortedNames(iv) {
		parts = append(parts, fmt.Sprintf("%s: %s", n, iv[n]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func sortedNames(m map[string]time.Duration) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func ms(d time.Duration, cycles int) float64 {
	if cycles == 0 {
		return math.NaN()
	}
	return float64(d) / float64(time.Millisecond) / float64(cycles)
}

func (r round) short() string {
	return fmt.Sprintf("ms/cycle node_exporter %.1f script %.1f gwA %.1f | hostpush %.1f gwB %.1f",
		ms(r.cpu[pNodeExporter], r.cycles), ms(r.script, r.cycles), ms(r.cpu[pGatewayA], r.cycles),
		ms(r.cpu[pHostpush], r.cycles), ms(r.cpu[pGatewayB], r.cycles))
}

// copyBinary copies the executable src to dst (replacing it) and returns
// dst. A wrapper script works too: it is copied like any file.
func copyBinary(src, dst string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", src, err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	return dst, nil
}

func fileMiB(path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return mib(st.Size())
}
