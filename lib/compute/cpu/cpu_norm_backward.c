/*
 * cpu_norm_backward.c: the backward passes of RMSNorm, LayerNorm and the
 * NextDiT's fused variants (modulation 1 + scale, tanh gate): numerics.md §11.8
 * (RMSNorm), §11.9 (LayerNorm), §11.12 (modulation and gates).
 *
 * With x̂ the normalised row (RMSNorm x·r, LayerNorm (x − μ)·r; r the row's
 * reciprocal root, recomputed exactly as the forward computes it), f the
 * per-column factor (1 + scale, tanh(gate) or 1) and g = dy·f·w:
 *
 *   RMSNorm:   dx = r·(g − x̂·mean(g·x̂))
 *   LayerNorm: dx = r·(g − mean(g) − x̂·mean(g·x̂))
 *   dw += Σ_rows dy·f·x̂,  db += Σ_rows dy·f,
 *   dscale += Σ_group dy·x̂·w,  dgate += (1 − tanh²(gate))·Σ_group dy·x̂·w.
 *
 * Determinism: rows are cut into tiles of ROWS rows that never straddle a group
 * (a frame, for the per-frame modulation); each tile sums its rows in order into
 * its own partial vectors, then the partials are added tile by tile in order (in
 * double). The tiling depends on M, D and the group only, never on the threads.
 * The row statistics are the forward's, the same sums in the same order
 * (cpu_row_stats.h).
 */
#include "compute/cpu/cpu_kernels.h"
#include "compute/cpu/cpu_simd.h"
#include "compute/cpu/cpu_row_stats.h"
#include "base/error.h"
#include "base/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 64

enum nb_kind { NB_RMS, NB_LN };
enum nb_mod { MOD_NONE, MOD_SCALE, MOD_GATE };

struct nb_job {
	float *dx;
	const float *dy, *x, *w, *mod;
	int64_t M, group, tpg; /* rows, rows per group, tiles per group */
	int D, ld, acc;
	float eps;
	enum nb_kind kind;
	enum nb_mod modk;
	float *pw, *pb, *pm; /* per-tile partials (ntiles × D) or NULL */
	int failed;
};

/*
 * One row, in 8-lane vectors (GCC vector extensions): the same code is compiled
 * for the baseline and, when the CPU has it, for AVX2 (nb_rows_avx2), and each
 * lane does the same IEEE operations either way, so both give the same bits.
 * The row statistics are the forward's (cpu_row_stats.h); Σ g and Σ g·x̂ are
 * accumulated in 8 float lanes, then added in a fixed order.
 */
typedef od_v8f v8f;
typedef float v4f __attribute__((vector_size(16), aligned(4), may_alias));
static inline __attribute__((always_inline)) void nb_row(const struct nb_job *j, int64_t r, const float *f,
							   const float *wv, const float *fw, float *xh, float *pw,
							   float *pb, float *pm)
{
	const int D = j->D, D8 = D & ~7;
	const float *x = j->x + r * D, *dy = j->dy + r * D;
	float mean = 0, rs;
	int d;
	/* the forward's statistics, the same sums (cpu_row_stats.h) */
	if (j->kind == NB_RMS) {
		rs = od_row_rms_factor(x, D, j->eps);
		for (d = 0; d < D8; d += 8)
			*(v8f *)(xh + d) = *(const v8f *)(x + d) * rs;
		for (; d < D; d++)
			xh[d] = x[d] * rs;
	} else {
		od_row_mean_rstd(x, D, j->eps, &mean, &rs);
		for (d = 0; d < D8; d += 8)
			*(v8f *)(xh + d) = (*(const v8f *)(x + d) - mean) * rs;
		for (; d < D; d++)
			xh[d] = (x[d] - mean) * rs;
	}
	/* g = dy·f·w: Σ g and Σ g·x̂; the parameter partials */
	v8f lg = { 0 }, lgx = { 0 };
	for (d = 0; d < D8; d += 8) {
		const v8f g = *(const v8f *)(dy + d) * *(const v8f *)(fw + d);
		lg += g;
		lgx += g * *(const v8f *)(xh + d);
	}
	float tg = 0, tgx = 0;
	for (; d < D; d++) {
		const float g = dy[d] * fw[d];
		tg += g;
		tgx += g * xh[d];
	}
	const double sg = ((((double)lg[0] + lg[4]) + ((double)lg[1] + lg[5])) +
			   (((double)lg[2] + lg[6]) + ((double)lg[3] + lg[7]))) + tg;
	const double sgx = ((((double)lgx[0] + lgx[4]) + ((double)lgx[1] + lgx[5])) +
			    (((double)lgx[2] + lgx[6]) + ((double)lgx[3] + lgx[7]))) + tgx;
	for (d = 0; d < D8; d += 8) {
		const v8f dyv = *(const v8f *)(dy + d), dyf = dyv * *(const v8f *)(f + d), xv = *(const v8f *)(xh + d);
		if (pw)
			*(v8f *)(pw + d) += dyf * xv;
		if (pb)
			*(v8f *)(pb + d) += dyf;
		if (pm)
			*(v8f *)(pm + d) += (dyv * xv) * *(const v8f *)(wv + d);
	}
	for (; d < D; d++) {
		if (pw)
			pw[d] += (dy[d] * f[d]) * xh[d];
		if (pb)
			pb[d] += dy[d] * f[d];
		if (pm)
			pm[d] += (dy[d] * xh[d]) * wv[d];
	}
	if (!j->dx)
		return;
	const float mg = j->kind == NB_LN ? (float)(sg / D) : 0.0f, mgx = (float)(sgx / D);
	float *dx = j->dx + r * D;
	for (d = 0; d < D8; d += 8) {
		const v8f v = rs * (*(const v8f *)(dy + d) * *(const v8f *)(fw + d) - mg - *(const v8f *)(xh + d) * mgx);
		if (j->acc)
			*(v8f *)(dx + d) += v;
		else
			*(v8f *)(dx + d) = v;
	}
	for (; d < D; d++) {
		const float v = rs * (dy[d] * fw[d] - mg - xh[d] * mgx);
		dx[d] = j->acc ? dx[d] + v : v;
	}
}

