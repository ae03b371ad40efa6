// How the C library's allocator treats the large, short-lived buffers of a training step.
#include "RecurrentKernels.h"

#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int rk_keep_freed_memory(void) {
#if defined(__GLIBC__)
    // Settings the user made through the environment win.
    const char *tunables = getenv("GLIBC_TUNABLES");
    if ((tunables && strstr(tunables, "malloc")) || getenv("MALLOC_MMAP_THRESHOLD_") || getenv("MALLOC_TRIM_THRESHOLD_"))
        return 0;
    // glibc maps each block above the mmap threshold (128 KB at first, raised only as blocks are
    // freed) afresh and returns it on free, and gives back the top of the heap once 2 x that
    // threshold is free there. A training step allocates and frees tens of MB, so each step would
    // fault every page of them in again and zero it. Blocks up to 32 MB (glibc's largest
    // threshold) come from the heap instead, and up to 256 MB of free heap stays for reuse.
    if (mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1) return 0;
    if (mallopt(M_TRIM_THRESHOLD, 256 << 20) != 1) return 0;
    return 1;
#else
    return 0;
#endif
}
