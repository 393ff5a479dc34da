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
 * per-channel dw, db sums (in double) and the group means run in a fixed order
 * whatever the thread count.
 */
#include "compute/cpu/cpu_kernels.h"
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
			double s = 0, ss = 0;
			for (int64_t i = 0; i < cnt; i++)
				s += x[i];
			double m = s / (double)cnt;
			for (int64_t i = 0; i < cnt; i++) {
				double t = x[i] - m;
				ss += t * t;
			}
			const float mean = (float)m, rstd = (float)(1.0 / sqrt(ss / (double)cnt + j->eps));
			double a = 0, bsum = 0; /* Σ gh, Σ gh·x̂ */
			for (int ci = 0; ci < cpg; ci++) {
				const int ch = (int)g * cpg + ci;
				const float wc = j->w ? j->w[ch] : 1.0f, bc = j->b ? j->b[ch] : 0.0f;
				const float *xc = x + ci * j->HW, *dc = dy + ci * j->HW;
				double cw = 0, cb = 0;
				for (int64_t i = 0; i < j->HW; i++) {
					float xh = (xc[i] - mean) * rstd, gr = affine_grad(dc[i], xh, wc, bc, j->silu);
					cw += (double)gr * xh;
					cb += gr;
				}
				sw[ci] += cw;
				sb[ci] += cb;
				a += cb * wc;
				bsum += cw * wc;
			}
			const float ma = (float)(a / (double)cnt), mb = (float)(bsum / (double)cnt);
			float *dx = j->dx + off;
			for (int ci = 0; ci < cpg; ci++) {
				const int ch = (int)g * cpg + ci;
				const float wc = j->w ? j->w[ch] : 1.0f, bc = j->b ? j->b[ch] : 0.0f;
				const float *xc = x + ci * j->HW, *dc = dy + ci * j->HW;
				float *o = dx + ci * j->HW;
				for (int64_t i = 0; i < j->HW; i++) {
					float xh = (xc[i] - mean) * rstd, gh = affine_grad(dc[i], xh, wc, bc, j->silu) * wc;
					o[i] = rstd * (gh - ma - xh * mb); /* o may alias dc: dc[i] is read first */
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
