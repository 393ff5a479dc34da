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

static void act_mul_b_blocks(void *p, int64_t b0, int64_t b1)
{
	const struct ewb_job *j = p;
	int64_t e = b1 * EW_BLOCK < j->n ? b1 * EW_BLOCK : j->n;
	for (int64_t i = b0 * EW_BLOCK; i < e; i++) {
		/* read everything first: da or db may alias dy */
		float dy = j->dy[i], a = j->a[i], b = j->b[i];
		if (j->da)
			j->da[i] = dy * b * od_act_grad_f(a, j->act);
		if (j->db)
			j->db[i] = dy * od_act_f(a, j->act);
	}
}

int od_cpu_act_mul_backward(struct od_ctx *c, float *da, float *db, const float *dy, const float *a, const float *b,
			    int64_t n, enum od_act act)
{
	struct ewb_job j = { .da = da, .db = db, .dy = dy, .a = a, .b = b, .n = n, .act = act };
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
