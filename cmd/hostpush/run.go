package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/hostpush/hostpush/agent"
	"github.com/hostpush/hostpush/cmd/hostpush/config"
	"github.com/hostpush/hostpush/collectors/node"
	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/buildinfo"
	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/override"
)

// flags are hostpush's own options. node_exporter's live on the same
// (global) kingpin command line, registered by its collector package.
type flags struct {
	configFile                            string
	once, dryRun, checkConfig, noDefaults bool
	web                                   *webFlags
	maxProcs                              int
	cpuProfile                            string
	profileCycles                         int
	log                                   promslog.Config
	push                                  override.Set[config.File] // win over the file
}

func defineFlags(app *kingpin.Application) *flags {
	f := &flags{}
	app.Flag("config.file", "hostpush configuration file (YAML). Built-in defaults when not given.").StringVar(&f.configFile)
	override.Field(&f.push, app.Flag("push.url", "Pushgateway URL (default http://localhost:9091)."),
		(*kingpin.FlagClause).StringVar, func(c *config.File) *string { return &c.Push.URL })
	override.Field(&f.push, app.Flag("push.job", "Job label of the pushed group (default host-stats)."),
		(*kingpin.FlagClause).StringVar, func(c *config.File) *string { return &c.Push.Job })
	override.Field(&f.push, app.Flag("push.instance", "Instance label of the pushed group (default: the host name)."),
		(*kingpin.FlagClause).StringVar, func(c *config.File) *string { return &c.Push.Instance })
	override.Field(&f.push, app.Flag("push.interval", "Time between pushes (default 5s)."),
		(*kingpin.FlagClause).DurationVar, func(c *config.File) *time.Duration { return &c.Push.Interval })
	app.Flag("once", "Gather and push once; exit 1 if the push failed.").BoolVar(&f.once)
	app.Flag("dry-run", "Gather once and print the text exposition on stdout; no network.").BoolVar(&f.dryRun)
	app.Flag("check-config", "Check the configuration and exit: 0 if valid, 2 naming every problem.").BoolVar(&f.checkConfig)
	f.web = defineWebFlags(app)
	app.Flag("runtime.gomaxprocs", "The target number of CPUs Go will run on (GOMAXPROCS).").Envar("GOMAXPROCS").Default("1").IntVar(&f.maxProcs)
	app.Flag("collector.disable-defaults", "Set all collectors to disabled by default.").Default("false").BoolVar(&f.noDefaults)
	app.Flag("debug.cpu-profile", "Write a CPU profile of whole cycles in steady state (from the second gather on) to this file, for `go tool pprof`.").Hidden().StringVar(&f.cpuProfile)
	app.Flag("debug.cpu-profile.cycles", "Cycles the CPU profile covers.").Hidden().Default("30").IntVar(&f.profileCycles)
	promslogflag.AddFlags(app, &f.log)
	return f
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Exit("hostpush", runE(ctx, args, stdout, stderr), stderr)
}

func runE(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app := kingpin.CommandLine
	app.Name, app.Help = "hostpush", "Push host metrics gathered by node_exporter's collectors to a Prometheus Pushgateway."
	app.Version(versionText())
	app.HelpFlag.Short('h')
	f := defineFlags(app)

	cfgPath := configFile(app, args)
	file := config.Default()
	if cfgPath != "" {
		loaded, err := config.Load(cfgPath)
		if err != nil {
			return cli.ConfigError{Err: err}
		}
		file = *loaded
	}
	argv := node.WithExtras(node.Merge(file.Collectors.Args(), args))
	if done, err := cli.Parse(app, argv, stdout, stderr); done || err != nil {
		return err // nil after --help or --version
	}
	if f.noDefaults {
		node.DisableDefaults()
	}
	if err := f.push.Apply(&file); err != nil {
		return cli.ConfigError{Err: err}
	}
	if err := file.Validate(); err != nil {
		return cli.ConfigError{Err: err}
	}
	if err := errors.Join(validProfileCycles(f.profileCycles), f.web.check()); err != nil {
		return cli.ConfigError{Err: err}
	}
	if f.checkConfig {
		fmt.Fprintf(stdout, "hostpush: configuration %s is valid\n", orDefault(cfgPath, "(built-in defaults)"))
		return nil
	}
	logger := promslog.New(&f.log)
	runtime.GOMAXPROCS(f.maxProcs)

	reg := prometheus.NewRegistry()
	nodeC, err := node.New(logger, collectorTimeout(&file), file.Collectors.Intervals)
	if err != nil {
		return err
	}
	defer closeCollectors(nodeC, logger)
	reg.MustRegister(nodeC, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := agent.NewMetrics(reg)

	if f.dryRun {
		return dryRun(reg, stdout, logger)
	}
	w := &wiring{logger: logger, reg: reg}
	settings, err := w.build(file, true)
	if err != nil {
		return cli.ConfigError{Err: err}
	}
	var host prometheus.Gatherer = w
	if f.cpuProfile != "" {
		prof := &cpuProfiler{next: host, path: f.cpuProfile, cycles: f.profileCycles, logger: logger}
		defer prof.Close()
		host = prof
	}
	// The loop and /metrics share gathers: a scrape during a gather gets
	// its result, and serves what is pushed.
	shared := agent.NewSharedGatherer(host)
	loop := agent.New(agent.Config{
		Settings: settings, Host: shared, Metrics: metrics, Logger: logger,
		Notifier: agent.SystemdNotifier{}, Watchdog: agent.SystemdWatchdog(),
		ShutdownTimeout: 1500 * time.Millisecond,
		// An operator who tunes the GC with GOGC or GOMEMLIMIT decides.
		GCAfterCycle: os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "",
	})
	if f.once {
		// One push is the whole run: its remote_write samples stay visible
		// for the receiver's lookback instead of ending at once.
		for _, wr := range w.writers.list {
			wr.KeepSeriesOnClose()
		}
		return loop.Once(ctx)
	}
	logger.Info("starting hostpush", "version", version.Version, "revision", version.GetRevision(), "collectors", len(nodeC.Enabled()),
		"interval", settings.Interval, "senders", senderNames(settings.Senders))
	stopReloads := startReloads(ctx, loop, cfgPath, f, w, logger)
	defer stopReloads()
	if !f.web.enabled() {
		return loop.Run(ctx)
	}
	return withEndpoint(ctx, f.web, metricsHandler(shared), logger, loop.Run)
}

// closeCollectors ends the collectors' runner on the way out, waiting a
// moment for a collector still running (the loop's own stop is bounded
// the same way) and logging one that holds it.
func closeCollectors(c *node.Collector, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		logger.Warn("stopping without waiting for a collector", "err", err)
	}
}

