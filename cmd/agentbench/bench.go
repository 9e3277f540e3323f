package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/internal/procs"
)

// Config is one benchmark run.
type Config struct {
	Hostpush     string        // bin/hostpush
	NodeExporter string        // empty: build from the module cache
	Period       time.Duration // cycle period of both sides
	Cycles       int           // cycles per round and side
	Warmup       int           // cycles before the first round
	Rounds       int           // rounds of the default profile
	SlowRounds   int           // rounds of the slow-collector profile
	Profiles     []string      // default, slow
	Out          string        // results file; its directory also gets the logs
}

// Validate names every bad field.
func (c *Config) Validate() error {
	var errs []error
	if c.Period < 100*time.Millisecond || c.Period > time.Minute {
		errs = append(errs, fmt.Errorf("--period=%s: want 100ms to 1m", c.Period))
	}
	if c.Cycles < 5 {
		errs = append(errs, fmt.Errorf("--cycles=%d: want at least 5", c.Cycles))
	}
	if c.Warmup < 1 {
		errs = append(errs, fmt.Errorf("--warmup=%d: want at least 1 (the first gather of each agent is not typical)", c.Warmup))
	}
	if c.Rounds < 1 || c.SlowRounds < 1 {
		errs = append(errs, fmt.Errorf("--rounds=%d --slow-rounds=%d: want at least 1 each", c.Rounds, c.SlowRounds))
	}
	if len(c.Profiles) == 0 {
		errs = append(errs, errors.New("--profile: want at least one of default, slow"))
	}
	for _, p := range c.Profiles {
		if _, ok := profiles[p]; !ok {
			errs = append(errs, fmt.Errorf("--profile=%q: allowed: default, slow", p))
		}
	}
	return errors.Join(errs...)
}

// Collectors that hostpush enables beyond node_exporter's defaults; the
// replaced node_exporter gets the same flags so both gather the same set.
var extraCollectors = []string{"processes", "systemd", "interrupts", "tcpstat"}

// slowIntervals are the per-collector intervals of the slow profile, as an
// operator would set them with the production push interval of 5s: slow-
// moving metrics (filesystems, process counts, units, link settings, ARP
// entries, btrfs) gathered every 3rd to 12th push. The benchmark scales them
// to its own period so each collector skips the same number of ticks.
var slowIntervals = map[string]time.Duration{
	"filesystem": 30 * time.Second,
	"processes":  15 * time.Second,
	"systemd":    30 * time.Second,
	"netclass":   30 * time.Second,
	"arp":        15 * time.Second,
	"btrfs":      60 * time.Second,
}

const productionInterval = 5 * time.Second

type profile struct {
	name      string
	intervals map[string]time.Duration // at productionInterval
}

