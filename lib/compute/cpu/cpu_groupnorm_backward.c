/*
 * cpu_groupnorm_backward.c: GroupNorm's backward, with the affine transform and
 * the fused SiLU (numerics.md §12.3.2).
 *
 * Forward (cpu_norm.c): per (image n, group g) over its m = (C/groups)·HW values,
 * mean μ and rstd r in double; x̂ = (x − μ)·r; v = x̂·w + b; y = silu(v) or v.
 * Backward, with g = dy·silu'(v) (or dy):
 *   db[c] += Σ g,   dw[c] += Σ g·x̂,   gh = g·w,
 *   dx = r·(gh − mean(gh) − x̂·mean(gh·x̂))        (means over the group's m values)
 * silu'(v) = σ(v)·(1 + v·(1 − σ(v))).
 *
 * Determinism: one work item per group, walking the images in order, so the
 * per-channel dw, db sums (in double, 8 lanes as cpu_group_stats.h adds them)
 * and the group means run in a fixed order whatever the thread count. g is
 * computed once (one exp per value) and kept in dx between the two passes.
 */
#include "compute/cpu/cpu_kernels.h"
#include "compute/cpu/cpu_group_stats.h"
#include "base/error.h"
#include "base/parallel.h"

#include <math.h>

struct gnb_job {
	float *dx, *dw, *db;
	const float *dy, *x, *w, *b;
	int N, C, groups, silu;
	int64_t HW;
	float eps;
};

/* The upstream gradient at the affine output: dy, times silu'(v) when fused. */
static inline float affine_grad(float dy, float xh, float wc, float bc, int silu)
{
	if (!silu)
		return dy;
	float v = xh * wc + bc, s = 1.0f / (1.0f + expf(-v));
	return dy * (s * (1.0f + v * (1.0f - s)));
}

/* One value of the first pass: g into *o, and its terms of Σ g·x̂ and Σ g
 * into one lane each. */
static inline void lane_add(double *lw, double *lb, float *o, float dy, float x, float mean, float rstd, float wc,
			    float bc, int silu)
{
	const float xh = (x - mean) * rstd, gr = affine_grad(dy, xh, wc, bc, silu);
	*o = gr;
	*lw += (double)gr * xh;
	*lb += gr;
}

static void gnb_groups(void *p, int64_t g0, int64_t g1)
{
	const struct gnb_job *j = p;
	const int cpg = j->C / j->groups;
	for (int64_t g = g0; g < g1; g++) {
		double sw[cpg > 0 ? cpg : 1], sb[cpg > 0 ? cpg : 1];
		for (int ci = 0; ci < cpg; ci++)
			sw[ci] = sb[ci] = 0;
		for (int n = 0; n < j->N; n++) {
			const int64_t off = ((int64_t)n * j->C + g * cpg) * j->HW, cnt = (int64_t)cpg * j->HW;
			const float *x = j->x + off, *dy = j->dy + off;
			/* the forward's statistics, computed the same way (cpu_norm.c) */
			float mean, rstd;
			od_group_stats(x, cnt, j->eps, &mean, &rstd);
			float *dx = j->dx + off;
			double a = 0, bsum = 0; /* Σ gh, Σ gh·x̂ */
			for (int ci = 0; ci < cpg; ci++) {
				const int ch = (int)g * cpg + ci;
				const float wc = j->w ? j->w[ch] : 1.0f, bc = j->b ? j->b[ch] : 0.0f;
				const float *xc = x + ci * j->HW, *dc = dy + ci * j->HW;
				float *o = dx + ci * j->HW;
				/* g is kept in dx for the second pass (dx may alias dy: dc[i]
				 * is read before o[i] is written) */
				double lw[OD_SUM_LANES] = { 0 }, lb[OD_SUM_LANES] = { 0 };
				int64_t i = 0;
				for (; i + OD_SUM_LANES <= j->HW; i += OD_SUM_LANES)
					for (int k = 0; k < OD_SUM_LANES; k++)
						lane_add(&lw[k], &lb[k], &o[i + k], dc[i + k], xc[i + k], mean, rstd, wc, bc, j->silu);
				for (int k = 0; i < j->HW; i++, k++)
					lane_add(&lw[k], &lb[k], &o[i], dc[i], xc[i], mean, rstd, wc, bc, j->silu);
				const double cw = od_lanes_total(lw), cb = od_lanes_total(lb);
				sw[ci] += cw;
				sb[ci] += cb;
				a += cb * wc;
				bsum += cw * wc;
			}
			const float ma = (float)(a / (double)cnt), mb = (float)(bsum / (double)cnt);
			for (int ci = 0; ci < cpg; ci++) {
				const int ch = (int)g * cpg + ci;
				const float wc = j->w ? j->w[ch] : 1.0f;
				const float *xc = x + ci * j->HW;
				float *o = dx + ci * j->HW;
				for (int64_t i = 0; i < j->HW; i++) {
					float xh = (xc[i] - mean) * rstd, gh = o[i] * wc;
					o[i] = rstd * (gh - ma - xh * mb);
				}
			}
		}
		for (int ci = 0; ci < cpg; ci++) {
			const int ch = (int)g * cpg + ci;
			if (j->dw)
				j->dw[ch] += (float)sw[ci];
			if (j->db)
				j->db[ch] += (float)sb[ci];
		}
	}
}

int od_cpu_groupnorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
			      int N, int C, int64_t HW, int groups, const float *w, const float *b, float eps, int silu)
{
	if (groups <= 0 || C % groups)
		return od_error(OD_EINVAL, "groupnorm backward: %d channels in %d groups", C, groups);
	if ((dw && !w) || (db && !b))
		return od_error(OD_EINVAL, "groupnorm backward: a weight gradient without the weight");
	struct gnb_job j = { dx, dw, db, dy, x, w, b, N, C, groups, silu, HW, eps };
	od_parallel_for(groups, gnb_groups, &j);
	return OD_OK;
}
