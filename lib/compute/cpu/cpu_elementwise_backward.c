/*
 * cpu_elementwise_backward.c: the backward passes of the elementwise kernels
 * the NextDiT uses: activations and the gated product of the SwiGLU
 * feed-forward, RoPE (the transposed rotation, numerics.md §11.11) and the
 * cross-attention's per-head tanh gate (§11.12).
 *
 * Elementwise work needs no care for determinism; the one reduction (the gate's
 * gradient, a sum over all rows) is taken per fixed tile of ROWS rows, then the
 * tiles in order.
 */
#include "compute/cpu/cpu_kernels.h"
#include "compute/cpu/cpu_simd.h"
#include "base/error.h"
#include "base/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float od_act_grad_f(float x, enum od_act a)
{
	switch (a) {
	case OD_ACT_SILU: { /* silu' = σ·(1 + x·(1 − σ)) */
		float s = 1.0f / (1.0f + expf(-x));
		return s * (1.0f + x * (1.0f - s));
	}
	case OD_ACT_GELU_TANH: {
		const float k = 0.7978845608028654f, c = 0.044715f;
		float t = tanhf(k * (x + c * x * x * x));
		return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * c * x * x);
	}
	case OD_ACT_GELU:
		return 0.5f * (1.0f + erff(x * 0.7071067811865476f)) + x * 0.3989422804014327f * expf(-0.5f * x * x);
	case OD_ACT_RELU:
		return x > 0 ? 1.0f : 0.0f;
	default:
		return 1.0f;
	}
}

#define EW_BLOCK 16384

struct ewb_job {
	float *da, *db;
	const float *dy, *a, *b;
	int64_t n;
	enum od_act act;
};

static void act_b_blocks(void *p, int64_t b0, int64_t b1)
{
	const struct ewb_job *j = p;
	int64_t e = b1 * EW_BLOCK < j->n ? b1 * EW_BLOCK : j->n;
	for (int64_t i = b0 * EW_BLOCK; i < e; i++)
		j->da[i] = j->dy[i] * od_act_grad_f(j->a[i], j->act);
}

int od_cpu_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a)
{
	struct ewb_job j = { .da = dx, .dy = dy, .a = x, .n = n, .act = a };
	od_parallel_for((n + EW_BLOCK - 1) / EW_BLOCK, act_b_blocks, &j);
	return OD_OK;
}

/*
 * SwiGLU's product y = silu(a)·b, backward, fused: with σ = 1/(1 + exp(−a)) (od_expf,
 * the argument clamped at 88 so that very negative a gives σ = 0 rather than
 * overflow), silu = a·σ and silu' = σ·(1 + a·(1 − σ)):
 *   da = (dy·b)·silu',  db = dy·silu,  y = silu·b.
 * One exponential per element; the AVX2 path evaluates the same operations in
 * the same order (no fused multiply-adds), so both give the same bits.
 */
static inline void silu_mul_b1(float dy, float a, float b, float *da, float *db, float *y)
{
	const float e = od_expf(-a < 88.0f ? -a : 88.0f), s = 1.0f / (1.0f + e), si = a * s;
	const float g = s * (1.0f + a * (1.0f - s));
	if (da)
		*da = (dy * b) * g;
	if (db)
		*db = dy * si;
	if (y)
		*y = si * b;
}

struct ewb3_job {
	float *da, *db, *y;
	const float *dy, *a, *b;
	int64_t n;
	enum od_act act;
};

#ifdef HAVE_AVX2_PATH
__attribute__((target("avx2,fma"))) static void silu_mul_b8(const struct ewb3_job *j, int64_t i0, int64_t i1)
{
	const __m256 one = _mm256_set1_ps(1.0f), cap = _mm256_set1_ps(88.0f), neg = _mm256_set1_ps(-0.0f);
	int64_t i = i0;
	for (; i + 8 <= i1; i += 8) {
		const __m256 a = _mm256_loadu_ps(j->a + i), b = _mm256_loadu_ps(j->b + i), dy = _mm256_loadu_ps(j->dy + i);
		const __m256 e = exp8(_mm256_min_ps(_mm256_xor_ps(a, neg), cap));
		const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e)), si = _mm256_mul_ps(a, s);
		const __m256 g = _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(a, _mm256_sub_ps(one, s))));
		if (j->da)
			_mm256_storeu_ps(j->da + i, _mm256_mul_ps(_mm256_mul_ps(dy, b), g));
		if (j->db)
			_mm256_storeu_ps(j->db + i, _mm256_mul_ps(dy, si));
		if (j->y)
			_mm256_storeu_ps(j->y + i, _mm256_mul_ps(si, b));
	}
	for (; i < i1; i++)
		silu_mul_b1(j->dy[i], j->a[i], j->b[i], j->da ? j->da + i : NULL, j->db ? j->db + i : NULL,
			    j->y ? j->y + i : NULL);
}
#endif

