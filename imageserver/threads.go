package imageserver

import (
	"runtime"
	"sync"
)

// threads runs transforms on a fixed set of goroutines, each locked to its
// own OS thread. libvips keeps buffers per thread and glibc binds each
// thread to a malloc arena; transforms run on whatever thread a request's
// goroutine was on spread those over every thread the Go runtime ever
// made, and RSS grew with them (overload run: 285 MB peak before).
type threads struct {
	jobs chan func()
	wg   sync.WaitGroup
}

func newThreads(n int) *threads {
	t := &threads{jobs: make(chan func())}
	for range n {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			for f := range t.jobs {
				f()
			}
		}()
	}
	return t
}

// run runs f on one of the threads and waits for it. A panic in f is
// raised again in the caller, where the server's recovery handles it.
func (t *threads) run(f func()) {
	done := make(chan any, 1)
	t.jobs <- func() {
		defer func() { done <- recover() }()
		f()
	}
	if p := <-done; p != nil {
		panic(p)
	}
}

// close stops the threads once their jobs are done.
func (t *threads) close() {
	close(t.jobs)
	t.wg.Wait()
}
