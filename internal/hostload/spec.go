package hostload

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Bounds of a Spec. They keep a typo from taking the host down; the host's
// own limits are checked as well (see Start).
const (
	MaxProcs = 10000
	// MinThreadsPerProc is a little over what one child needs: its main
	// thread, the Go runtime's sysmon, a thread to run goroutines and
	// one that waits for the parent (four), and room for the one more
	// the Go runtime sometimes starts on its own.
	MinThreadsPerProc = 5
	MaxThreadsPerProc = 1000
	MaxProcsPerSec    = 100
	MaxThreadsPerSec  = 5000
	MaxLifetime       = 24 * time.Hour
	// DefaultLifetime bounds a child whose parent forgot to stop it and
	// neither died nor closed its pipe.
	DefaultLifetime = 15 * time.Minute
)

// Spec says how much load to add.
type Spec struct {
	// Procs is the number of processes added.
	Procs int
	// Threads is the number of threads in those processes together,
	// counting each one's main thread and Go runtime threads, so that
	// the host's thread count rises by Threads. 0 means
	// MinThreadsPerProc per process.
	Threads int
	// Churn makes processes and threads start and exit continuously.
	Churn Churn
	// Lifetime is how long each child lives at most; 0 means
	// DefaultLifetime. A churned process lives at most this long from its
	// own start.
	Lifetime time.Duration
}

// Churn rates. Each replacement keeps the counts steady: one exits and one
// starts, so the host's counts move by a few at a time, never drift.
type Churn struct {
	// ProcsPerSec is how many processes are replaced per second.
	ProcsPerSec float64
	// ThreadsPerSec is how many threads are replaced per second, spread
	// over all processes.
	ThreadsPerSec float64
}

// Sizes are the host sizes the benchmarks and the differential tests
// measure at, by name: the host as it is, +500 processes / 2,500 threads,
// +2,000 processes / 10,000 threads.
var Sizes = map[string]Spec{
	"host":   {},
	"medium": {Procs: 500, Threads: 2500},
	"large":  {Procs: 2000, Threads: 10000},
}

// SizeNames lists Sizes from the smallest.
var SizeNames = []string{"host", "medium", "large"}

// ParseSize returns the Spec of a named size.
func ParseSize(name string) (Spec, error) {
	s, ok := Sizes[name]
	if !ok {
		return Spec{}, fmt.Errorf("unknown host size %q (allowed: %s)", name, strings.Join(SizeNames, ", "))
	}
	return s, nil
}

// withDefaults fills in the zero values.
func (s Spec) withDefaults() Spec {
	if s.Threads == 0 {
		s.Threads = s.Procs * MinThreadsPerProc
	}
	if s.Lifetime == 0 {
		s.Lifetime = DefaultLifetime
	}
	return s
}

// Validate checks the Spec against the package's bounds (not the host's).
// It names every field that is wrong.
func (s Spec) Validate() error {
	d := s.withDefaults()
	var errs []error
	if s.Procs < 0 || s.Procs > MaxProcs {
		errs = append(errs, fmt.Errorf("procs %d out of range (allowed: 0 to %d)", s.Procs, MaxProcs))
	}
	if s.Procs > 0 && (d.Threads < s.Procs*MinThreadsPerProc || d.Threads > s.Procs*MaxThreadsPerProc) {
		errs = append(errs, fmt.Errorf("threads %d out of range for %d processes (allowed: %d to %d per process)",
			s.Threads, s.Procs, MinThreadsPerProc, MaxThreadsPerProc))
	}
	if s.Procs == 0 && s.Threads != 0 {
		errs = append(errs, fmt.Errorf("threads %d without processes (threads live in the added processes)", s.Threads))
	}
	if r := s.Churn.ProcsPerSec; !(r >= 0 && r <= MaxProcsPerSec) {
		errs = append(errs, fmt.Errorf("churn procs/s %g out of range (allowed: 0 to %d)", r, MaxProcsPerSec))
	}
	if r := s.Churn.ThreadsPerSec; !(r >= 0 && r <= MaxThreadsPerSec) {
		errs = append(errs, fmt.Errorf("churn threads/s %g out of range (allowed: 0 to %d)", r, MaxThreadsPerSec))
	}
	if s.Lifetime < 0 || s.Lifetime > MaxLifetime {
		errs = append(errs, fmt.Errorf("lifetime %s out of range (allowed: 0 for %s, up to %s)", s.Lifetime, DefaultLifetime, MaxLifetime))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hostload: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// perChild splits the threads over the processes: the first Threads%Procs
// children get one more.
func (s Spec) perChild(i int) int {
	base, extra := s.Threads/s.Procs, s.Threads%s.Procs
	if i < extra {
		return base + 1
	}
	return base
}
