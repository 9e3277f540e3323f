// Package imageserver serves imgix-style image URLs: it verifies and parses
// the parameters, answers from a byte-bounded result cache (collapsing
// identical requests in flight), admits transforms through a bounded queue
// and runs them through the libvips pipeline.
//
//	request ─► params + signature ─► cache (collapse) ─► admission ─► pipeline ─► response
package imageserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hostpush/hostpush/imageserver/admission"
	"github.com/hostpush/hostpush/imageserver/cache"
	"github.com/hostpush/hostpush/imageserver/params"
	"github.com/hostpush/hostpush/imageserver/pipeline"
)

// Version and Revision are set at build time (-ldflags -X).
var (
	Version  = "dev"
	Revision = "unknown"
)

// pipelineVersion changes the ETags and cache keys when the pipeline's
// output for the same request changes.
const pipelineVersion = "1"

// Config is the server's configuration. cmd/imageserver fills it from its
// flags and configuration file.
type Config struct {
	ImagesDir        string
	Prefix           string
	CacheSize        int64
	MaxAge           time.Duration
	SignToken        string // read from a file by cmd/imageserver
	MaxSourceBytes   int64
	TransformTimeout time.Duration
	Admission        admission.Config
	Pipeline         pipeline.Config
	AVIF             AVIFConfig
}

// DefaultConfig returns the defaults for a machine with cores CPUs. The
// queue timeout is the latency budget of a success under overload (1.5 s)
// minus a transform on a busy machine (seen up to 0.9 s): a request that
// waited longer gets its 503 instead of a slow 200.
func DefaultConfig(cores int) Config {
	w := max(1, cores)
	return Config{
		Prefix:           "/assets/images",
		CacheSize:        256 << 20,
		MaxAge:           365 * 24 * time.Hour,
		MaxSourceBytes:   64 << 20,
		TransformTimeout: 10 * time.Second,
		Admission:        admission.Config{Workers: w, QueueSize: QueueSize(w), Timeout: 600 * time.Millisecond},
		Pipeline:         pipeline.DefaultConfig(),
		AVIF: AVIFConfig{
			Admission: admission.Config{Workers: 1, QueueSize: 4, Timeout: time.Second},
			Timeout:   5 * time.Second,
		},
	}
}

// QueueSize is the default number of requests that may wait for a worker:
// eight per worker.
func QueueSize(workers int) int { return 8 * workers }

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.ImagesDir == "" {
		errs = append(errs, errors.New("images dir must be set"))
	}
	if !strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") && c.Prefix != "/" {
		errs = append(errs, fmt.Errorf("images prefix %q must start with / and not end with /", c.Prefix))
	}
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("cache size must be 0 or more bytes, got %d", c.CacheSize))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("cache max-age must be 0 or more, got %s", c.MaxAge))
	}
	if c.MaxSourceBytes < 1 {
		errs = append(errs, fmt.Errorf("max source bytes must be at least 1, got %d", c.MaxSourceBytes))
	}
	if c.TransformTimeout <= 0 {
		errs = append(errs, fmt.Errorf("transform timeout must be positive, got %s", c.TransformTimeout))
	}
	errs = append(errs, c.Admission.Validate(), c.Pipeline.Validate(), c.AVIF.Validate())
	return errors.Join(errs...)
}

// Server is the HTTP handler of the image server.
type Server struct {
	cfg   Config
	log   *slog.Logger
	root  *os.Root
	pipe  processor
	main  *pool // every transform holds one of its workers
	avif  *pool // and an AVIF one holds one of these first
	th    *threads
	cache *cache.Cache
	m     *metrics
	mux   http.Handler
}

// processor is what the server needs of the pipeline.
type processor interface {
	Process(ctx context.Context, src []byte, opts params.Options, fm params.Format) (pipeline.Result, error)
}

// New opens the image directory and builds the server; its metrics go to reg.
func New(cfg Config, log *slog.Logger, reg *prometheus.Registry) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	root, err := os.OpenRoot(cfg.ImagesDir)
	if err != nil {
		return nil, fmt.Errorf("opening images dir: %w", err)
	}
	s := &Server{cfg: cfg, log: log, root: root}
	if s.cache, err = cache.New(cfg.CacheSize); err != nil {
		return nil, err
	}
	if s.main, err = newPool("default", cfg.Admission); err != nil {
		return nil, err
	}
	if s.avif, err = newPool("avif", cfg.AVIF.Admission); err != nil {
		return nil, err
	}
	s.th = newThreads(cfg.Admission.Workers)
	s.m = newMetrics(reg, s)
	if s.pipe, err = pipeline.New(cfg.Pipeline, s.m, log.With("component", "pipeline")); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux = mux
	return s, nil
}

