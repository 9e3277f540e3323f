// Package hostload makes the host busier in a bounded way: it adds sleeping
// processes and threads (and, optionally, processes and threads that start
// and exit continuously) so that tests and benchmarks can measure collectors
// at realistic host sizes.
//
// The extra processes are copies of the running binary started in a child
// mode: a test's TestMain or a tool's main calls MaybeChild first, which
// never returns in a child. Every child is bounded three ways, so none is
// left behind even when the parent is killed with SIGKILL: it exits when the
// pipe from its parent reaches end of file, when the thread that started it
// dies (Pdeathsig), and at its own deadline. Start refuses a Spec that would
// bring the host near pid_max, threads-max, the cgroup's pids.max or
// RLIMIT_NPROC.
package hostload
