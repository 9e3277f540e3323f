package pipeline

// #include <malloc.h>
import "C"

// limitMallocArenas caps glibc's malloc arenas, as MALLOC_ARENA_MAX would if
// it were set before the process started: the default of 8 per core keeps
// freed pixel buffers in many arenas and inflates RSS.
//
// A fixed mmap threshold (MALLOC_MMAP_THRESHOLD_), so that the decoded
// source (9 MB for a 12 MP JPEG at shrink 2) goes back to the kernel when
// freed, was measured too: peak RSS after 60 s of overload fell from
// 261-285 MB to 170 MB, but page faults cost 10-30 ms more CPU per
// transform on this VM. CPU per transform is the scarcer budget (130 ms),
// so glibc's dynamic threshold stays.
func limitMallocArenas(n int) {
	C.mallopt(C.M_ARENA_MAX, C.int(n))
}