// Close waits for transforms in flight and closes the image directory.
func (s *Server) Close() error {
	s.cache.Wait()
	s.th.close()
	return s.root.Close()
}

// ServeHTTP routes image URLs to the image handler (without ServeMux's path
// cleaning, so that traversal attempts reach os.Root and are refused there)
// and the rest to /metrics and /healthz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" || r.URL.Path == "/healthz" {
		s.mux.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w, code: 200}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.m.panics.Inc()
			s.log.Error("panic serving request", "path", r.URL.Path, "err", p)
			if !sw.wrote {
				s.writeError(sw, r, errInternal)
			}
		}
		s.m.requests.WithLabelValues(strconv.Itoa(sw.code)).Inc()
		s.m.duration.Observe(time.Since(start).Seconds())
	}()
	name, ok := strings.CutPrefix(r.URL.Path, strings.TrimSuffix(s.cfg.Prefix, "/")+"/")
	if !ok {
		http.NotFound(sw, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		sw.Header().Set("Allow", "GET, HEAD")
		http.Error(sw, "method not allowed; allowed: GET, HEAD", http.StatusMethodNotAllowed)
		return
	}
	if err := s.serveImage(sw, r, name); err != nil {
		s.writeError(sw, r, err)
	}
}

func (s *Server) serveImage(w http.ResponseWriter, r *http.Request, name string) error {
	if s.cfg.SignToken != "" {
		if err := params.Verify(s.cfg.SignToken, r.URL.EscapedPath(), r.URL.RawQuery); err != nil {
			return err
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return &httpError{code: 400, reason: "bad_request", msg: "query string is malformed; use name=value pairs joined by &"}
	}
	opts, ignored, err := params.ParseWithIgnored(q)
	if err != nil {
		return err
	}
	s.reportIgnored(w, ignored)
	src, err := s.stat(name)
	if err != nil {
		return err
	}
	fm, vary := negotiate(opts, name, r.Header.Get("Accept"), s.cfg.AVIF.AutoFormat)
	key := strings.Join([]string{pipelineVersion, src.name, strconv.FormatInt(src.modTime.UnixNano(), 10),
		strconv.FormatInt(src.size, 10), opts.Canonical(fm)}, "|")
	sum := sha256.Sum256([]byte(key))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cfg.MaxAge.Seconds())))
	h.Set("Last-Modified", src.modTime.UTC().Format(http.TimeFormat))
	if vary {
		h.Set("Vary", "Accept")
	}
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		s.m.hits.Inc()
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	e, ok := s.cache.Get(key)
	if ok {
		s.m.hits.Inc()
	} else {
		s.m.misses.Inc()
		var shared bool
		e, shared, err = s.cache.Do(r.Context(), key, func(ctx context.Context) (*cache.Entry, error) {
			return s.transform(ctx, src, opts, fm)
		})
		if shared {
			s.m.collapsed.Inc()
		}
		if err != nil {
			return err
		}
	}
	h.Set("Content-Type", e.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.Body)
	}
	return nil
}

// transform waits for a worker (and for AVIF, an AVIF slot first), then
// reads and transforms the source. The source is read only once a worker
// is free, so waiting requests hold no image memory.
func (s *Server) transform(ctx context.Context, src source, opts params.Options, fm params.Format) (*cache.Entry, error) {
	release, timeout, err := s.slots(ctx, fm)
	if err != nil {
		return nil, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := s.read(src)
	if err != nil {
		return nil, err
	}
	var res pipeline.Result
	s.th.run(func() { res, err = s.pipe.Process(ctx, b, opts, fm) })
	putBuf(b) // Process has closed every image that referred to it
	if err != nil {
		return nil, fmt.Errorf("transforming %s: %w", src.name, err)
	}
	return &cache.Entry{Body: res.Body, ContentType: res.ContentType}, nil
}

// etagMatch implements If-None-Match's weak comparison.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// statusWriter remembers the status code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}
