/*
 * cpu_norm.c: RMSNorm, LayerNorm and GroupNorm, and the NextDiT variants that
 * fuse them with adaLN modulation and tanh gates (numerics.md §2.4, §2.7, §4.1).
 *
 * Row statistics are accumulated in double (cpu_row_stats.h: eight lanes, an
 * order fixed by the width) and the normalised value is formed in
 * float32 in the order upstream uses: (x·rsqrt(ms + eps))·w, then ·(1 + scale).
 */
#include "compute/cpu/cpu_kernels.h"
#include "compute/cpu/cpu_group_stats.h"
#include "compute/cpu/cpu_row_stats.h"
#include "base/error.h"
#include "base/parallel.h"

#include <math.h>
#include <stdlib.h>

/* The row loops go eight lanes at a time (GCC vector extensions), each lane the
 * scalar tail's operations in its order, so the bits do not depend on where a
 * column falls. */
#define V(p) (*(od_v8f *)(p))
#define CV(p) (*(const od_v8f *)(p))

struct norm_job {
	float *y;
	const float *x, *w, *b, *scale, *gate;
	int D, ld;
	int64_t group;
	float eps;
};

static void rms_rows(void *p, int64_t r0, int64_t r1)
{
	const struct norm_job *j = p;
	for (int64_t r = r0; r < r1; r++) {
		const float *x = j->x + r * j->D;
		float *y = j->y + r * j->D;
		const float f = od_row_rms_factor(x, j->D, j->eps), *w = j->w;
		int d = 0;
		for (; d + 8 <= j->D; d += 8)
			V(y + d) = w ? (CV(x + d) * f) * CV(w + d) : CV(x + d) * f;
		for (; d < j->D; d++)
			y[d] = w ? (x[d] * f) * w[d] : x[d] * f;
	}
}

int od_cpu_rmsnorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, float eps)
{
	struct norm_job j = { .y = y, .x = x, .w = w, .D = D, .eps = eps };
	od_parallel_for(M, rms_rows, &j);
	return OD_OK;
}

static void ln_rows(void *p, int64_t r0, int64_t r1)
{
	const struct norm_job *j = p;
	for (int64_t r = r0; r < r1; r++) {
		const float *x = j->x + r * j->D;
		float *y = j->y + r * j->D;
		float m, rs;
		od_row_mean_rstd(x, j->D, j->eps, &m, &rs);
		int d = 0;
		for (; d + 8 <= j->D; d += 8) {
			od_v8f v = (CV(x + d) - m) * rs;
			if (j->w)
				v *= CV(j->w + d);
			if (j->b)
				v += CV(j->b + d);
			V(y + d) = v;
		}
		for (; d < j->D; d++) {
			float v = (x[d] - m) * rs;
			if (j->w)
				v *= j->w[d];
			if (j->b)
				v += j->b[d];
			y[d] = v;
		}
	}
}

int od_cpu_layernorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, const float *b,
		     float eps)
{
	struct norm_job j = { .y = y, .x = x, .w = w, .b = b, .D = D, .eps = eps };
	od_parallel_for(M, ln_rows, &j);
	return OD_OK;
}

struct gn_job {
	float *y;
	const float *x, *w, *b;
	int C, groups, silu;
	int64_t HW;
	float eps;
};

static void gn_groups(void *p, int64_t g0, int64_t g1)
{
	const struct gn_job *j = p;
	int cpg = j->C / j->groups;
	for (int64_t ng = g0; ng < g1; ng++) {
		int64_t n = ng / j->groups;
		int g = (int)(ng % j->groups);
		const float *x = j->x + (n * j->C + (int64_t)g * cpg) * j->HW;
		float *y = j->y + (n * j->C + (int64_t)g * cpg) * j->HW;
		int64_t cnt = (int64_t)cpg * j->HW;
		float mean, rstd;
		od_group_stats(x, cnt, j->eps, &mean, &rstd);
		for (int ci = 0; ci < cpg; ci++) {
			int ch = g * cpg + ci;
			float wc = j->w ? j->w[ch] : 1.0f, bc = j->b ? j->b[ch] : 0.0f;
			const float *xc = x + ci * j->HW;
			float *yc = y + ci * j->HW;
			for (int64_t i = 0; i < j->HW; i++) {
				float v = (xc[i] - mean) * rstd * wc + bc;
				yc[i] = j->silu ? od_silu_f(v) : v;
			}
		}
	}
}

