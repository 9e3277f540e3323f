package pipeline

// #include <malloc.h>
import "C"

// limitMallocArenas caps glibc's malloc arenas, as MALLOC_ARENA_MAX would
// if it were set before the process started.
func limitMallocArenas(n int) {
	C.mallopt(C.M_ARENA_MAX, C.int(n))
}
