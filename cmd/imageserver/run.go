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
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"

	"github.com/hostpush/hostpush/imageserver"
)

// Exit codes: 2 for configuration errors, so that a unit's
// RestartPreventExitStatus=2 stops restart loops.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

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
		fmt.Fprintf(stderr, "imageserver: %s\n", oneLine(err))
		return exitConfig
	default:
		fmt.Fprintf(stderr, "imageserver: %s\n", oneLine(err))
		return exitFailure
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// flags holds the command line; set records which flags the user gave, so
// that they win over the configuration file and the rest do not.
type flags struct {
	configFile, listen, tokenFile string
	cfg                           imageserver.Config
	cacheSize, maxSourceBytes     string
	log                           promslog.Config
	set                           map[string]*bool
	output                        *outputFlags
}

func defineFlags(app *kingpin.Application, def imageserver.Config) *flags {
	f := &flags{cfg: def, set: map[string]*bool{}}
	user := func(name string) *bool { b := new(bool); f.set[name] = b; return b }
	app.Flag("config.file", "YAML configuration file; flags given here win over it.").StringVar(&f.configFile)
	app.Flag("web.listen-address", "Address to serve images, /metrics and /healthz on.").Default(":3002").IsSetByUser(user("listen")).StringVar(&f.listen)
	app.Flag("images.dir", "Directory the images are served from (required).").IsSetByUser(user("dir")).StringVar(&f.cfg.ImagesDir)
	app.Flag("images.prefix", "URL path prefix of the images.").Default(def.Prefix).IsSetByUser(user("prefix")).StringVar(&f.cfg.Prefix)
	app.Flag("cache.size", "Memory for cached results (bytes or with a unit: 256MiB); 0 disables the cache.").Default("256MiB").IsSetByUser(user("cache")).StringVar(&f.cacheSize)
	app.Flag("cache.max-age", "max-age of the Cache-Control header.").Default(def.MaxAge.String()).IsSetByUser(user("maxage")).DurationVar(&f.cfg.MaxAge)
	app.Flag("workers", "Transforms run at once (default: one per CPU core).").Default(fmt.Sprint(def.Admission.Workers)).IsSetByUser(user("workers")).IntVar(&f.cfg.Admission.Workers)
	app.Flag("queue.timeout", "Longest wait for a worker before answering 503 with Retry-After.").Default(def.Admission.Timeout.String()).IsSetByUser(user("qtimeout")).DurationVar(&f.cfg.Admission.Timeout)
	app.Flag("queue.size", "Requests that may wait for a worker (default: 8 per worker); more are answered 503 at once.").IsSetByUser(user("qsize")).IntVar(&f.cfg.Admission.QueueSize)
	app.Flag("sign.token-file", "File holding the imgix signing token; when set, every request needs a valid s parameter.").IsSetByUser(user("token")).StringVar(&f.tokenFile)
	app.Flag("limits.max-source-pixels", "Largest source image, in pixels, checked from its header before decoding.").Default(fmt.Sprint(def.Pipeline.MaxSourcePixels)).IsSetByUser(user("pixels")).Int64Var(&f.cfg.Pipeline.MaxSourcePixels)
	app.Flag("limits.max-source-bytes", "Largest source file (bytes or with a unit).").Default("64MiB").IsSetByUser(user("bytes")).StringVar(&f.maxSourceBytes)
	app.Flag("limits.transform-timeout", "Longest a transform may run.").Default(def.TransformTimeout.String()).IsSetByUser(user("ttimeout")).DurationVar(&f.cfg.TransformTimeout)
	f.output = defineOutputFlags(app, def)
	promslogflag.AddFlags(app, &f.log)
	return f
}