int od_cpu_groupnorm(struct od_ctx *c, float *y, const float *x, int N, int C, int64_t HW, int groups,
		     const float *w, const float *b, float eps, int silu)
{
	if (groups <= 0 || C % groups)
		return od_error(OD_EINVAL, "groupnorm: %d channels in %d groups", C, groups);
	struct gn_job j = { y, x, w, b, C, groups, silu, HW, eps };
	od_parallel_for((int64_t)N * groups, gn_groups, &j);
	return OD_OK;
}

static void rms_mod_rows(void *p, int64_t r0, int64_t r1)
{
	const struct norm_job *j = p;
	for (int64_t r = r0; r < r1; r++) {
		const float *x = j->x + r * j->D, *s = j->scale + (r / j->group) * j->ld;
		float *y = j->y + r * j->D;
		const float f = od_row_rms_factor(x, j->D, j->eps);
		int d = 0;
		for (; d + 8 <= j->D; d += 8)
			V(y + d) = ((CV(x + d) * f) * CV(j->w + d)) * (1.0f + CV(s + d));
		for (; d < j->D; d++)
			y[d] = ((x[d] * f) * j->w[d]) * (1.0f + s[d]);
	}
}

int od_cpu_rmsnorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
			    float eps, const float *scale, int ld, int64_t group)
{
	struct norm_job j = { .y = y, .x = x, .w = w, .scale = scale, .D = D, .ld = ld, .group = group, .eps = eps };
	od_parallel_for(M, rms_mod_rows, &j);
	return OD_OK;
}

static void ln_mod_rows(void *p, int64_t r0, int64_t r1)
{
	const struct norm_job *j = p;
	for (int64_t r = r0; r < r1; r++) {
		const float *x = j->x + r * j->D, *s = j->scale + (r / j->group) * j->ld;
		float *y = j->y + r * j->D;
		float m, rs;
		od_row_mean_rstd(x, j->D, j->eps, &m, &rs);
		int d = 0;
		for (; d + 8 <= j->D; d += 8)
			V(y + d) = ((CV(x + d) - m) * rs) * (1.0f + CV(s + d));
		for (; d < j->D; d++)
			y[d] = ((x[d] - m) * rs) * (1.0f + s[d]);
	}
}

int od_cpu_layernorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, float eps,
			      const float *scale, int ld, int64_t group)
{
	struct norm_job j = { .y = y, .x = x, .scale = scale, .D = D, .ld = ld, .group = group, .eps = eps };
	od_parallel_for(M, ln_mod_rows, &j);
	return OD_OK;
}

/* The gate is one vector per group (a frame: 1024 rows at 512²), so its tanh
 * is taken once per group and call, before the rows (per element it was 2% of
 * a NextDiT forward; per part of the thread pool's range, 1%). */
static void gate_tanh_groups(void *p, int64_t g0, int64_t g1)
{
	const struct norm_job *j = p;
	for (int64_t g = g0; g < g1; g++)
		for (int d = 0; d < j->D; d++)
			j->y[g * j->D + d] = tanhf(j->gate[g * j->ld + d]);
}

static void rms_gate_rows(void *p, int64_t r0, int64_t r1)
{
	const struct norm_job *j = p; /* scale: the gates' tanh, D per group */
	for (int64_t r = r0; r < r1; r++) {
		const float *a = j->x + r * j->D, *tg = j->scale + r / j->group * j->D;
		float *x = j->y + r * j->D;
		const float f = od_row_rms_factor(a, j->D, j->eps);
		int d = 0;
		for (; d + 8 <= j->D; d += 8)
			V(x + d) += CV(tg + d) * ((CV(a + d) * f) * CV(j->w + d));
		for (; d < j->D; d++)
			x[d] += tg[d] * ((a[d] * f) * j->w[d]);
	}
}

int od_cpu_rmsnorm_gate_add(struct od_ctx *c, float *x, const float *a, int64_t M, int D, const float *w,
			    float eps, const float *gate, int ld, int64_t group)
{
	const int64_t groups = (M + group - 1) / group;
	float *tg = malloc(sizeof(float) * (size_t)(groups * D));
	if (!tg)
		return od_error(OD_ENOMEM, "rmsnorm gate: out of memory for %lld gates", (long long)(groups * D));
	struct norm_job t = { .y = tg, .gate = gate, .D = D, .ld = ld };
	od_parallel_for(groups, gate_tanh_groups, &t);
	struct norm_job j = { .y = x, .x = a, .w = w, .scale = tg, .D = D, .group = group, .eps = eps };
	od_parallel_for(M, rms_gate_rows, &j);
	free(tg);
	return OD_OK;
}
