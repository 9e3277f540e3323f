// Package admission bounds how many transforms run at once and how long and
// how many requests may wait for a slot, so that under overload the server
// answers some requests quickly with 503 instead of all of them slowly.
//
// A request that finds every slot taken is refused at once when the queue
// is full or when its expected wait is already longer than the queue
// timeout: the expected wait is its place in the queue times the time a
// slot is held (an exponentially weighted mean of recent transforms, or
// the age of the transforms running now when that is longer) divided by
// the number of slots, plus a margin for their spread. Until the first
// transform finishes there is no estimate: then one request per slot may
// wait, for at most the timeout.
package admission

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
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
	ErrWaitTooLong  = errors.New("expected wait for a worker is longer than the queue timeout")
	ErrQueueTimeout = errors.New("waited too long for a worker")
)

// weight is the share of the newest transform in the mean hold time: the
// mean follows a change of the request mix within about ten transforms
// and one outlier moves it by a seventh.
const weight = 0.15

// Controller hands out worker slots. It is safe for concurrent use.
type Controller struct {
	cfg     Config
	slots   chan struct{}
	waiting atomic.Int64

	mu      sync.Mutex
	mean    time.Duration // of slot hold times; 0 until one was released
	vari    float64       // their weighted variance, in seconds squared
	running map[uint64]time.Time
	next    uint64
}

// New returns a Controller.
func New(cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("admission config: %w", err)
	}
	return &Controller{cfg: cfg, slots: make(chan struct{}, cfg.Workers), running: map[uint64]time.Time{}}, nil
}

// Acquire waits for a slot. It returns a release func to call when the work
// is done, how long it waited, and ErrQueueFull, ErrWaitTooLong,
// ErrQueueTimeout or the context's error when no slot was given.
func (c *Controller) Acquire(ctx context.Context) (release func(), waited time.Duration, err error) {
	select {
	case c.slots <- struct{}{}:
		return c.hold(), 0, nil
	default:
	}
	pos := c.waiting.Add(1)
	if pos > int64(c.queueBound()) {
		c.waiting.Add(-1)
		return nil, 0, ErrQueueFull
	}
	defer c.waiting.Add(-1)
	if c.ExpectedWait(int(pos)) > c.cfg.Timeout {
		return nil, 0, ErrWaitTooLong
	}
	start := time.Now()
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
		return c.hold(), time.Since(start), nil
	case <-t.C:
		return nil, time.Since(start), ErrQueueTimeout
	case <-ctx.Done():
		return nil, time.Since(start), ctx.Err()
	}
}

// queueBound is the queue size, or on a cold start (no transform has
// finished, so no estimate) at most one waiter per worker: the first
// transforms of a process are the slowest, and a full queue behind them
// would wait out the timeout.
func (c *Controller) queueBound() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mean == 0 {
		return min(c.cfg.QueueSize, c.cfg.Workers)
	}
	return c.cfg.QueueSize
}

// hold records a taken slot and returns the func that releases it.
func (c *Controller) hold() func() {
	c.mu.Lock()
	id := c.next
	c.next++
	c.running[id] = time.Now()
	c.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { c.release(id) }) }
}

func (c *Controller) release(id uint64) {
	c.mu.Lock()
	d := time.Since(c.running[id])
	delete(c.running, id)
	if c.mean == 0 {
		c.mean = d
	} else {
		diff := (d - c.mean).Seconds()
		c.mean += time.Duration(weight * float64(d-c.mean))
		c.vari = (1 - weight) * (c.vari + weight*diff*diff)
	}
	c.mu.Unlock()
	<-c.slots
}

// ExpectedWait estimates how long the request at place pos (1 for the
// next) of the queue waits for a slot; 0 without an estimate. Slots free
// up Workers per hold time; it counts the first one as a whole hold time
// rather than a share (the running transforms may have started
// together), and adds two standard deviations of the sum of the n hold
// times it waits for (2 sd sqrt(n)): a request admitted on the mean alone
// waits past the timeout half the time the estimate is tight, and a 503
// after the timeout is the slow answer this is meant to avoid.
func (c *Controller) ExpectedWait(pos int) time.Duration {
	hold, sd := c.holdStats()
	n := float64(pos+c.cfg.Workers-1) / float64(c.cfg.Workers)
	return time.Duration(n*float64(hold) + 2*math.Sqrt(n)*sd*float64(time.Second))
}

// HoldTime is the estimated time a transform holds a slot: the mean of the
// recent ones, or the mean age of those running now when that is longer
// (a burst of heavier work shows before the first of it finishes).
func (c *Controller) HoldTime() time.Duration {
	hold, _ := c.holdStats()
	return hold
}

// holdStats returns HoldTime and the standard deviation of hold times in
// seconds.
func (c *Controller) holdStats() (time.Duration, float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sd := math.Sqrt(c.vari)
	if len(c.running) == 0 {
		return c.mean, sd
	}
	now := time.Now()
	var age time.Duration
	for _, t := range c.running {
		age += now.Sub(t)
	}
	return max(c.mean, age/time.Duration(len(c.running))), sd
}

// InFlight is the number of slots in use.
func (c *Controller) InFlight() int { return len(c.slots) }

// Waiting is the number of requests waiting for a slot.
func (c *Controller) Waiting() int { return int(c.waiting.Load()) }
