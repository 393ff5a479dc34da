/*
 * parallel.h: a small thread pool for the CPU kernels.
 *
 * od_parallel_for(n, fn, arg) splits [0, n) into contiguous parts, up to
 * OD_PARALLEL_PARTS per thread, and runs fn(arg, begin, end) on each: the
 * threads (the caller's one of them) take the next part as they become free.
 * Why not one range per thread: on a shared machine a core is slowed down by
 * other processes for a while, and its thread's range then kept the others
 * waiting (5-6% of a NextDiT step's threaded time on 2 shared cores; 1-2%
 * with parts taken in turn). Idle workers sleep on a condition variable (no
 * spinning), so they never steal the cores OpenBLAS is using between calls.
 * Work inside fn must not depend on how the range was split or who runs a
 * part: that keeps results identical for every thread count.
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

#define OD_PARALLEL_PARTS 64

void od_parallel_for(int64_t n, void (*fn)(void *arg, int64_t begin, int64_t end), void *arg);

/* Since the process started, the seconds spent inside od_parallel_for calls
 * that used several threads (wall clock, times the threads they used) and the
 * part of those thread-seconds spent running fn: 1 − busy/wall is the
 * fraction the threads sat waiting for each other (bench/dit-step prints it). */
void od_parallel_usage(double *wall, double *busy);

#endif
