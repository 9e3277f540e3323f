package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/hostload"
	"github.com/hostpush/hostpush/internal/procs"
)

// Config is one benchmark run.
type Config struct {
	Hostpush     string        // bin/hostpush
	NodeExporter string        // empty: build from the module cache
	Period       time.Duration // cycle period of both sides
	Cycles       int           // cycles per round, size and side
	Warmup       int           // cycles before each measured window
	Rounds       int           // times the whole bench (every size) runs
	Sizes        []string      // host sizes, hostload.SizeNames
	Profile      string        // default or slow
	FloorIters   int           // rounds of all collectors for the floor
	Out          string        // results file; its directory also gets the logs
}

// Validate names every bad field, one line in all.
func (c *Config) Validate() error {
	var errs []string
	if c.Period < 100*time.Millisecond || c.Period > time.Minute {
		errs = append(errs, fmt.Sprintf("--period=%s: want 100ms to 1m", c.Period))
	}
	if c.Cycles < 5 || c.Cycles > 1000 {
		errs = append(errs, fmt.Sprintf("--cycles=%d: want 5 to 1000", c.Cycles))
	}
	if c.Warmup < 1 || c.Warmup > 100 {
		errs = append(errs, fmt.Sprintf("--warmup=%d: want 1 to 100 (the first gather of each agent is not typical)", c.Warmup))
	}
	if c.Rounds < 1 || c.Rounds > 10 {
		errs = append(errs, fmt.Sprintf("--rounds=%d: want 1 to 10", c.Rounds))
	}
	if c.FloorIters < 1 || c.FloorIters > c.Cycles-2 {
		errs = append(errs, fmt.Sprintf("--floor.runs=%d: want 1 to --cycles minus 2 (%d): the floor runs inside the measured window", c.FloorIters, c.Cycles-2))
	}
	if len(c.Sizes) == 0 {
		errs = append(errs, fmt.Sprintf("--size: want at least one of %s", strings.Join(hostload.SizeNames, ", ")))
	}
	seen := map[string]bool{}
	for _, s := range c.Sizes {
		if _, err := hostload.ParseSize(s); err != nil {
			errs = append(errs, fmt.Sprintf("--size=%q: allowed: %s", s, strings.Join(hostload.SizeNames, ", ")))
		} else if seen[s] {
			errs = append(errs, fmt.Sprintf("--size=%q given twice", s))
		}
		seen[s] = true
	}
	if _, ok := profiles[c.Profile]; !ok {
		errs = append(errs, fmt.Sprintf("--profile=%q: allowed: default, slow", c.Profile))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
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
	app := kingpin.New("agentbench", "Measure hostpush against node_exporter + curl script + Pushgateway, side by side, at several host sizes.")
	var c Config
	app.Flag("hostpush", "hostpush binary (default: bin/hostpush of the module).").StringVar(&c.Hostpush)
	app.Flag("node-exporter", "node_exporter binary (default: built from the Go module cache at go.mod's version, cached).").StringVar(&c.NodeExporter)
	app.Flag("period", "Cycle period of both sides (hostpush --push.interval; the script's timer).").Default("1s").DurationVar(&c.Period)
	app.Flag("cycles", "Measured cycles per round, size and side.").Default("30").IntVar(&c.Cycles)
	app.Flag("warmup", "Cycles before each measured window, not measured.").Default("4").IntVar(&c.Warmup)
	app.Flag("rounds", "Times the whole bench (every size) runs; ratios are per round and pooled.").Default("2").IntVar(&c.Rounds)
	app.Flag("size", "Host sizes (repeatable): host (as it is), medium (+500 processes / 2,500 threads), large (+2,000 / 10,000).").
		Default(hostload.SizeNames...).StringsVar(&c.Sizes)
	app.Flag("profile", "hostpush collector intervals: default, or slow (collectors.intervals for slow-moving metrics).").Default("default").StringVar(&c.Profile)
	app.Flag("floor.runs", "Rounds of every collector alone, one per period, for the collector floor, per round and size.").Default("20").IntVar(&c.FloorIters)
	app.Flag("out", "Results file (the tables); logs go to a directory beside it.").Default("out/bench-agent.txt").StringVar(&c.Out)
	if done, err := cli.Parse(app, args, stdout, stderr); done || err != nil {
		return err // nil after --help
	}
	if err := c.Validate(); err != nil {
		return cli.ConfigError{Err: err}
	}
	env, err := prepare(ctx, &c, stderr)
	if err != nil {
		return err
	}
	var report strings.Builder
	w := io.MultiWriter(stdout, &report)
	env.header(w, &c)
	results := map[string][]sizeRun{}
	for r := 1; r <= c.Rounds; r++ {
		for _, size := range c.Sizes {
			res, err := runSize(ctx, &c, env, size, r, stderr)
			if err != nil {
				return fmt.Errorf("round %d, size %s: %w", r, size, err)
			}
			results[size] = append(results[size], res)
		}
	}
	for _, size := range c.Sizes {
		fmt.Fprintln(w)
		writeSize(w, &c, size, results[size])
	}
	fmt.Fprintln(w)
	writeSummary(w, &c, results)
	fmt.Fprintf(w, "\nload average at end %s\n", procs.LoadAvgText())
	if err := os.WriteFile(c.Out, []byte(report.String()), 0o644); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	fmt.Fprintf(stdout, "results written to %s\n", c.Out)
	return nil
}

// benchEnv is what every size's run uses: binaries and directories.
type benchEnv struct {
	root, logDir   string
	bash, floorBin string
	neVersion      string
	hpVersion      string
}

// prepare finds or builds the binaries and makes the log directory.
func prepare(ctx context.Context, c *Config, stderr io.Writer) (*benchEnv, error) {
	root, err := procs.ModuleRoot()
	if err != nil {
		return nil, err
	}
	env := &benchEnv{root: root, neVersion: "(given)"}
	if c.Hostpush == "" {
		if c.Hostpush, err = procs.Binary("hostpush"); err != nil {
			return nil, err
		}
	}
	if c.NodeExporter == "" {
		if c.NodeExporter, env.neVersion, err = nodeExporterBinary(ctx, root, stderr); err != nil {
			return nil, err
		}
	}
	if env.bash, err = procs.LookPath("bash", "bash"); err != nil {
		return nil, err
	}
	if _, err := procs.LookPath("curl", "curl"); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(c.Out) {
		c.Out = filepath.Join(root, c.Out)
	}
	env.logDir = strings.TrimSuffix(c.Out, filepath.Ext(c.Out)) + "-logs"
	if err := os.MkdirAll(env.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	// Run private copies, both written the same way (the page cache of a
	// file decides how much of a mapped binary becomes resident), and
	// safe from a `make build` by someone else during the run.
	if c.Hostpush, err = copyBinary(c.Hostpush, filepath.Join(env.logDir, "hostpush")); err != nil {
		return nil, err
	}
	if c.NodeExporter, err = copyBinary(c.NodeExporter, filepath.Join(env.logDir, "node_exporter")); err != nil {
		return nil, err
	}
	if env.floorBin, err = floorBinary(ctx, root, env.logDir, stderr); err != nil {
		return nil, err
	}
	env.hpVersion = hostpushVersion(ctx, c.Hostpush)
	return env, nil
}

func (env *benchEnv) header(w io.Writer, c *Config) {
	fmt.Fprintf(w, "agentbench %s UTC on %s: %d CPUs, load average at start %s\n",
		time.Now().UTC().Format("2006-01-02 15:04"), hostname(), numCPU(), procs.LoadAvgText())
	fmt.Fprintf(w, "hostpush %s (%s)\nnode_exporter %s (%s), collectors: its defaults + %s\n",
		env.hpVersion, c.Hostpush, env.neVersion, c.NodeExporter, strings.Join(extraCollectors, ", "))
	fmt.Fprintf(w, "binary sizes (file-backed RSS is most of each binary here): hostpush %.1f MiB, node_exporter %.1f MiB\n",
		fileMiB(c.Hostpush), fileMiB(c.NodeExporter))
	fmt.Fprintf(w, "hostpush runs with scrape: [] (its default scrapes the image server, which the bench does not run and node_exporter's side has no counterpart of)\n")
	fmt.Fprintf(w, "cycle period %s on both sides (hostpush --push.interval; a fresh `bash push.sh` per cycle for the script), sides run concurrently, script fired half a period after hostpush's push\n", c.Period)
	fmt.Fprintf(w, "%d rounds; in each, every size: %d warmup + %d measured cycles per side; during them the collector floor in a process of its own (%d rounds, one per period, of every collector alone, one after another, GOMAXPROCS=1; with its process's other CPU, \"runtime\", mostly collecting the collectors' garbage)\n",
		c.Rounds, c.Warmup, c.Cycles, c.FloorIters)
	if p := profiles[c.Profile]; len(p.intervals) > 0 {
		fmt.Fprintf(w, "profile %s: hostpush collectors.intervals %s at push.interval %s, scaled to the period; the replaced side has no such option\n",
			p.name, intervalsText(p.intervals), productionInterval)
	}
	fmt.Fprintf(w, "logs: %s\n", env.logDir)
}
