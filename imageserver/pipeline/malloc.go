package pipeline

// #include <malloc.h>
import "C"

// tuneMalloc sets glibc's malloc for a process that allocates many large,
// short-lived pixel buffers from a few threads, as MALLOC_ARENA_MAX and
// MALLOC_MMAP_THRESHOLD_ would if they were set before the process started:
// few arenas (the default of 8 per core multiplies retained memory), and a
// fixed mmap threshold, so that buffers of 4 MiB or more (a decoded source) are always
// mapped and unmapped rather than kept in the heap once freed (glibc's
// dynamic threshold otherwise rises to the largest buffer freed).
func tuneMalloc(arenas, mmapThreshold int) {
	C.mallopt(C.M_ARENA_MAX, C.int(arenas))
	C.mallopt(C.M_MMAP_THRESHOLD, C.int(mmapThreshold))
}
