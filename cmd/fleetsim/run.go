package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/procs"
)

// options is the parsed command line.
type options struct {
	hosts     map[string][]int
	warmup    time.Duration
	duration  time.Duration
	interval  time.Duration
	timeout   time.Duration
	receivers []string
	gather    string
	logDir    string
}

// parseArgs returns the options, or nil after --help. A bad command line
// is a cli.ConfigError (exit code 2).
func parseArgs(args []string, stdout, stderr io.Writer) (*options, error) {
	app := kingpin.New("fleetsim", "Simulate N hosts pushing a real gather to a Pushgateway and to VictoriaMetrics (remote_write).")
	hosts := app.Flag("hosts", "Comma-separated fleet sizes, one run each.").Default("10,100,500,1000").String()
	pgHosts := app.Flag("hosts.pushgateway", "Fleet sizes for the Pushgateway; empty: --hosts.").Default("").String()
	dur := app.Flag("duration", "Measured length of each run, after a warm-up of one push interval.").Default("30s").Duration()
	interval := app.Flag("push.interval", "Push cadence of every host.").Default("5s").Duration()
	timeout := app.Flag("push.timeout", "Timeout of one push; 0: half the interval, as hostpush does.").Default("0s").Duration()
	receivers := app.Flag("receivers", "Comma-separated receivers: pushgateway, victoria-metrics.").Default("pushgateway,victoria-metrics").String()
	gather := app.Flag("gather.file", "Text exposition to push; empty: record one with bin/hostpush --dry-run.").String()
	logDir := app.Flag("log.dir", "Directory for receiver logs; empty: discard them.").String()
	if done, err := cli.Parse(app, args, stdout, stderr); done || err != nil {
		return nil, err
	}
	o := &options{duration: *dur, interval: *interval, warmup: *interval, timeout: *timeout, gather: *gather, logDir: *logDir,
		hosts: map[string][]int{}}
	all, err := parseSizes("--hosts", *hosts)
	if err != nil {
		return nil, err
	}
	o.hosts["victoria-metrics"], o.hosts["pushgateway"] = all, all
	if *pgHosts != "" {
		if o.hosts["pushgateway"], err = parseSizes("--hosts.pushgateway", *pgHosts); err != nil {
			return nil, err
		}
	}
	for _, r := range strings.Split(*receivers, ",") {
		switch r = strings.TrimSpace(r); r {
		case "pushgateway", "victoria-metrics":
			o.receivers = append(o.receivers, r)
		default:
			return nil, cli.ConfigError{Err: fmt.Errorf("--receivers: %q unknown; allowed: pushgateway, victoria-metrics", r)}
		}
	}
	if o.interval < 100*time.Millisecond || o.duration < o.interval {
		return nil, cli.ConfigError{Err: fmt.Errorf("--push.interval %s, --duration %s: allowed: interval at least 100ms, duration at least one interval", o.interval, o.duration)}
	}
	if o.timeout == 0 {
		o.timeout = o.interval / 2
	}
	if o.timeout < 0 || o.timeout >= o.interval {
		return nil, cli.ConfigError{Err: fmt.Errorf("--push.timeout %s: allowed: more than 0 and less than --push.interval", o.timeout)}
	}
	return o, nil
}

func parseSizes(flag, list string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 5000 {
			return nil, cli.ConfigError{Err: fmt.Errorf("%s: %q is not a fleet size; allowed: integers 1..5000, comma-separated", flag, f)}
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseArgs(args, stdout, stderr)
	if o == nil {
		return err
	}
	text, source, err := loadGather(ctx, o.gather)
	if err != nil {
		return err
	}
	g, err := parseGather(text)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	fmt.Fprintf(stdout, "gather: %s, %d families, %d series per host; push every %s, timeout %s; each run %s warm-up + %s measured; %d cores\n",
		source, len(g.families), g.series, o.interval, o.timeout, o.warmup, o.duration, numCPU())
	var results []result
	for _, recv := range o.receivers {
		for _, n := range o.hosts[recv] {
			r, err := simulate(ctx, o, g, recv, n)
			if err != nil {
				return fmt.Errorf("%s with %d hosts: %w", recv, n, err)
			}
			fmt.Fprintf(stderr, "fleetsim: %s\n", r.summary())
			results = append(results, r)
		}
	}
	printTable(stdout, results)
	printBreakpoints(stdout, results, o)
	return nil
}

// loadGather reads the gather to push: the given file, else a fresh
// recording from bin/hostpush --dry-run.
func loadGather(ctx context.Context, file string) ([]byte, string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("--gather.file: %w", err)
		}
		return b, file, nil
	}
	bin, err := procs.Binary("hostpush")
	if err != nil {
		return nil, "", fmt.Errorf("recording a gather: %w; or pass --gather.file", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--dry-run").Output()
	if err != nil {
		return nil, "", fmt.Errorf("recording a gather with %s --dry-run: %w", bin, err)
	}
	return out, "bin/hostpush --dry-run (recorded now)", nil
}
