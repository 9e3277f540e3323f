package imageserver

import "testing"

// TestThreadsRepanic: a panic on a transform thread reaches the caller and
// the thread goes on serving.
func TestThreadsRepanic(t *testing.T) {
	th := newThreads(1)
	defer th.close()
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want boom", p)
			}
		}()
		th.run(func() { panic("boom") })
	}()
	ran := false
	th.run(func() { ran = true })
	if !ran {
		t.Fatal("the thread stopped after a panic")
	}
}