var profiles = map[string]profile{
	"default": {name: "default"},
	"slow":    {name: "slow", intervals: slowIntervals},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app := kingpin.New("agentbench", "Measure hostpush against node_exporter + curl script + Pushgateway, side by side.")
	app.UsageWriter(stdout).ErrorWriter(stderr)
	var c Config
	app.Flag("hostpush", "hostpush binary (default: bin/hostpush of the module).").StringVar(&c.Hostpush)
	app.Flag("node-exporter", "node_exporter binary (default: built from the Go module cache at go.mod's version, cached).").StringVar(&c.NodeExporter)
	app.Flag("period", "Cycle period of both sides (hostpush --push.interval; the script's timer).").Default("1s").DurationVar(&c.Period)
	app.Flag("cycles", "Cycles per round and side.").Default("30").IntVar(&c.Cycles)
	app.Flag("warmup", "Cycles before the first round, not measured.").Default("4").IntVar(&c.Warmup)
	app.Flag("rounds", "Rounds of the default profile.").Default("3").IntVar(&c.Rounds)
	app.Flag("slow-rounds", "Rounds of the slow-collector profile.").Default("2").IntVar(&c.SlowRounds)
	app.Flag("profile", "Profiles to run (repeatable): default, slow.").Default("default", "slow").StringsVar(&c.Profiles)
	app.Flag("out", "Results file (the table); logs go to a directory beside it.").Default("out/bench-agent.txt").StringVar(&c.Out)
	if _, err := app.Parse(args); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	root, err := procs.ModuleRoot()
	if err != nil {
		return err
	}
	if c.Hostpush == "" {
		if c.Hostpush, err = procs.Binary("hostpush"); err != nil {
			return err
		}
	}
	neVersion := "(given)"
	if c.NodeExporter == "" {
		if c.NodeExporter, neVersion, err = nodeExporterBinary(ctx, root, stderr); err != nil {
			return err
		}
	}
	bash, err := procs.LookPath("bash", "bash")
	if err != nil {
		return err
	}
	if _, err := procs.LookPath("curl", "curl"); err != nil {
		return err
	}
	if !filepath.IsAbs(c.Out) {
		c.Out = filepath.Join(root, c.Out)
	}
	logDir := strings.TrimSuffix(c.Out, filepath.Ext(c.Out)) + "-logs"
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("creating the log directory: %w", err)
	}

	// Run a private copy: `make build` by someone else during the run
	// would otherwise swap the binary between the profiles.
	if c.Hostpush, err = copyBinary(c.Hostpush, filepath.Join(logDir, "hostpush")); err != nil {
		return err
	}

	var report strings.Builder
	w := io.MultiWriter(stdout, &report)
	fmt.Fprintf(w, "agentbench %s UTC on %s: %d CPUs, load average at start %s\n",
		time.Now().UTC().Format("2006-01-02 15:04"), hostname(), numCPU(), procs.LoadAvgText())
	fmt.Fprintf(w, "hostpush %s (%s)\nnode_exporter %s (%s), collectors: its defaults + %s\n",
		hostpushVersion(ctx, c.Hostpush), c.Hostpush, neVersion, c.NodeExporter, strings.Join(extraCollectors, ", "))
	fmt.Fprintf(w, "binary sizes (file-backed RSS is most of each binary here): hostpush %.1f MiB, node_exporter %.1f MiB\n",
		fileMiB(c.Hostpush), fileMiB(c.NodeExporter))
	fmt.Fprintf(w, "cycle period %s on both sides (hostpush --push.interval; a fresh `bash push.sh` per cycle for the script), sides run concurrently, script fired half a period after hostpush's push\n", c.Period)
	fmt.Fprintf(w, "logs: %s\n", logDir)
	for _, name := range c.Profiles {
		p := profiles[name]
		rounds := c.Rounds
		if name == "slow" {
			rounds = c.SlowRounds
		}
		fmt.Fprintf(stderr, "agentbench: profile %s: %d warmup + %d x %d cycles per side (about %s)\n",
			name, c.Warmup, rounds, c.Cycles, time.Duration(c.Warmup+rounds*c.Cycles)*c.Period)
		res, err := runProfile(ctx, &c, p, rounds, bash, filepath.Join(logDir, name))
		if err != nil {
			return fmt.Errorf("profile %s: %w", name, err)
		}
		fmt.Fprintln(w)
		res.write(w)
	}
	fmt.Fprintf(w, "\nload average at end %s\n", procs.LoadAvgText())
	if err := os.WriteFile(c.Out, []byte(report.String()), 0o644); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	fmt.Fprintf(stdout, "results written to %s\n", c.Out)
	return nil
}

// The processes measured in a profile.
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

type profileResult struct {
	profile   profile
	period    time.Duration
	intervals map[string]time.Duration // as passed to hostpush (scaled)
	rounds    []round
	mem       [nProcs]procs.Usage
	groupA    group // replaced setup
	groupB    group // hostpush
	// deadlineMisses counts hostpush's log lines about a collector that
	// missed its deadline (its metrics were dropped for that tick).
	deadlineMisses int
}

func runProfile(ctx context.Context, c *Config, p profile, rounds int, bash, logPrefix string) (*profileResult, error) {
	res := &profileResult{profile: p, period: c.Period}
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
	if len(p.intervals) > 0 {
		res.intervals = map[string]time.Duration{}
		for n, d := range p.intervals {
			res.intervals[n] = time.Duration(float64(d) * float64(c.Period) / float64(productionInterval))
		}
		cfg := logPrefix + "-hostpush.yml"
		if err := os.WriteFile(cfg, []byte(intervalsYAML(res.intervals)), 0o644); err != nil {
			return nil, err
		}
		hpArgs = append(hpArgs, "--config.file="+cfg)
	}
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

	for r := 0; r < rounds; r++ {
		if err := sleepUntil(ctx, next); err != nil {
			return nil, err
		}
		before, err := snapshot(running)
		if err != nil {
			return nil, err
		}
		var rd round
		for k := 0; k < c.Cycles; k++ {
			if err := sleepUntil(ctx, next); err != nil {
				return nil, err
			}
			d, ok, err := cycle()
			if err != nil {
				return nil, err
			}
			rd.script += d
			if !ok {
				rd.failed++
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
		rd.cycles = c.Cycles
		for i := range rd.cpu {
			rd.cpu[i] = after[i] - before[i]
		}
		res.rounds = append(res.rounds, rd)
		fmt.Fprintf(os.Stderr, "agentbench: %s round %d: %s\n", p.name, r+1, rd.short())
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

func snapshot(running [nProcs]*procs.Proc) ([nProcs]time.Duration, error) {
	var s [nProcs]time.Duration
	for i, pr := range running {
		u, err := procs.ReadUsage(pr.Pid())
		if err != nil {
			return s, err
		}
		s[i] = u.CPU
	}
	return s, nil
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

func intervalsYAML(iv map[string]time.Duration) string {
	var b strings.Builder
	b.WriteString("# written by agentbench: the slow-collector profile\ncollectors:\n  intervals:\n")
	for _, n := range sortedNames(iv) {
		fmt.Fprintf(&b, "    %s: %s\n", n, iv[n])
	}
	return b.String()
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
