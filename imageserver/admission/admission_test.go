package admission

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{Workers: 1, QueueSize: 1, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		rel, waited, err := c.Acquire(ctx)
		if err != nil || waited != 0 {
			t.Fatalf("free slot: waited %s, err %v", waited, err)
		}
		if c.InFlight() != 1 {
			t.Fatalf("in flight %d, want 1", c.InFlight())
		}
		// one may wait; it gets the slot when the first is released
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
		// a waiter times out after Timeout
		rel, _, _ = c.Acquire(ctx)
		_, waited, err = c.Acquire(ctx)
		if !errors.Is(err, ErrQueueTimeout) || waited != time.Second {
			t.Fatalf("timeout: waited %s, err %v", waited, err)
		}
		// a waiter whose client left gives up at once
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(10 * time.Millisecond); cancel() }()
		if _, _, err := c.Acquire(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		rel()
		if c.InFlight() != 0 || c.Waiting() != 0 {
			t.Fatalf("after all: in flight %d, waiting %d", c.InFlight(), c.Waiting())
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
