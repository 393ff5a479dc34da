/*
 * parallel.h: a small thread pool for the CPU kernels.
 *
 * od_parallel_for(n, fn, arg) splits [0, n) into one contiguous range per thread
 * and runs fn(arg, begin, end) on each; the caller's thread takes the first range.
 * Idle workers sleep on a condition variable (no spinning), so they never steal
 * the cores OpenBLAS is using between calls. Work inside fn must not depend on
 * how the range was split: that keeps results identical for every thread count.
 * A call made from inside fn runs serially.
 */
#ifndef OD_PARALLEL_H
#define OD_PARALLEL_H

#include <stdint.h>

/* Number of threads used by od_parallel_for. */
int od_threads(void);
/* Set it (n <= 0: all online CPUs). OpenBLAS itself is kept to one thread:
 * the CPU kernels split their work into shape-determined tiles instead, which
 * keeps results identical for every thread count. */
void od_set_threads(int n);
/* Online CPUs available to this process. */
int od_cpu_count(void);

void od_parallel_for(int64_t n, void (*fn)(void *arg, int64_t begin, int64_t end), void *arg);

#endif