func versionText() string {
	return fmt.Sprintf("imageserver, version %s (revision: %s)\n  go version: %s\n  platform: %s/%s",
		imageserver.Version, imageserver.Revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// config merges defaults, the configuration file and the flags the user gave.
func (f *flags) config() (imageserver.Config, string, error) {
	def := imageserver.DefaultConfig(runtime.NumCPU())
	cfg, listen, tokenFile := def, ":3002", ""
	var fileQueueSize *int // a queue size from the file is kept when --workers changes
	if f.configFile != "" {
		fc, err := loadFile(f.configFile)
		if err != nil {
			return cfg, "", err
		}
		fc.apply(&cfg, &listen, &tokenFile)
		fileQueueSize = fc.Queue.Size
	}
	given := func(name string) bool { return *f.set[name] }
	if given("listen") {
		listen = f.listen
	}
	if given("dir") {
		cfg.ImagesDir = f.cfg.ImagesDir
	}
	if given("prefix") {
		cfg.Prefix = f.cfg.Prefix
	}
	var errs []error
	if given("cache") {
		n, err := parseBytes(f.cacheSize)
		errs = append(errs, flagErr("cache.size", err))
		cfg.CacheSize = n
	}
	if given("maxage") {
		cfg.MaxAge = f.cfg.MaxAge
	}
	if given("workers") {
		cfg.Admission.Workers = f.cfg.Admission.Workers
		if fileQueueSize == nil {
			cfg.Admission.QueueSize = 8 * f.cfg.Admission.Workers
		}
	}
	if given("qtimeout") {
		cfg.Admission.Timeout = f.cfg.Admission.Timeout
	}
	if given("qsize") {
		cfg.Admission.QueueSize = f.cfg.Admission.QueueSize
	}
	if given("token") {
		tokenFile = f.tokenFile
	}
	if given("pixels") {
		cfg.Pipeline.MaxSourcePixels = f.cfg.Pipeline.MaxSourcePixels
	}
	if given("bytes") {
		n, err := parseBytes(f.maxSourceBytes)
		errs = append(errs, flagErr("limits.max-source-bytes", err))
		cfg.MaxSourceBytes = n
	}
	if given("ttimeout") {
		cfg.TransformTimeout = f.cfg.TransformTimeout
	}
	f.output.apply(&cfg)
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading sign token file: %w", err))
		} else if cfg.SignToken = strings.TrimSpace(string(b)); cfg.SignToken == "" {
			errs = append(errs, fmt.Errorf("sign token file %s is empty", tokenFile))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, listen, err
	}
	return cfg, listen, cfg.Validate()
}

func flagErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("--%s: %w", name, err)
}

func runE(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app := kingpin.New("imageserver", "Serve imgix-style image URLs transformed with libvips.")
	app.UsageWriter(stdout).ErrorWriter(stderr)
	terminated := false
	app.Terminate(func(int) { terminated = true })
	app.Version(versionText())
	app.HelpFlag.Short('h')
	f := defineFlags(app, imageserver.DefaultConfig(runtime.NumCPU()))
	if _, err := app.Parse(args); err != nil {
		return configError{fmt.Errorf("%v (see --help)", err)}
	}
	if terminated {
		return nil
	}
	cfg, listen, err := f.config()
	if err != nil {
		return configError{err}
	}
	logger := promslog.New(&f.log)
	if os.Getenv("GOGC") == "" {
		// the heap is mostly cached results and pixel buffers without
		// pointers, cheap to collect; collecting at +50 % instead of +100 %
		// keeps RSS lower under load
		debug.SetGCPercent(50)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector(),
		buildInfo())
	srv, err := imageserver.New(cfg, logger, reg)
	if err != nil {
		return configError{err}
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.TransformTimeout + cfg.Admission.Timeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	logger.Info("listening", "address", ln.Addr().String(), "images", cfg.ImagesDir, "prefix", cfg.Prefix,
		"workers", cfg.Admission.Workers, "signed", cfg.SignToken != "")
	notify(logger, daemon.SdNotifyReady)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	notify(logger, daemon.SdNotifyStopping)
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("shutdown did not finish in time", "err", err)
		_ = hs.Close()
	}
	<-serveErr
	return nil
}

// notify tells systemd (when it started us with NOTIFY_SOCKET) about state.
func notify(logger *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		logger.Warn("notifying systemd", "state", state, "err", err)
	}
}

func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "imageserver_build_info",
		Help: "Version, revision and Go version imageserver was built with; always 1.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(imageserver.Version, imageserver.Revision, runtime.Version()).Set(1)
	return g
}
