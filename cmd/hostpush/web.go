package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/hostpush/hostpush/internal/webconfig"
)

// webFlags are the optional endpoint's flags: exporter-toolkit's own, as
// every Prometheus exporter has them (--web.listen-address, repeatable;
// --web.systemd-socket; --web.config.file), and --web.telemetry-path.
type webFlags struct {
	toolkit       *web.FlagConfig
	telemetryPath string
}

func defineWebFlags(app *kingpin.Application) *webFlags {
	// "" as the default address: the endpoint is off unless asked for
	w := &webFlags{toolkit: kingpinflag.AddFlags(app, "")}
	app.Flag("web.telemetry-path", "Path under which to expose the gather (as pushed).").Default("/metrics").StringVar(&w.telemetryPath)
	return w
}

// addresses are the listen addresses given, without the empty default.
func (w *webFlags) addresses() []string {
	return slices.DeleteFunc(slices.Clone(*w.toolkit.WebListenAddresses), func(a string) bool { return a == "" })
}

// enabled reports whether the endpoint was asked for: an address, or
// systemd socket activation.
func (w *webFlags) enabled() bool {
	return len(w.addresses()) > 0 || *w.toolkit.WebSystemdSocket
}

// check reports flags the endpoint cannot work with, and a web config file
// with mistakes (named by file, line and key), before anything starts.
func (w *webFlags) check() error {
	p := w.telemetryPath
	if !strings.HasPrefix(p, "/") || p == "/healthz" {
		return fmt.Errorf("--web.telemetry-path: %q must start with / and not be /healthz", p)
	}
	return webconfig.Check(*w.toolkit.WebConfigFile)
}

// handler serves the gather at the telemetry path (metricsHandler's), a
// landing page at / and /healthz.
func (w *webFlags) handler(metrics http.Handler) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle(w.telemetryPath, metrics)
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) { io.WriteString(rw, "ok\n") })
	if w.telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "hostpush",
			Description: "Pushes this host's node_exporter metrics to a Pushgateway; this endpoint serves what is pushed.",
			Version:     version.Info(),
			Profiling:   "false",
			Links: []web.LandingLinks{
				{Address: w.telemetryPath, Text: "Metrics", Description: "the host group as it is pushed"},
				{Address: "/healthz", Text: "Health", Description: "ok while hostpush runs"},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// metricsHandler serves the host group as it is pushed (collectors, own
// metrics, remote_write outputs' metrics; no go_*) from g, which should be
// the loop's SharedGatherer so a scrape never starts a second gather. It
// is a plain http.Handler, to be mounted on any server.
func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// withEndpoint serves the endpoint while run runs, and stops run when the
// endpoint fails, returning why.
func withEndpoint(ctx context.Context, w *webFlags, metrics http.Handler, logger *slog.Logger, run func(context.Context) error) error {
	h, err := w.handler(metrics)
	if err != nil {
		return err
	}
	ep := serveWeb(w, h, logger)
	defer ep.stop()
	ctx, failure := ep.untilFailed(ctx)
	err = run(ctx)
	return errors.Join(err, failure())
}

// endpoint is the running web server; failed receives the error that
// stopped it other than a shutdown (a listen address in use, no socket
// from systemd).
type endpoint struct {
	srv    *http.Server
	failed chan error
	done   chan struct{}
}

// serveWeb serves h on the listeners the flags give, through exporter-
// toolkit (TLS and basic auth from the web config file), until stop.
func serveWeb(w *webFlags, h http.Handler, logger *slog.Logger) *endpoint {
	e := &endpoint{
		srv:    &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)},
		failed: make(chan error, 1),
		done:   make(chan struct{}),
	}
	flags, addrs := *w.toolkit, w.addresses()
	flags.WebListenAddresses = &addrs
	where := strings.Join(addrs, ", ")
	if *flags.WebSystemdSocket {
		where = "systemd's sockets"
	}
	go func() {
		defer close(e.done)
		if err := web.ListenAndServe(e.srv, &flags, logger); !errors.Is(err, http.ErrServerClosed) {
			e.failed <- fmt.Errorf("serving %s on %s: %w", w.telemetryPath, where, err)
		}
	}()
	return e
}

// untilFailed is ctx, canceled also when the endpoint fails, and a func
// that returns that failure (nil after a clean stop) once ctx is done.
func (e *endpoint) untilFailed(ctx context.Context) (context.Context, func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case err := <-e.failed:
			cancel(err)
		case <-ctx.Done():
		}
	}()
	return ctx, func() error {
		cancel(nil)
		<-watched
		if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
}

// stop shuts the server down, giving scrapes in flight 300 ms, and waits
// for it.
func (e *endpoint) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		_ = e.srv.Close()
	}
	<-e.done
}
