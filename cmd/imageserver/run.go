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
	"github.com/hostpush/hostpush/internal/override"
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

// settings is what the file and the flags decide. fileQueueSize records
// that the file set queue.size, which --workers then leaves alone.
type settings struct {
	cfg               imageserver.Config
	listen, tokenFile string
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
	override.Field(&f.over, app.Flag("images.dir", "Directory the images are served from (required)."),
		str, func(s *settings) *string { return &s.cfg.ImagesDir })
	override.Field(&f.over, app.Flag("images.prefix", "URL path prefix of the images.").Default(def.Prefix),
		str, func(s *settings) *string { return &s.cfg.Prefix })
	override.Var(&f.over, app.Flag("cache.size", "Memory for cached results (bytes or with a unit: 256MiB); 0 disables the cache.").Default("256MiB"),
		str, func(s *settings, v string) (err error) { s.cfg.CacheSize, err = parseBytes(v); return err })
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
		str, func(s *settings, v string) (err error) { s.cfg.MaxSourceBytes, err = parseBytes(v); return err })
	override.Field(&f.over, app.Flag("limits.transform-timeout", "Longest a transform may run.").Default(def.TransformTimeout.String()),
		dur, func(s *settings) *time.Duration { return &s.cfg.TransformTimeout })
	defineOutputFlags(app, def, &f.over)
	promslogflag.AddFlags(app, &f.log)
	return f
}

func versionText() string {
	return fmt.Sprintf("imageserver, version %s (revision: %s)\n  go version: %s\n  platform: %s/%s",
		imageserver.Version, imageserver.Revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// config merges defaults, the configuration file and the flags the user gave.
func (f *flags) config() (imageserver.Config, string, error) {
	s := settings{cfg: imageserver.DefaultConfig(runtime.NumCPU()), listen: ":3002"}
	if f.configFile != "" {
		fc, err := loadFile(f.configFile)
		if err != nil {
			return s.cfg, "", err
		}
		fc.apply(&s.cfg, &s.listen, &s.tokenFile)
		s.fileQueueSize = fc.Queue.Size != nil
	}
	errs := []error{f.over.Apply(&s)}
	if s.tokenFile != "" {
		b, err := os.ReadFile(s.tokenFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading sign token file: %w", err))
		} else if s.cfg.SignToken = strings.TrimSpace(string(b)); s.cfg.SignToken == "" {
			errs = append(errs, fmt.Errorf("sign token file %s is empty", s.tokenFile))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s.cfg, s.listen, err
	}
	return s.cfg, s.listen, s.cfg.Validate()
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