static void act_mul_b_blocks(void *p, int64_t b0, int64_t b1)
{
	const struct ewb3_job *j = p;
	const int64_t s = b0 * EW_BLOCK, e = b1 * EW_BLOCK < j->n ? b1 * EW_BLOCK : j->n;
	if (j->act == OD_ACT_SILU) {
#ifdef HAVE_AVX2_PATH
		if (have_avx2()) {
			silu_mul_b8(j, s, e);
			return;
		}
#endif
		for (int64_t i = s; i < e; i++)
			silu_mul_b1(j->dy[i], j->a[i], j->b[i], j->da ? j->da + i : NULL, j->db ? j->db + i : NULL,
				    j->y ? j->y + i : NULL);
		return;
	}
	for (int64_t i = s; i < e; i++) {
		/* read everything first: the outputs may alias the inputs */
		const float dy = j->dy[i], a = j->a[i], b = j->b[i], f = od_act_f(a, j->act);
		if (j->da)
			j->da[i] = dy * b * od_act_grad_f(a, j->act);
		if (j->db)
			j->db[i] = dy * f;
		if (j->y)
			j->y[i] = f * b;
	}
}

int od_cpu_act_mul_backward(struct od_ctx *c, float *da, float *db, float *y, const float *dy, const float *a,
			    const float *b, int64_t n, enum od_act act)
{
	struct ewb3_job j = { da, db, y, dy, a, b, n, act };
	od_parallel_for((n + EW_BLOCK - 1) / EW_BLOCK, act_mul_b_blocks, &j);
	return OD_OK;
}

struct rope_job {
	float *x;
	const float *cs;
	int heads, hd, ld;
};

/* (a, b) -> (a·cos + b·sin, −a·sin + b·cos): the rotation by −φ, the transpose of
 * the forward's (§11.11) */
static void rope_b_rows(void *p, int64_t r0, int64_t r1)
{
	const struct rope_job *j = p;
	int pairs = j->hd / 2;
	for (int64_t m = r0; m < r1; m++) {
		const float *cs = j->cs + m * pairs * 2;
		for (int h = 0; h < j->heads; h++) {
			float *x = j->x + m * j->ld + (int64_t)h * j->hd;
			for (int q = 0; q < pairs; q++) {
				float a = x[2 * q], b = x[2 * q + 1], co = cs[2 * q], si = cs[2 * q + 1];
				x[2 * q] = a * co + b * si;
				x[2 * q + 1] = b * co - a * si;
			}
		}
	}
}

int od_cpu_rope_backward(struct od_ctx *c, float *dx, int64_t M, int heads, int head_dim, int ld,
			 const float *cos_sin)
{
	struct rope_job j = { dx, cos_sin, heads, head_dim, ld };
	od_parallel_for(M, rope_b_rows, &j);
	return OD_OK;
}

#define ROWS 64

struct hg_job {
	float *dy, *part;
	const float *dout, *y, *gate;
	int64_t M;
	int heads, hd;
};

static void hg_b_tiles(void *p, int64_t t0, int64_t t1)
{
	const struct hg_job *j = p;
	for (int64_t t = t0; t < t1; t++) {
		int64_t r0 = t * ROWS, r1 = r0 + ROWS < j->M ? r0 + ROWS : j->M;
		float *part = j->part ? j->part + t * j->heads : NULL;
		if (part)
			memset(part, 0, (size_t)j->heads * sizeof *part);
		for (int64_t m = r0; m < r1; m++)
			for (int h = 0; h < j->heads; h++) {
				const float tg = tanhf(j->gate[h]);
				const float *d = j->dout + (m * j->heads + h) * j->hd, *y = j->y + (m * j->heads + h) * j->hd;
				float *dy = j->dy ? j->dy + (m * j->heads + h) * j->hd : NULL;
				float s = 0;
				for (int e = 0; e < j->hd; e++) {
					s += d[e] * y[e];
					if (dy)
						dy[e] = tg * d[e];
				}
				if (part)
					part[h] += s;
			}
	}
}

int od_cpu_head_gate_add_backward(struct od_ctx *c, float *dy, float *dgate, const float *dout, const float *y,
				  int64_t M, int heads, int head_dim, const float *gate)
{
	if (M <= 0)
		return OD_OK;
	const int64_t tiles = (M + ROWS - 1) / ROWS;
	float *part = NULL;
	if (dgate && !(part = malloc((size_t)(tiles * heads) * sizeof *part)))
		return od_error(OD_ENOMEM, "head_gate_add backward: out of memory");
	struct hg_job j = { dy, part, dout, y, gate, M, heads, head_dim };
	od_parallel_for(tiles, hg_b_tiles, &j);
	if (dgate)
		for (int h = 0; h < heads; h++) {
			double s = 0;
			for (int64_t t = 0; t < tiles; t++)
				s += part[t * heads + h];
			float tg = tanhf(gate[h]);
			dgate[h] = (float)(dgate[h] + s * (1.0f - tg * tg));
		}
	free(part);
	return OD_OK;
}
