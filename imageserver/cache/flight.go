package cache

import (
	"context"
	"fmt"
)

// call is one computation in flight and the requests waiting for it.
type call struct {
	done    chan struct{}
	e       *Entry
	err     error
	waiters int
	cancel  context.CancelFunc
}

// Do returns the entry for key from the cache or, on a miss, from compute,
// run once for all concurrent callers with the same key. compute gets a
// context that is cancelled when every caller has gone away, so work for
// clients that left is dropped. A successful result is cached. shared says
// whether this caller joined a computation started by another.
func (c *Cache) Do(ctx context.Context, key string, compute func(context.Context) (*Entry, error)) (e *Entry, shared bool, err error) {
	c.mu.Lock()
	cl, ok := c.flight[key]
	if ok {
		cl.waiters++
	} else {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cl = &call{done: make(chan struct{}), waiters: 1, cancel: cancel}
		c.flight[key] = cl
		c.wg.Add(1)
		go c.run(cctx, key, cl, compute)
	}
	c.mu.Unlock()

	select {
	case <-cl.done:
		return cl.e, ok, cl.err
	case <-ctx.Done():
		c.mu.Lock()
		cl.waiters--
		if cl.waiters == 0 {
			// nobody wants it any more: stop it, and let a later request
			// start afresh instead of joining a cancelled computation
			cl.cancel()
			if c.flight[key] == cl {
				delete(c.flight, key)
			}
		}
		c.mu.Unlock()
		return nil, ok, ctx.Err()
	}
}

func (c *Cache) run(ctx context.Context, key string, cl *call, compute func(context.Context) (*Entry, error)) {
	defer c.wg.Done()
	defer cl.cancel()
	defer func() {
		if r := recover(); r != nil {
			cl.err = &PanicError{Value: r}
		}
		if cl.err == nil {
			c.Add(key, cl.e)
		}
		c.mu.Lock()
		if c.flight[key] == cl {
			delete(c.flight, key)
		}
		c.mu.Unlock()
		close(cl.done)
	}()
	cl.e, cl.err = compute(ctx)
}

// PanicError is a panic in a computation, turned into an error so that one
// bad request cannot take the server down.
type PanicError struct{ Value any }

func (e *PanicError) Error() string { return fmt.Sprintf("panic in transform: %v", e.Value) }

// Wait waits for the computations in flight to finish.
func (c *Cache) Wait() { c.wg.Wait() }
