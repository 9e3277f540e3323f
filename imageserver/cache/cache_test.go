package cache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func entry(n int) *Entry { return &Entry{Body: make([]byte, n), ContentType: "image/jpeg"} }

func TestLRUBoundedInBytes(t *testing.T) {
	c, err := New(10_000)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		c.Add(strings.Repeat("k", i+1), entry(1000))
		if c.Bytes() > 10_000 {
			t.Fatalf("after %d adds the cache holds %d bytes, more than 10000", i+1, c.Bytes())
		}
	}
	if _, ok := c.Get("k"); ok {
		t.Error("the oldest entry should have been evicted")
	}
	if _, ok := c.Get(strings.Repeat("k", 20)); !ok {
		t.Error("the newest entry is missing")
	}
	c.Add("big", entry(5000)) // more than an eighth: not stored
	if _, ok := c.Get("big"); ok {
		t.Error("an entry larger than an eighth of the cache was stored")
	}
	// Get refreshes: the refreshed entry survives the next evictions
	keep := strings.Repeat("k", 15) // among the 8 entries that fit, the third oldest
	c.Get(keep)
	for i := 0; i < 5; i++ {
		c.Add("n"+strings.Repeat("x", i), entry(1000))
	}
	if _, ok := c.Get(keep); !ok {
		t.Error("a recently used entry was evicted before older ones")
	}
	if _, err := New(-1); err == nil {
		t.Error("negative size accepted")
	}
}

func TestDoCollapses(t *testing.T) {
	c, _ := New(1 << 20)
	var calls atomic.Int32
	release := make(chan struct{})
	compute := func(ctx context.Context) (*Entry, error) {
		calls.Add(1)
		<-release
		return entry(10), nil
	}
	var wg sync.WaitGroup
	var shared atomic.Int32
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, sh, err := c.Do(context.Background(), "k", compute)
			if err != nil || len(e.Body) != 10 {
				t.Errorf("Do: %v", err)
			}
			if sh {
				shared.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls.Load() != 1 || shared.Load() != 9 {
		t.Fatalf("%d computations, %d shared, want 1 and 9", calls.Load(), shared.Load())
	}
	if _, ok := c.Get("k"); !ok {
		t.Error("the result was not cached")
	}
	c.Wait()
}

func TestDoDropsWorkWhenEveryoneLeft(t *testing.T) {
	c, _ := New(1 << 20)
	stopped := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, err := c.Do(ctx, "k", func(ctx context.Context) (*Entry, error) {
			<-ctx.Done()
			stopped <- ctx.Err()
			return nil, ctx.Err()
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do after cancel: %v", err)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("computation saw %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the computation was not cancelled when its only client left")
	}
	<-done
	c.Wait()
	// a new request starts afresh rather than joining the cancelled one
	e, _, err := c.Do(context.Background(), "k", func(context.Context) (*Entry, error) { return entry(1), nil })
	if err != nil || e == nil {
		t.Fatalf("fresh Do: %v", err)
	}
}

func TestDoRecoversPanics(t *testing.T) {
	c, _ := New(1 << 20)
	_, _, err := c.Do(context.Background(), "k", func(context.Context) (*Entry, error) { panic("boom") })
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *PanicError", err)
	}
	if _, ok := c.Get("k"); ok {
		t.Error("a failed computation was cached")
	}
	c.Wait()
}
