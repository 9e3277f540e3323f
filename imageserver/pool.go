package imageserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/hostpush/hostpush/imageserver/admission"
	"github.com/hostpush/hostpush/imageserver/params"
)

// AVIFConfig bounds AVIF encoding apart from the other formats: even at
// libaom's fastest speed an AVIF costs about a WebP and its cost grows
// with the output, so it has its own, smaller set of workers, queue and
// deadline, and a burst of AVIF requests cannot take the workers the
// other formats need.
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

// pool is one set of workers: an admission controller, the threads that
// run its transforms and their deadline.
type pool struct {
	name    string // "default" or "avif", the label of its metrics
	adm     *admission.Controller
	th      *threads
	workers int
	timeout time.Duration
}

func newPool(name string, cfg admission.Config, timeout time.Duration) (*pool, error) {
	adm, err := admission.New(cfg)
	if err != nil {
		return nil, err
	}
	return &pool{name: name, adm: adm, th: newThreads(cfg.Workers), workers: cfg.Workers, timeout: timeout}, nil
}

// poolFor picks the pool for output format fm.
func (s *Server) poolFor(fm params.Format) *pool {
	if fm == params.FormatAVIF {
		return s.avif
	}
	return s.main
}
