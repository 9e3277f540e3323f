package pipeline

// #include <malloc.h>
import "C"

// limitMallocArenas caps glibc's malloc arenas, as MALLOC_ARENA_MAX would if
// it were set before the process started: the default of 8 per core keeps
// freed pixel buffers in many arenas and inflates RSS. A fixed mmap
// threshold (so that large buffers go back to the kernel when freed) was
// measured too: 12-30 MB less peak RSS for 10-15 ms more CPU per 12 MP
// transform in page faults; CPU is the scarcer budget, so it is not set.
func limitMallocArenas(n int) {
	C.mallopt(C.M_ARENA_MAX, C.int(n))
}
