package imageserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hostpush/hostpush/imageserver/admission"
	"github.com/hostpush/hostpush/imageserver/params"
)

// AVIFConfig bounds AVIF encoding apart from the other formats. An AVIF
// transform holds one of its own slots (fewer: one by default) and then a
// worker of the default pool, so a burst of AVIF requests takes at most
// that many of the default workers, waits in its own queue and is refused
// from it, and the CPU and memory in use stay those of the default
// workers. It has its own deadline; its output limit is the pipeline's
// MaxAVIFOutputPixels.
type AVIFConfig struct {
	Admission admission.Config
	Timeout   time.Duration // the longest an AVIF transform may run
	// AutoFormat lets auto=format pick AVIF for clients that accept it;
	// off, auto=format picks WebP at most (fm=avif always works).
	AutoFormat bool
}

// Validate reports every problem of the AVIF configuration.
func (c AVIFConfig) Validate() error {
	var errs []error
	if err := c.Admission.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("avif %w", err))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("avif transform timeout must be positive, got %s", c.Timeout))
	}
	return errors.Join(errs...)
}

// pool is an admission controller and the name its metrics carry.
type pool struct {
	name    string // "default" or "avif"
	adm     *admission.Controller
	workers int
}

func newPool(name string, cfg admission.Config) (*pool, error) {
	adm, err := admission.New(cfg)
	if err != nil {
		return nil, err
	}
	return &pool{name: name, adm: adm, workers: cfg.Workers}, nil
}

// acquire waits for a slot of the pool, recording the wait.
func (s *Server) acquire(ctx context.Context, pl *pool) (func(), error) {
	release, waited, err := pl.adm.Acquire(ctx)
	s.m.queueWait.WithLabelValues(pl.name).Observe(waited.Seconds())
	return release, err
}

// slots takes what a transform to fm needs: an AVIF slot first for AVIF,
// then a default worker. It returns the release func and the deadline.
func (s *Server) slots(ctx context.Context, fm params.Format) (func(), time.Duration, error) {
	if fm != params.FormatAVIF {
		rel, err := s.acquire(ctx, s.main)
		return rel, s.cfg.TransformTimeout, err
	}
	relAVIF, err := s.acquire(ctx, s.avif)
	if err != nil {
		return nil, 0, err
	}
	rel, err := s.acquire(ctx, s.main)
	if err != nil {
		relAVIF()
		return nil, 0, err
	}
	return func() { rel(); relAVIF() }, s.cfg.AVIF.Timeout, nil
}
