package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// server is one HTTP server on its own listener, started by start and
// stopped, with a bounded wait, by stop.
type server struct {
	hs    *http.Server
	ln    net.Listener
	serve func() error
	done  chan struct{} // closed when serve returned
}

// listen opens addr for hs; what is the listener's job, for errors.
func listen(what, addr string, hs *http.Server) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (%s): %w", addr, what, err)
	}
	s := &server{hs: hs, ln: ln, done: make(chan struct{})}
	s.serve = func() error { return hs.Serve(ln) }
	return s, nil
}

// secure serves through exporter-toolkit with the web configuration file
// (TLS, basic auth; "" for neither), as every Prometheus exporter does.
func (s *server) secure(webConfig string, logger *slog.Logger) *server {
	s.serve = func() error { return web.Serve(s.ln, s.hs, &web.FlagConfig{WebConfigFile: &webConfig}, logger) }
	return s
}

// start serves in a goroutine; an error other than the end that stop
// brings goes to failed, which must have room for it.
func (s *server) start(failed chan<- error) {
	go func() {
		defer close(s.done)
		if err := s.serve(); !errors.Is(err, http.ErrServerClosed) {
			failed <- err
		}
	}()
}

// stop shuts the server down, waiting for requests in flight until ctx
// ends, then closes what is left, and waits for start's goroutine.
func (s *server) stop(ctx context.Context, logger *slog.Logger) {
	if err := s.hs.Shutdown(ctx); err != nil {
		logger.Warn("shutdown did not finish in time", "address", s.ln.Addr().String(), "err", err)
		_ = s.hs.Close()
	}
	<-s.done
}

// metricsServer serves /metrics on a listener of its own, so that a web
// configuration can protect it while the images stay public.
func metricsServer(metrics http.Handler, logger *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}
