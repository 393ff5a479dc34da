/*
 * cpu_row_stats.h: the double sums behind a row's RMSNorm and LayerNorm
 * statistics, shared by the forward (cpu_norm.c) and the backward
 * (cpu_norm_backward.c), which recomputes them: both get the same bits
 * (numerics.md §2.4).
 *
 * Element d of a row goes into lane d mod 8 (GCC vector extensions: two
 * 4-double vectors), the lanes are added ((l0 + l4) + (l1 + l5)) + ((l2 + l6) +
 * (l3 + l7)), and the D mod 8 last elements are summed in order apart and added
 * last. The order depends on D alone, and the eight chains run side by side
 * where one chain waited on each addition's latency. Each lane does the same
 * IEEE operations whether the code is compiled for the baseline or for AVX2,
 * so both give the same bits. Private to lib/.
 */
#ifndef OD_CPU_ROW_STATS_H
#define OD_CPU_ROW_STATS_H

#include <math.h>

typedef float od_v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double od_v4d __attribute__((vector_size(32), aligned(8), may_alias));

#define OD_ROW_INLINE static inline __attribute__((always_inline))

/* The helpers take vectors by pointer: a 32-byte vector passed by value has
 * another ABI with AVX than without (clang's -Wpsabi, in the baseline build). */
OD_ROW_INLINE double od_row_lanes(const od_v4d *a, const od_v4d *b)
{
	const od_v4d x = *a, y = *b;
	return ((x[0] + y[0]) + (x[1] + y[1])) + ((x[2] + y[2]) + (x[3] + y[3]));
}

/* the eight floats at p as two 4-double halves, minus m */
OD_ROW_INLINE void od_row_widen(const float *p, double m, od_v4d *lo, od_v4d *hi)
{
	const od_v8f v = *(const od_v8f *)p;
	const od_v4d mv = { m, m, m, m };
	*lo = __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3), od_v4d) - mv;
	*hi = __builtin_convertvector(__builtin_shufflevector(v, v, 4, 5, 6, 7), od_v4d) - mv;
}

/* Σ x[d] */
OD_ROW_INLINE double od_row_sum(const float *x, int D)
{
	od_v4d a = { 0 }, b = { 0 }, lo, hi;
	double tail = 0;
	int d = 0;
	for (; d + 8 <= D; d += 8) {
		od_row_widen(x + d, 0, &lo, &hi);
		a += lo, b += hi;
	}
	for (; d < D; d++)
		tail += x[d];
	return od_row_lanes(&a, &b) + tail;
}

/* Σ (x[d] − m)²; with m = 0, Σ x[d]² exactly (x − 0 is x) */
OD_ROW_INLINE double od_row_sum_sq_dev(const float *x, int D, double m)
{
	od_v4d a = { 0 }, b = { 0 }, lo, hi;
	double tail = 0;
	int d = 0;
	for (; d + 8 <= D; d += 8) {
		od_row_widen(x + d, m, &lo, &hi);
		a += lo * lo, b += hi * hi;
	}
	for (; d < D; d++)
		tail += (x[d] - m) * (x[d] - m);
	return od_row_lanes(&a, &b) + tail;
}

/* RMSNorm's 1/√(mean(x²) + ε) */
OD_ROW_INLINE float od_row_rms_factor(const float *x, int D, float eps)
{
	return 1.0f / sqrtf((float)(od_row_sum_sq_dev(x, D, 0) / D) + eps);
}

/* LayerNorm's mean and 1/√(σ² + ε) */
OD_ROW_INLINE void od_row_mean_rstd(const float *x, int D, float eps, float *mean, float *rstd)
{
	const double m = od_row_sum(x, D) / D;
	*mean = (float)m;
	*rstd = (float)(1.0 / sqrt(od_row_sum_sq_dev(x, D, m) / D + eps));
}

#endif