static void nb_rows_base(const struct nb_job *j, int64_t r0, int64_t r1, const float *f, const float *wv,
			 const float *fw, float *xh, float *pw, float *pb, float *pm)
{
	for (int64_t r = r0; r < r1; r++)
		nb_row(j, r, f, wv, fw, xh, pw, pb, pm);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void nb_rows_avx2(const struct nb_job *j, int64_t r0, int64_t r1,
							  const float *f, const float *wv, const float *fw, float *xh,
							  float *pw, float *pb, float *pm)
{
	for (int64_t r = r0; r < r1; r++)
		nb_row(j, r, f, wv, fw, xh, pw, pb, pm);
}
#endif

static void nb_tiles(void *p, int64_t t0, int64_t t1)
{
	struct nb_job *j = p;
	const int D = j->D;
	/* per tile: f the column factor, wv the weight (1 without one), fw = f·wv; per row: x̂ */
	float *f = od_cpu_thread_scratch(2, (size_t)4 * D);
	if (!f) {
		__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	float *xh = f + D, *wv = f + 2 * D, *fw = f + 3 * D;
	for (int64_t t = t0; t < t1; t++) {
		const int64_t grp = t / j->tpg, k = t % j->tpg;
		int64_t r0 = grp * j->group + k * ROWS, r1 = r0 + ROWS;
		if (r1 > (grp + 1) * j->group)
			r1 = (grp + 1) * j->group;
		if (r1 > j->M)
			r1 = j->M;
		float *pw = j->pw ? j->pw + t * D : NULL, *pb = j->pb ? j->pb + t * D : NULL,
		      *pm = j->pm ? j->pm + t * D : NULL;
		if (pw)
			memset(pw, 0, (size_t)D * sizeof *pw);
		if (pb)
			memset(pb, 0, (size_t)D * sizeof *pb);
		if (pm)
			memset(pm, 0, (size_t)D * sizeof *pm);
		/* the column factor of this group */
		const float *s = j->mod ? j->mod + grp * j->ld : NULL;
		for (int d = 0; d < D; d++) {
			f[d] = j->modk == MOD_SCALE ? 1.0f + s[d] : j->modk == MOD_GATE ? tanhf(s[d]) : 1.0f;
			wv[d] = j->w ? j->w[d] : 1.0f;
			fw[d] = f[d] * wv[d];
		}
#if defined(__x86_64__) && defined(__GNUC__)
		if (have_avx2()) {
			nb_rows_avx2(j, r0, r1, f, wv, fw, xh, pw, pb, pm);
			continue;
		}
#endif
		nb_rows_base(j, r0, r1, f, wv, fw, xh, pw, pb, pm);
	}
}

struct red_job {
	float *out;
	const float *part;
	const float *mod;  /* MOD_GATE: tanh'(gate) per group */
	int64_t tiles, tpg, ld;
	int D, per_group, gate;
};

/* out[g][d] += Σ_tiles part[t][d] (all tiles, or the tiles of group g), in tile order */
static void red_cols(void *p, int64_t i0, int64_t i1)
{
	const struct red_job *j = p;
	for (int64_t i = i0; i < i1; i++) {
		int64_t g = i / j->D;
		int d = (int)(i % j->D);
		int64_t ta = j->per_group ? g * j->tpg : 0, tb = j->per_group ? ta + j->tpg : j->tiles;
		double s = 0;
		for (int64_t t = ta; t < tb; t++)
			s += j->part[t * j->D + d];
		if (j->gate) {
			float th = tanhf(j->mod[g * j->ld + d]);
			s *= 1.0f - th * th;
		}
		float *o = j->out + (j->per_group ? g * j->ld : 0) + d;
		*o = (float)(*o + s);
	}
}

static int norm_backward(float *dx, float *dw, float *db, float *dmod, const float *dy, const float *x, int64_t M,
			 int D, const float *w, float eps, const float *mod, int ld, int64_t group, enum nb_kind kind,
			 enum nb_mod modk, int acc, const char *what)
{
	if (M <= 0 || D <= 0)
		return OD_OK;
	if (modk == MOD_NONE || group <= 0 || group > M)
		group = M;
	const int64_t groups = (M + group - 1) / group, tpg = (group + ROWS - 1) / ROWS, tiles = groups * tpg;
	if (!w)
		dw = NULL;
	if (modk == MOD_NONE)
		dmod = NULL;
	const int nparts = (dw != NULL) + (db != NULL) + (dmod != NULL);
	float *parts = NULL;
	if (nparts && !(parts = malloc((size_t)(tiles * D) * nparts * sizeof *parts)))
		return od_error(OD_ENOMEM, "%s: out of memory for the gradient partials", what);
	float *q = parts;
	struct nb_job j = { .dx = dx, .dy = dy, .x = x, .w = w, .mod = mod, .M = M, .group = group, .tpg = tpg, .D = D,
			    .ld = ld, .acc = acc, .eps = eps, .kind = kind, .modk = modk };
	if (dw)
		j.pw = q, q += tiles * D;
	if (db)
		j.pb = q, q += tiles * D;
	if (dmod)
		j.pm = q;
	od_parallel_for(tiles, nb_tiles, &j);
	if (j.failed) {
		free(parts);
		return od_error(OD_ENOMEM, "%s: out of memory for the row scratch", what);
	}
	if (dw) {
		struct red_job r = { dw, j.pw, NULL, tiles, tpg, ld, D, 0, 0 };
		od_parallel_for(D, red_cols, &r);
	}
	if (db) {
		struct red_job r = { db, j.pb, NULL, tiles, tpg, ld, D, 0, 0 };
		od_parallel_for(D, red_cols, &r);
	}
	if (dmod) {
		struct red_job r = { dmod, j.pm, mod, tiles, tpg, ld, D, 1, modk == MOD_GATE };
		od_parallel_for(groups * D, red_cols, &r);
	}
	free(parts);
	return OD_OK;
}

int od_cpu_rmsnorm_backward(struct od_ctx *c, float *dx, float *dw, const float *dy, const float *x, int64_t M, int D,
			    const float *w, float eps, int acc)
{
	return norm_backward(dx, dw, NULL, NULL, dy, x, M, D, w, eps, NULL, 0, 0, NB_RMS, MOD_NONE, acc,
			     "rmsnorm backward");
}

int od_cpu_layernorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
			      int64_t M, int D, const float *w, float eps, int acc)
{
	return norm_backward(dx, dw, db, NULL, dy, x, M, D, w, eps, NULL, 0, 0, NB_LN, MOD_NONE, acc,
			     "layernorm backward");
}

int od_cpu_rmsnorm_modulate_backward(struct od_ctx *c, float *dx, float *dw, float *dscale, const float *dy,
				     const float *x, int64_t M, int D, const float *w, float eps, const float *scale,
				     int ld, int64_t group, int acc)
{
	return norm_backward(dx, dw, NULL, dscale, dy, x, M, D, w, eps, scale, ld, group, NB_RMS, MOD_SCALE, acc,
			     "rmsnorm_modulate backward");
}

int od_cpu_layernorm_modulate_backward(struct od_ctx *c, float *dx, float *dscale, const float *dy, const float *x,
				       int64_t M, int D, float eps, const float *scale, int ld, int64_t group, int acc)
{
	return norm_backward(dx, NULL, NULL, dscale, dy, x, M, D, NULL, eps, scale, ld, group, NB_LN, MOD_SCALE, acc,
			     "layernorm_modulate backward");
}

int od_cpu_rmsnorm_gate_add_backward(struct od_ctx *c, float *da, float *dw, float *dgate, const float *dx,
				     const float *a, int64_t M, int D, const float *w, float eps, const float *gate,
				     int ld, int64_t group)
{
	return norm_backward(da, dw, NULL, dgate, dx, a, M, D, w, eps, gate, ld, group, NB_RMS, MOD_GATE, 0,
			     "rmsnorm_gate_add backward");
}