// versionText is prometheus/common/version's, with the version of the
// node_exporter collectors inside.
func versionText() string {
	return buildinfo.Print("hostpush") + "\n  node_exporter:    " + agent.NodeExporterVersion()
}

// configFile returns the --config.file that args give. The file is read
// before the command line is parsed, because its collectors block becomes
// node_exporter flags parsed together with the command line. kingpin's
// ParseContext reads args as Parse will, without setting a value or
// running an action such as --help; a separate kingpin application with
// only hostpush's own flags could not, as it refuses the collector flags it
// does not know. An error here is reported by the Parse that follows.
func configFile(app *kingpin.Application, args []string) string {
	pc, _ := app.ParseContext(args)
	if pc == nil {
		return ""
	}
	path := ""
	for _, el := range pc.Elements {
		if f, ok := el.Clause.(*kingpin.FlagClause); ok && f.Model().Name == "config.file" && el.Value != nil {
			path = *el.Value
		}
	}
	return path
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func collectorTimeout(file *config.File) time.Duration {
	if file.Collectors.Timeout > 0 {
		return file.Collectors.Timeout
	}
	return time.Duration(float64(file.Push.Interval) * node.DefaultTimeoutShare)
}

func senderNames(ss []batch.Sender) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name()
	}
	return strings.Join(names, ", ")
}

// dryRun prints one gather as promhttp would serve it.
func dryRun(g prometheus.Gatherer, w io.Writer, logger *slog.Logger) error {
	fams, err := g.Gather()
	if err != nil {
		logger.Warn("gather returned errors; printing the rest", "err", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "go_") {
			continue
		}
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("writing the exposition: %w", err)
		}
	}
	return nil
}

// startReloads runs reloadOnHUP until the returned stop, which cancels it
// and waits for it. run stops it on its way out, also when the loop ended
// on its own (the web endpoint failed) while ctx still runs.
func startReloads(ctx context.Context, loop *agent.Loop, path string, f *flags, w *wiring, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloadOnHUP(ctx, loop, path, f, w, logger)
	}()
	return func() {
		cancel()
		<-done
	}
}

// reloadOnHUP re-reads the configuration file on SIGHUP. Push, scrape and
// remote_write settings change in place; the collectors block needs a
// restart (node_exporter's flags are parsed once), which is logged.
func reloadOnHUP(ctx context.Context, loop *agent.Loop, path string, f *flags, w *wiring, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if path == "" {
			logger.Info("SIGHUP: no --config.file to reload")
			continue
		}
		next, err := config.Load(path)
		if err == nil {
			if err = f.push.Apply(next); err == nil {
				err = next.Validate()
			}
		}
		if err != nil {
			logger.Error("SIGHUP: configuration not reloaded, keeping the running one", "err", cli.OneLine(err))
			continue
		}
		if !reflect.DeepEqual(next.Collectors, w.cur.Collectors) {
			logger.Warn("SIGHUP: the collectors block changed; restart hostpush to apply it (node_exporter's flags are parsed once)")
		}
		settings, err := w.build(*next, false)
		if err != nil {
			logger.Error("SIGHUP: configuration not reloaded, keeping the running one", "err", cli.OneLine(err))
			continue
		}
		if err := loop.Reload(ctx, settings); err != nil {
			return
		}
	}
}
