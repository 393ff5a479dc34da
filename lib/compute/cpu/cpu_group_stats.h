/*
 * cpu_group_stats.h: the double sums of GroupNorm's forward (cpu_norm.c) and
 * backward (cpu_groupnorm_backward.c), which must agree on the statistics
 * (numerics.md §4.4).
 *
 * Element i goes into lane i mod 8, each lane a double, and the lanes are added
 * pairwise: ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). The order
 * depends on the count alone (not on threads or the CPU), and the 8 chains run
 * side by side where one chain waited on each addition's latency. Private to
 * lib/.
 */
#ifndef OD_CPU_GROUP_STATS_H
#define OD_CPU_GROUP_STATS_H

#include <math.h>
#include <stdint.h>

#define OD_SUM_LANES 8

static inline double od_lanes_total(const double l[OD_SUM_LANES])
{
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* Σ x[i] */
static inline double od_sum_f64(const float *x, int64_t n)
{
	double l[OD_SUM_LANES] = { 0 };
	int64_t i = 0;
	for (; i + OD_SUM_LANES <= n; i += OD_SUM_LANES)
		for (int k = 0; k < OD_SUM_LANES; k++)
			l[k] += x[i + k];
	for (int k = 0; i < n; i++, k++)
		l[k] += x[i];
	return od_lanes_total(l);
}

/* Σ (x[i] − m)² */
static inline double od_sum_sq_dev_f64(const float *x, int64_t n, double m)
{
	double l[OD_SUM_LANES] = { 0 };
	int64_t i = 0;
	for (; i + OD_SUM_LANES <= n; i += OD_SUM_LANES)
		for (int k = 0; k < OD_SUM_LANES; k++) {
			double t = x[i + k] - m;
			l[k] += t * t;
		}
	for (int k = 0; i < n; i++, k++) {
		double t = x[i] - m;
		l[k] += t * t;
	}
	return od_lanes_total(l);
}

/* A group's mean and 1/√(σ² + ε) over its n values: the sums above in double,
 * then rounded to float once each. */
static inline void od_group_stats(const float *x, int64_t n, float eps, float *mean, float *rstd)
{
	const double m = od_sum_f64(x, n) / (double)n;
	*mean = (float)m;
	*rstd = (float)(1.0 / sqrt(od_sum_sq_dev_f64(x, n, m) / (double)n + eps));
}

#endif
