package procs

import (
	"bytes"
	"sync"
)

// Buffer collects a child process's output while another goroutine reads
// it (exec copies a pipe into Stdout/Stderr from its own goroutine, so a
// plain bytes.Buffer read during the run is a data race).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
