// Package pipeline turns a source image and normalized parameters into an
// encoded image with libvips. The work is a list of small steps, each
// returning early when its option is unset, with a context check between
// steps; limits are checked from the header before any pixel is decoded.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/hostpush/hostpush/imageserver/params"
)

// Config bounds the work one transform may do.
type Config struct {
	// MaxSourcePixels is the largest width*height of a source, checked from
	// its header before decoding.
	MaxSourcePixels int64
	// MaxOutputPixels is the largest image a transform computes (the
	// output, or the resized region before a crop or rotation), checked
	// from the plan before decoding; MaxAVIFOutputPixels the same for
	// AVIF output, whose encoder needs far more memory per pixel.
	MaxOutputPixels     int64
	MaxAVIFOutputPixels int64
}

// DefaultMaxOutputPixels is 4096x2048 (8.4 MP) and
// DefaultMaxAVIFOutputPixels 2048x1024 (2.1 MP): measured from a fresh
// server on the 12 MP photo (BenchmarkLoadPeakRSS), two workers at the
// limit peak at 164 MB RSS (JPEG), 233 MB (PNG), 253 MB (WebP), and a
// WebP beside an AVIF (which holds one of the two workers) at 261 MB,
// inside the 300 MB the README gives the server. AVIF needs about 40
// bytes per output pixel, WebP 6, beyond a fixed cost for the source.
const (
	DefaultMaxOutputPixels     = 4096 * 2048
	DefaultMaxAVIFOutputPixels = 2048 * 1024
)

// DefaultConfig returns the limits used when none are configured.
func DefaultConfig() Config {
	return Config{MaxSourcePixels: 50_000_000, MaxOutputPixels: DefaultMaxOutputPixels, MaxAVIFOutputPixels: DefaultMaxAVIFOutputPixels}
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxSourcePixels < 1 {
		errs = append(errs, fmt.Errorf("max source pixels must be at least 1, got %d", c.MaxSourcePixels))
	}
	if c.MaxOutputPixels < 1 {
		errs = append(errs, fmt.Errorf("max output pixels must be at least 1, got %d", c.MaxOutputPixels))
	}
	if c.MaxAVIFOutputPixels < 1 {
		errs = append(errs, fmt.Errorf("max AVIF output pixels must be at least 1, got %d", c.MaxAVIFOutputPixels))
	}
	return errors.Join(errs...)
}

// LimitError is a request whose output would exceed MaxOutputPixels; its
// message names the limit and is safe to show to clients (a 400: the
// parameters ask for too much).
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// SourceError is a problem with the source file; its message is safe to
// show to clients.
type SourceError struct{ Msg string }

func (e *SourceError) Error() string { return e.Msg }

// ErrCorrupt is wrapped by errors that libvips reports while decoding.
var ErrCorrupt = &SourceError{Msg: "source image is corrupt or truncated"}

// Observer receives the duration of each step. Implementations must be safe
// for concurrent use.
type Observer interface {
	ObserveStep(step string, d time.Duration)
}

// Result is an encoded image.
type Result struct {
	Body        []byte
	ContentType string
	Width       int
	Height      int
}

// Pipeline runs transforms. It is safe for concurrent use; callers bound
// the concurrency (admission control), not the pipeline.
type Pipeline struct {
	cfg Config
	obs Observer
	log *slog.Logger
}

// New returns a Pipeline after starting libvips (once per process).
func New(cfg Config, obs Observer, log *slog.Logger) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	if err := Startup(log); err != nil {
		return nil, err
	}
	return &Pipeline{cfg: cfg, obs: obs, log: log}, nil
}

var startOnce sync.Once

// Startup starts libvips tuned for a server that runs about one transform
// per core: one libvips worker thread per transform (the server's admission
// control supplies the parallelism), no operation cache (the server caches
// results), few malloc arenas (glibc's default of 8 per core inflates RSS
// with many short-lived large buffers).
func Startup(log *slog.Logger) error {
	startOnce.Do(func() {
		limitMallocArenas(2)
		vips.LoggingSettings(func(domain string, level vips.LogLevel, msg string) {
			log.Warn("libvips message", "domain", domain, "msg", msg)
		}, vips.LogLevelWarning)
		vips.Startup(&vips.Config{ConcurrencyLevel: 1, MaxCacheFiles: 0, MaxCacheMem: 0, MaxCacheSize: 0})
		// govips writes its sRGB profile to a temporary file on first use
		// and publishes the path before the file is written: two first
		// transforms at once read an empty profile ("corrupt profile", seen
		// under load). Write it once here, before any transform.
		var err error
		if srgbProfile, err = vips.GetSRGBIEC6196621ICCProfilePath(); err != nil {
			startErr = fmt.Errorf("writing the sRGB ICC profile: %w", err)
		}
	})
	return startErr
}

var (
	srgbProfile string // path of the sRGB ICC profile file
	startErr    error
)

// state is what the steps share while one transform runs.
type state struct {
	src     []byte
	opts    params.Options
	format  params.Format
	header  Header
	orient  int
	plan    Plan
	cut     bool // the entropy cut is done
	img     *vips.ImageRef
	result  Result
	cleanup []*vips.ImageRef
}

type step struct {
	name string
	run  func(p *Pipeline, s *state) error
}

// steps is the pipeline, in order.
var steps = []step{
	{"probe", (*Pipeline).probe},
	{"load", (*Pipeline).load},
	{"crop", (*Pipeline).crop},
	{"resize", (*Pipeline).resize},
	{"orient", (*Pipeline).orient},
	{"rotate", (*Pipeline).rotate},
	{"colour", (*Pipeline).colour},
	{"render", (*Pipeline).render},
	{"entropy", (*Pipeline).entropy},
	{"sharpen", (*Pipeline).sharpen},
	{"blur", (*Pipeline).blur},
	{"flip", (*Pipeline).flip},
	{"box", (*Pipeline).box},
	{"pad", (*Pipeline).pad},
	{"background", (*Pipeline).background},
	{"encode", (*Pipeline).encode},
}

// Process transforms src as opts says and encodes it as fm. libvips is lazy:
// the steps before "encode" build a graph and the pixels are computed when
// "encode" pulls them through it, so most of the time shows in "encode"
// (in "render" for entropy crops, in "blur" for large blurs).
func (p *Pipeline) Process(ctx context.Context, src []byte, opts params.Options, fm params.Format) (res Result, err error) {
	s := &state{src: src, opts: opts, format: fm}
	defer func() {
		if s.img != nil {
			s.img.Close()
		}
		for _, im := range s.cleanup {
			im.Close()
		}
	}()
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("before %s: %w", st.name, err)
		}
		start := time.Now()
		err := st.run(p, s)
		if p.obs != nil {
			p.obs.ObserveStep(st.name, time.Since(start))
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return s.result, nil
}

// vipsErr turns a libvips error, which follows from the source bytes here,
// into the public corrupt-source error while keeping the detail for logs.
func vipsErr(err error) error {
	if err == nil {
		return nil
	}
	var se *SourceError
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%w (%v)", ErrCorrupt, err)
}
