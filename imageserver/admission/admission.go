// Package admission bounds how many transforms run at once and how long and
// how many requests may wait for a slot, so that under overload the server
// answers some requests quickly with 503 instead of all of them slowly.
package admission

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Config bounds the concurrency.
type Config struct {
	Workers   int           // transforms running at once
	QueueSize int           // requests waiting for a slot
	Timeout   time.Duration // the longest a request waits for a slot
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers must be at least 1, got %d", c.Workers))
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("queue size must be 0 or more, got %d", c.QueueSize))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("queue timeout must be positive, got %s", c.Timeout))
	}
	return errors.Join(errs...)
}

// Rejections returned by Acquire.
var (
	ErrQueueFull    = errors.New("too many requests waiting")
	ErrQueueTimeout = errors.New("waited too long for a worker")
)

// Controller hands out worker slots. It is safe for concurrent use.
type Controller struct {
	cfg     Config
	slots   chan struct{}
	waiting atomic.Int64
}

// New returns a Controller.
func New(cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("admission config: %w", err)
	}
	return &Controller{cfg: cfg, slots: make(chan struct{}, cfg.Workers)}, nil
}

// Acquire waits for a slot. It returns a release func to call when the work
// is done, how long it waited, and ErrQueueFull, ErrQueueTimeout or the
// context's error when no slot was given.
func (c *Controller) Acquire(ctx context.Context) (release func(), waited time.Duration, err error) {
	select {
	case c.slots <- struct{}{}:
		return c.release, 0, nil
	default:
	}
	if c.waiting.Add(1) > int64(c.cfg.QueueSize) {
		c.waiting.Add(-1)
		return nil, 0, ErrQueueFull
	}
	defer c.waiting.Add(-1)
	start := time.Now()
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
		return c.release, time.Since(start), nil
	case <-t.C:
		return nil, time.Since(start), ErrQueueTimeout
	case <-ctx.Done():
		return nil, time.Since(start), ctx.Err()
	}
}

func (c *Controller) release() { <-c.slots }

// InFlight is the number of slots in use.
func (c *Controller) InFlight() int { return len(c.slots) }

// Waiting is the number of requests waiting for a slot.
func (c *Controller) Waiting() int { return int(c.waiting.Load()) }
