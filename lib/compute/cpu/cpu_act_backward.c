/*
 * cpu_act_backward.c: dx = dy·act'(x) for every activation of enum od_act
 * (doc/vae-training.md §3.3), the derivatives of od_act_f's formulas:
 *   SiLU        σ(x)·(1 + x·(1 − σ(x)))
 *   GELU (tanh) 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3·0.044715·x²),  t = tanh(c·(x + 0.044715·x³)), c = √(2/π)
 *   GELU (erf)  Φ(x) + x·φ(x)
 *   ReLU        1 for x > 0, else 0 (torch's choice at 0)
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/parallel.h"

#include <math.h>

float od_act_grad_f(float x, enum od_act a)
{
	switch (a) {
	case OD_ACT_SILU: {
		float s = 1.0f / (1.0f + expf(-x));
		return s * (1.0f + x * (1.0f - s));
	}
	case OD_ACT_GELU_TANH: {
		const float c = 0.7978845608028654f;
		float t = tanhf(c * (x + 0.044715f * x * x * x));
		return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * 0.044715f * x * x);
	}
	case OD_ACT_GELU:
		return 0.5f * (1.0f + erff(x * 0.7071067811865476f)) + x * 0.3989422804014327f * expf(-0.5f * x * x);
	case OD_ACT_RELU:
		return x > 0 ? 1.0f : 0.0f;
	default:
		return 1.0f;
	}
}

struct actb_job {
	float *dx;
	const float *dy, *x;
	enum od_act a;
};

static void actb_range(void *p, int64_t i0, int64_t i1)
{
	const struct actb_job *j = p;
	for (int64_t i = i0; i < i1; i++)
		j->dx[i] = j->dy[i] * od_act_grad_f(j->x[i], j->a);
}

#define BLOCK 16384

struct blk {
	struct actb_job *j;
	int64_t n;
};

static void actb_blocks(void *p, int64_t b0, int64_t b1)
{
	const struct blk *b = p;
	actb_range(b->j, b0 * BLOCK, b1 * BLOCK < b->n ? b1 * BLOCK : b->n);
}

int od_cpu_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a)
{
	struct actb_job j = { dx, dy, x, a };
	struct blk b = { &j, n };
	od_parallel_for((n + BLOCK - 1) / BLOCK, actb_blocks, &b);
	return 0;
}
