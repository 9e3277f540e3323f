package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"

	"github.com/hostpush/hostpush/imageserver"
	"github.com/hostpush/hostpush/internal/buildinfo"
	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/override"
	"github.com/hostpush/hostpush/internal/yamlconf"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Exit("imageserver", runE(ctx, args, stdout, stderr), stderr)
}

// settings is what the file and the flags decide. fileQueueSize records
// that the file set queue.size, which --workers then leaves alone.
type settings struct {
	cfg               imageserver.Config
	listen, tokenFile string
	metricsListen     string // "": /metrics on the image port
	webConfig         string // secures the metrics listener
	fileQueueSize     bool
}

// flags holds the command line; the flags in over win over the file.
type flags struct {
	configFile string
	log        promslog.Config
	over       override.Set[settings]
}

func defineFlags(app *kingpin.Application, def imageserver.Config) *flags {
	f := &flags{}
	str, dur := (*kingpin.FlagClause).StringVar, (*kingpin.FlagClause).DurationVar
	app.Flag("config.file", "YAML configuration file; flags given here win over it.").StringVar(&f.configFile)
	override.Field(&f.over, app.Flag("web.listen-address", "Address to serve images, /metrics and /healthz on.").Default(":3002"),
		str, func(s *settings) *string { return &s.listen })
	override.Field(&f.over, app.Flag("web.metrics-listen-address", "Serve /metrics on this address instead, with --web.config.file (off: on the image port, without TLS or auth)."),
		str, func(s *settings) *string { return &s.metricsListen })
	override.Field(&f.over, app.Flag("web.config.file", "exporter-toolkit web configuration (TLS, basic auth) of the --web.metrics-listen-address listener; see https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md"),
		str, func(s *settings) *string { return &s.webConfig })
	override.Field(&f.over, app.Flag("images.dir", "Directory the images are served from (required)."),
		str, func(s *settings) *string { return &s.cfg.ImagesDir })
	override.Field(&f.over, app.Flag("images.prefix", "URL path prefix of the images.").Default(def.Prefix),
		str, func(s *settings) *string { return &s.cfg.Prefix })
	override.Var(&f.over, app.Flag("cache.size", "Memory for cached results (bytes or with a unit: 256MiB); 0 disables the cache.").Default("256MiB"),
		str, func(s *settings, v string) error { return setBytes(&s.cfg.CacheSize, v) })
	override.Field(&f.over, app.Flag("cache.max-age", "max-age of the Cache-Control header.").Default(def.MaxAge.String()),
		dur, func(s *settings) *time.Duration { return &s.cfg.MaxAge })
	override.Var(&f.over, app.Flag("workers", "Transforms run at once (default: one per CPU core).").Default(fmt.Sprint(def.Admission.Workers)),
		(*kingpin.FlagClause).IntVar, func(s *settings, v int) error {
			s.cfg.Admission.Workers = v
			if !s.fileQueueSize {
				s.cfg.Admission.QueueSize = imageserver.QueueSize(v)
			}
			return nil
		})
	override.Field(&f.over, app.Flag("queue.timeout", "Longest wait for a worker before answering 503 with Retry-After.").Default(def.Admission.Timeout.String()),
		dur, func(s *settings) *time.Duration { return &s.cfg.Admission.Timeout })
	override.Field(&f.over, app.Flag("queue.size", "Requests that may wait for a worker (default: 8 per worker); more are answered 503 at once."),
		(*kingpin.FlagClause).IntVar, func(s *settings) *int { return &s.cfg.Admission.QueueSize })
	override.Field(&f.over, app.Flag("sign.token-file", "File holding the imgix signing token; when set, every request needs a valid s parameter."),
		str, func(s *settings) *string { return &s.tokenFile })
	override.Field(&f.over, app.Flag("limits.max-source-pixels", "Largest source image, in pixels, checked from its header before decoding.").Default(fmt.Sprint(def.Pipeline.MaxSourcePixels)),
		(*kingpin.FlagClause).Int64Var, func(s *settings) *int64 { return &s.cfg.Pipeline.MaxSourcePixels })
	override.Var(&f.over, app.Flag("limits.max-source-bytes", "Largest source file (bytes or with a unit).").Default("64MiB"),
		str, func(s *settings, v string) error { return setBytes(&s.cfg.MaxSourceBytes, v) })
	override.Field(&f.over, app.Flag("limits.transform-timeout", "Longest a transform may run.").Default(def.TransformTimeout.String()),
		dur, func(s *settings) *time.Duration { return &s.cfg.TransformTimeout })
	defineOutputFlags(app, def, &f.over)
	promslogflag.AddFlags(app, &f.log)
	return f
}

func setBytes(dst *int64, v string) error {
	n, err := yamlconf.ParseByteSize(v)
	if err == nil {
		*dst = int64(n)
	}
	return err
}

func runE(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app := kingpin.New("imageserver", "Serve imgix-style image URLs transformed with libvips.")
	app.Version(buildinfo.Print("imageserver"))
	app.HelpFlag.Short('h')
	f := defineFlags(app, imageserver.DefaultConfig(runtime.NumCPU()))
	if done, err := cli.Parse(app, args, stdout, stderr); done || err != nil {
		return err // nil after --help or --version
	}
	set, err := f.config()
	if err != nil {
		return cli.ConfigError{Err: err}
	}
	cfg := set.cfg
	logger := promslog.New(&f.log)
	if os.Getenv("GOGC") == "" {
		// the heap is mostly cached results and pixel buffers without
		// pointers, cheap to collect; collecting at +50 % instead of +100 %
		// keeps RSS lower under load
		debug.SetGCPercent(50)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector(),
		buildinfo.Collector("imageserver", nil))
	srv, err := imageserver.New(cfg, logger, reg)
	if err != nil {
		return cli.ConfigError{Err: err}
	}
	defer srv.Close()

	servers, err := listeners(set, srv, logger)
	if err != nil {
		return err
	}
	logger.Info("listening", "address", servers[0].ln.Addr().String(), "metrics", servers[len(servers)-1].ln.Addr().String(),
		"images", cfg.ImagesDir, "prefix", cfg.Prefix, "workers", cfg.Admission.Workers, "signed", cfg.SignToken != "")
	notify(logger, daemon.SdNotifyReady)
	return serveUntil(ctx, servers, logger)
}

// listeners opens the image port and, when set, the metrics listener
// (secured by the web configuration file), before anything is served.
func listeners(set settings, srv *imageserver.Server, logger *slog.Logger) ([]*server, error) {
	cfg := set.cfg
	images, err := listen("images", set.listen, &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.TransformTimeout + cfg.Admission.Timeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	})
	if err != nil || set.metricsListen == "" {
		return []*server{images}, err
	}
	metrics, err := listen("metrics", set.metricsListen, metricsServer(srv.Metrics(), logger))
	if err != nil {
		_ = images.ln.Close()
		return nil, err
	}
	return []*server{images, metrics.secure(set.webConfig, logger)}, nil
}

// serveUntil serves until ctx ends or a server fails, then stops them all,
// giving requests in flight at most 10 s.
func serveUntil(ctx context.Context, servers []*server, logger *slog.Logger) error {
	failed := make(chan error, len(servers))
	for _, s := range servers {
		s.start(failed)
	}
	var err error
	select {
	case err = <-failed:
		err = fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	notify(logger, daemon.SdNotifyStopping)
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		s.stop(sctx, logger)
	}
	return err
}

// notify tells systemd (when it started us with NOTIFY_SOCKET) about state.
func notify(logger *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		logger.Warn("notifying systemd", "state", state, "err", err)
	}
}
