package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"

	"github.com/hostpush/hostpush/agent"
	"github.com/hostpush/hostpush/agent/config"
	"github.com/hostpush/hostpush/collectors/node"
)

// Exit codes: a unit's RestartPreventExitStatus=2 stops restart loops on
// configuration errors.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

// flags are hostpush's own options. node_exporter's live on the same
// (global) kingpin command line, registered by its collector package.
type flags struct {
	configFile, url, job, instance, listen string
	interval                               time.Duration
	once, dryRun, checkConfig, noDefaults  bool
	maxProcs                               int
	cpuProfile                             string
	profileCycles                          int
	set                                    map[string]*bool
	log                                    promslog.Config
}

func defineFlags(app *kingpin.Application) *flags {
	f := &flags{set: map[string]*bool{}}
	userSet := func(name string) *bool { b := new(bool); f.set[name] = b; return b }
	app.Flag("config.file", "hostpush configuration file (YAML). Built-in defaults when not given.").StringVar(&f.configFile)
	app.Flag("push.url", "Pushgateway URL (default http://localhost:9091).").IsSetByUser(userSet("url")).StringVar(&f.url)
	app.Flag("push.job", "Job label of the pushed group (default host-stats).").IsSetByUser(userSet("job")).StringVar(&f.job)
	app.Flag("push.instance", "Instance label of the pushed group (default: the host name).").IsSetByUser(userSet("instance")).StringVar(&f.instance)
	app.Flag("push.interval", "Time between pushes (default 5s).").IsSetByUser(userSet("interval")).DurationVar(&f.interval)
	app.Flag("once", "Gather and push once; exit 1 if the push failed.").BoolVar(&f.once)
	app.Flag("dry-run", "Gather once and print the text exposition on stdout; no network.").BoolVar(&f.dryRun)
	app.Flag("check-config", "Check the configuration and exit: 0 if valid, 2 naming every problem.").BoolVar(&f.checkConfig)
	app.Flag("web.listen-address", "Also serve the gather at /metrics and /healthz on this address (off by default).").StringVar(&f.listen)
	app.Flag("runtime.gomaxprocs", "The target number of CPUs Go will run on (GOMAXPROCS).").Envar("GOMAXPROCS").Default("1").IntVar(&f.maxProcs)
	app.Flag("collector.disable-defaults", "Set all collectors to disabled by default.").Default("false").BoolVar(&f.noDefaults)
	app.Flag("debug.cpu-profile", "Write a CPU profile of whole cycles in steady state (from the second gather on) to this file, for `go tool pprof`.").Hidden().StringVar(&f.cpuProfile)
	app.Flag("debug.cpu-profile.cycles", "Cycles the CPU profile covers.").Hidden().Default("30").IntVar(&f.profileCycles)
	promslogflag.AddFlags(app, &f.log)
	return f
}

// configError is a problem in flags or configuration: exit code 2.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := runE(ctx, args, stdout, stderr)
	var ce configError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "hostpush: %s\n", line)
		}
		return exitConfig
	default:
		fmt.Fprintf(stderr, "hostpush: %s\n", oneLine(err))
		return exitFailure
	}
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func runE(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app := kingpin.CommandLine
	app.Name, app.Help = "hostpush", "Push host metrics gathered by node_exporter's collectors to a Prometheus Pushgateway."
	app.UsageWriter(stdout).ErrorWriter(stderr)
	terminated := false
	app.Terminate(func(int) { terminated = true })
	app.Version(versionText())
	app.HelpFlag.Short('h')
	f := defineFlags(app)

	cfgPath := scanFlag(args, "config.file")
	file := config.Default()
	if cfgPath != "" {
		loaded, err := config.Load(cfgPath)
		if err != nil {
			return configError{err}
		}
		file = *loaded
	}
	argv := node.WithExtras(node.Merge(file.Collectors.Args(), args))
	if err := node.Parse(argv, &f.noDefaults); err != nil {
		return configError{fmt.Errorf("%v (see --help)", err)}
	}
	if terminated { // --help or --version printed
		return nil
	}
	applyFlags(f, &file)
	if err := file.Validate(); err != nil {
		return configError{err}
	}
	if err := validProfileCycles(f.profileCycles); err != nil {
		return configError{err}
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
	reg.MustRegister(nodeC, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := agent.NewMetrics(reg)

	if f.dryRun {
		return dryRun(reg, stdout, logger)
	}
	w := &wiring{logger: logger, reg: reg}
	settings, err := w.build(file, true)
	if err != nil {
		return configError{err}
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
		return loop.Once(ctx)
	}
	logger.Info("starting hostpush", "version", agent.Version, "collectors", len(nodeC.Enabled()),
		"interval", settings.Interval, "senders", senderNames(settings.Senders))
	if f.listen != "" {
		srv, err := serve(f.listen, metricsHandler(shared), logger)
		if err != nil {
			return configError{err}
		}
		defer shutdownServer(srv)
	}
	go reloadOnHUP(ctx, loop, cfgPath, f, w, logger)
	return loop.Run(ctx)
}

func versionText() string {
	return fmt.Sprintf("hostpush, version %s (revision: %s)\n  node_exporter: %s\n  go version: %s\n  platform: %s/%s",
		agent.Version, agent.Revision, agent.NodeExporterVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// scanFlag finds --name=value or --name value in args before kingpin parses
// them: the config file must be read first, because its collectors block
// becomes flags that are parsed together with the command line.
func scanFlag(args []string, name string) string {
	val := ""
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			val = v
		} else if a == "--"+name && i+1 < len(args) {
			val = args[i+1]
		}
	}
	return val
}

// applyFlags lets flags the user set override the file.
func applyFlags(f *flags, file *config.File) {
	if *f.set["url"] {
		file.Push.URL = f.url
	}
	if *f.set["job"] {
		file.Push.Job = f.job
	}
	if *f.set["instance"] {
		file.Push.Instance = f.instance
	}
	if *f.set["interval"] {
		file.Push.Interval = f.interval
	}
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
	return time.Duration(float64(file.Push.Interval) * node.DefaultTimeout)
}

func senderNames(ss []agent.Sender) string {
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

// metricsHandler serves the host group as it is pushed (collectors, own
// metrics, remote_write outputs' metrics; no go_*) from g, which should be
// the loop's SharedGatherer so a scrape never starts a second gather. It
// is a plain http.Handler, to be mounted on any server.
func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func serve(addr string, metrics http.Handler, logger *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--web.listen-address: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("web server stopped", "err", err)
		}
	}()
	return srv, nil
}

func shutdownServer(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx)
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
			applyFlags(f, next)
			err = next.Validate()
		}
		if err != nil {
			logger.Error("SIGHUP: configuration not reloaded, keeping the running one", "err", oneLine(err))
			continue
		}
		if !reflect.DeepEqual(next.Collectors, w.cur.Collectors) {
			logger.Warn("SIGHUP: the collectors block changed; restart hostpush to apply it (node_exporter's flags are parsed once)")
		}
		settings, err := w.build(*next, false)
		if err != nil {
			logger.Error("SIGHUP: configuration not reloaded, keeping the running one", "err", oneLine(err))
			continue
		}
		if err := loop.Reload(ctx, settings); err != nil {
			return
		}
	}
}
