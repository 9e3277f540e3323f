package admission

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

func newController(t *testing.T, cfg Config) *Controller {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// work takes a slot for d and releases it.
func work(t *testing.T, c *Controller, d time.Duration) {
	t.Helper()
	rel, _, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	time.Sleep(d)
	rel()
}

func TestAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newController(t, Config{Workers: 1, QueueSize: 1, Timeout: time.Second})
		ctx := context.Background()
		rel, waited, err := c.Acquire(ctx)
		if err != nil || waited != 0 {
			t.Fatalf("free slot: waited %s, err %v", waited, err)
		}
		if c.InFlight() != 1 {
			t.Fatalf("in flight %d, want 1", c.InFlight())
		}
		// one may wait (no estimate yet); it gets the slot when the first is released
		got := make(chan error, 1)
		go func() {
			r, w, err := c.Acquire(ctx)
			if err == nil {
				if w != 300*time.Millisecond {
					err = errors.New("waited " + w.String())
				}
				r()
			}
			got <- err
		}()
		synctest.Wait()
		if c.Waiting() != 1 {
			t.Fatalf("waiting %d, want 1", c.Waiting())
		}
		// a second waiter does not fit the queue
		if _, _, err := c.Acquire(ctx); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("second waiter: %v, want ErrQueueFull", err)
		}
		time.Sleep(300 * time.Millisecond)
		rel()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		// a waiter whose client left gives up at once
		rel, _, _ = c.Acquire(ctx)
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(10 * time.Millisecond); cancel() }()
		if _, _, err := c.Acquire(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		rel()
		rel() // a second release is harmless
		if c.InFlight() != 0 || c.Waiting() != 0 {
			t.Fatalf("after all: in flight %d, waiting %d", c.InFlight(), c.Waiting())
		}
	})
}

// TestTimeoutWithoutEstimate: on a cold start the queue timeout bounds
// the wait.
func TestTimeoutWithoutEstimate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newController(t, Config{Workers: 1, QueueSize: 4, Timeout: time.Second})
		rel, _, _ := c.Acquire(context.Background())
		defer rel()
		_, waited, err := c.Acquire(context.Background())
		if !errors.Is(err, ErrQueueTimeout) || waited != time.Second {
			t.Fatalf("waited %s, err %v; want ErrQueueTimeout after 1s", waited, err)
		}
	})
}

// TestColdStart: before any transform finished, one request per worker
// may wait; after the first one, the queue size applies.
func TestColdStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newController(t, Config{Workers: 2, QueueSize: 8, Timeout: time.Second})
		ctx := context.Background()
		r1, _, _ := c.Acquire(ctx)
		r2, _, _ := c.Acquire(ctx)
		done := make(chan error, 2)
		for range 2 {
			go func() {
				r, _, err := c.Acquire(ctx)
				if err == nil {
					r()
				}
				done <- err
			}()
		}
		synctest.Wait()
		if _, waited, err := c.Acquire(ctx); !errors.Is(err, ErrQueueFull) || waited != 0 {
			t.Fatalf("third waiter on a cold start: waited %s, err %v; want ErrQueueFull at once", waited, err)
		}
		time.Sleep(50 * time.Millisecond)
		r1()
		r2()
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if c.queueBound() != 8 {
			t.Errorf("queue bound %d once warm, want 8", c.queueBound())
		}
	})
}

// TestHoldTimeMean: the estimate is a weighted mean of the hold times.
func TestHoldTimeMean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newController(t, Config{Workers: 2, QueueSize: 4, Timeout: time.Second})
		if c.HoldTime() != 0 || c.ExpectedWait(3) != 0 {
			t.Fatal("an estimate before any transform")
		}
		work(t, c, 100*time.Millisecond)
		if got := c.HoldTime(); got != 100*time.Millisecond {
			t.Fatalf("after one transform of 100ms: %s", got)
		}
		work(t, c, 200*time.Millisecond)
		if got := c.HoldTime(); got != 115*time.Millisecond {
			t.Fatalf("after 100ms and 200ms: %s, want 115ms", got)
		}
		// place 3 with 2 workers: (3+1)/2 hold times, plus 2 sd sqrt(2)
		sd := math.Sqrt((1 - weight) * weight * 0.1 * 0.1) // one step of the weighted variance
		want := 230*time.Millisecond + time.Duration(2*math.Sqrt(2)*sd*float64(time.Second))
		if got := c.ExpectedWait(3); got < want-time.Microsecond || got > want+time.Microsecond {
			t.Fatalf("expected wait at place 3: %s, want %s", got, want)
		}
	})
}

// TestRefuseAtOnce: with an estimate, a request whose expected wait is
// longer than the timeout is refused at once, and the ones admitted get a
// slot before the timeout.
func TestRefuseAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const hold = 100 * time.Millisecond
		c := newController(t, Config{Workers: 1, QueueSize: 20, Timeout: 350 * time.Millisecond})
		work(t, c, hold)
		// a worker that keeps taking slots for 100ms each, as transforms do
		type result struct {
			waited time.Duration
			err    error
		}
		results := make(chan result, 10)
		rel, _, _ := c.Acquire(context.Background())
		for range 6 {
			go func() {
				r, w, err := c.Acquire(context.Background())
				if err == nil {
					time.Sleep(hold)
					r()
				}
				results <- result{w, err}
			}()
			synctest.Wait() // queue in order
		}
		time.Sleep(hold)
		rel()
		var ok, refused int
		for range 6 {
			r := <-results
			switch {
			case r.err == nil && r.waited <= 350*time.Millisecond:
				ok++
			case errors.Is(r.err, ErrWaitTooLong) && r.waited == 0:
				refused++
			default:
				t.Errorf("waited %s, err %v: neither admitted in time nor refused at once", r.waited, r.err)
			}
		}
		// places 1-3 expect 100, 200, 300 ms; 4-6 expect 400ms and more
		if ok != 3 || refused != 3 {
			t.Errorf("%d admitted, %d refused at once; want 3 and 3", ok, refused)
		}
	})
}

// TestHeavierWorkShowsEarly: when the running transforms are already older
// than the mean (a burst of heavier ones), the estimate follows their age
// before any of them finishes.
func TestHeavierWorkShowsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newController(t, Config{Workers: 1, QueueSize: 20, Timeout: time.Second})
		work(t, c, 50*time.Millisecond)
		rel, _, _ := c.Acquire(context.Background())
		time.Sleep(2 * time.Second) // a heavy one, still running
		if got := c.HoldTime(); got != 2*time.Second {
			t.Fatalf("hold time %s with a transform running for 2s, want 2s", got)
		}
		if _, waited, err := c.Acquire(context.Background()); !errors.Is(err, ErrWaitTooLong) || waited != 0 {
			t.Fatalf("waited %s, err %v; want ErrWaitTooLong at once", waited, err)
		}
		rel()
		// the mean moved by its weight towards 2s
		if got, want := c.HoldTime(), 50*time.Millisecond+time.Duration(weight*float64(1950*time.Millisecond)); got != want {
			t.Fatalf("mean after the heavy one %s, want %s", got, want)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Workers: 0, Timeout: time.Second}, {Workers: 1, QueueSize: -1, Timeout: time.Second}, {Workers: 1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (Config{Workers: 2, QueueSize: 0, Timeout: time.Millisecond}).Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}
