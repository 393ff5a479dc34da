/* cpu_elementwise.c: activations, binary ops, transposes, RoPE, head gates and
 * nearest upsampling on the CPU. */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"
#include "base/parallel.h"
#include "compute/cpu/cpu_simd.h"

#include <math.h>
#include <string.h>

float od_act_f(float x, enum od_act a)
{
	switch (a) {
	case OD_ACT_SILU:
		return od_silu_f(x);
	case OD_ACT_GELU_TANH: /* transformers' gelu_new (numerics.md §3.2) */
		return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
	case OD_ACT_GELU:
		return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
	case OD_ACT_RELU:
		return x > 0 ? x : 0;
	default:
		return x;
	}
}

struct ew_job {
	float *y;
	const float *a, *b;
	enum od_act act;
	enum od_binop op;
	float alpha, beta;
};

#ifdef HAVE_AVX2_PATH
/* SiLU over [i0, i1) eight at a time, times b[i] when b is given: the
 * operations of od_silu_f, in its order and without fused multiply-adds, so
 * the bits are the scalar tail's; returns where the tail starts. */
__attribute__((target("avx2,fma"))) static int64_t silu8(float *y, const float *a, const float *b, int64_t i0,
							 int64_t i1)
{
	const __m256 one = _mm256_set1_ps(1.0f), cap = _mm256_set1_ps(88.0f), neg = _mm256_set1_ps(-0.0f);
	int64_t i = i0;
	for (; i + 8 <= i1; i += 8) {
		const __m256 x = _mm256_loadu_ps(a + i);
		const __m256 e = exp8(_mm256_min_ps(_mm256_xor_ps(x, neg), cap));
		__m256 v = _mm256_mul_ps(x, _mm256_div_ps(one, _mm256_add_ps(one, e)));
		if (b)
			v = _mm256_mul_ps(v, _mm256_loadu_ps(b + i));
		_mm256_storeu_ps(y + i, v);
	}
	return i;
}
#endif

/* SiLU, the activation of the NextDiT's feed-forward and of the VAE, goes
 * eight lanes at a time where the CPU has AVX2 (libm's expf one element at a
 * time was 1.6% of a NextDiT step). */
static int64_t act_simd(const struct ew_job *j, int64_t i0, int64_t i1, const float *b)
{
#ifdef HAVE_AVX2_PATH
	if (j->act == OD_ACT_SILU && have_avx2())
		return silu8(j->y, j->a, b, i0, i1);
#endif
	return i0;
}

static void act_range(void *p, int64_t i0, int64_t i1)
{
	const struct ew_job *j = p;
	for (int64_t i = act_simd(j, i0, i1, NULL); i < i1; i++)
		j->y[i] = od_act_f(j->a[i], j->act);
}

static void act_mul_range(void *p, int64_t i0, int64_t i1)
{
	const struct ew_job *j = p;
	for (int64_t i = act_simd(j, i0, i1, j->b); i < i1; i++)
		j->y[i] = od_act_f(j->a[i], j->act) * j->b[i];
}

static void binary_range(void *p, int64_t i0, int64_t i1)
{
	const struct ew_job *j = p;
	if (j->op == OD_OP_ADD)
		for (int64_t i = i0; i < i1; i++)
			j->y[i] = j->a[i] + j->b[i];
	else
		for (int64_t i = i0; i < i1; i++)
			j->y[i] = j->a[i] * j->b[i];
}

static void axpby_range(void *p, int64_t i0, int64_t i1)
{
	const struct ew_job *j = p;
	for (int64_t i = i0; i < i1; i++)
		j->y[i] = j->alpha * j->a[i] + j->beta * j->y[i];
}

/* Elementwise work is split in blocks of 16K elements: small enough to balance,
 * large enough that the pool's overhead does not show. */
#define EW_BLOCK 16384

struct block_job {
	void (*fn)(void *, int64_t, int64_t);
	void *arg;
	int64_t n;
};

static void blocks(void *p, int64_t b0, int64_t b1)
{
	const struct block_job *j = p;
	int64_t e = b1 * EW_BLOCK < j->n ? b1 * EW_BLOCK : j->n;
	j->fn(j->arg, b0 * EW_BLOCK, e);
}

static void run_blocks(int64_t n, void (*fn)(void *, int64_t, int64_t), void *arg)
{
	struct block_job j = { fn, arg, n };
	od_parallel_for((n + EW_BLOCK - 1) / EW_BLOCK, blocks, &j);
}

int od_cpu_act(struct od_ctx *c, float *y, const float *x, int64_t n, enum od_act a)
{
	struct ew_job j = { .y = y, .a = x, .act = a };
	run_blocks(n, act_range, &j);
	return OD_OK;
}

int od_cpu_act_mul(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_act act)
{
	struct ew_job j = { .y = y, .a = a, .b = b, .act = act };
	run_blocks(n, act_mul_range, &j);
	return OD_OK;
}

int od_cpu_binary(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_binop op)
{
	struct ew_job j = { .y = y, .a = a, .b = b, .op = op };
	run_blocks(n, binary_range, &j);
	return OD_OK;
}

int od_cpu_axpby(struct od_ctx *c, float *y, const float *x, int64_t n, float alpha, float beta)
{
	struct ew_job j = { .y = y, .a = x, .alpha = alpha, .beta = beta };
	run_blocks(n, axpby_range, &j);
	return OD_OK;
}

struct tr_job {
	float *y;
	const float *x;
	int64_t rows, cols;
};

static void tr_range(void *p, int64_t b0, int64_t b1)
{
	const struct tr_job *j = p;
	const int64_t T = 32;
	int64_t tiles_c = (j->cols + T - 1) / T;
	for (int64_t t = b0; t < b1; t++) {
		int64_t bi = t / ((j->rows + T - 1) / T * tiles_c);
		int64_t rest = t % ((j->rows + T - 1) / T * tiles_c);
		int64_t r0 = rest / tiles_c * T, c0 = rest % tiles_c * T;
		const float *x = j->x + bi * j->rows * j->cols;
		float *y = j->y + bi * j->rows * j->cols;
		for (int64_t r = r0; r < r0 + T && r < j->rows; r++)
			for (int64_t cc = c0; cc < c0 + T && cc < j->cols; cc++)
				y[cc * j->rows + r] = x[r * j->cols + cc];
	}
}

int od_cpu_transpose(struct od_ctx *c, float *y, const float *x, int batch, int64_t rows, int64_t cols)
{
	if (y == x)
		return od_error(OD_EINVAL, "transpose: in place is not supported");
	struct tr_job j = { y, x, rows, cols };
	int64_t tiles = ((rows + 31) / 32) * ((cols + 31) / 32);
	od_parallel_for((int64_t)batch * tiles, tr_range, &j);
	return OD_OK;
}

struct rope_job {
	float *x;
	const float *cs;
	int heads, hd, ld;
};

static void rope_rows(void *p, int64_t r0, int64_t r1)
{
	const struct rope_job *j = p;
	int pairs = j->hd / 2;
	for (int64_t m = r0; m < r1; m++) {
		const float *cs = j->cs + m * pairs * 2;
		for (int h = 0; h < j->heads; h++) {
			float *x = j->x + m * j->ld + (int64_t)h * j->hd;
			for (int q = 0; q < pairs; q++) {
				float a = x[2 * q], b = x[2 * q + 1], co = cs[2 * q], si = cs[2 * q + 1];
				x[2 * q] = a * co - b * si;
				x[2 * q + 1] = a * si + b * co;
			}
		}
	}
}

int od_cpu_rope(struct od_ctx *c, float *x, int64_t M, int heads, int head_dim, int ld, const float *cos_sin)
{
	struct rope_job j = { x, cos_sin, heads, head_dim, ld };
	od_parallel_for(M, rope_rows, &j);
	return OD_OK;
}

struct hg_job {
	float *o;
	const float *y, *gate;
	int heads, hd;
};

static void hg_rows(void *p, int64_t r0, int64_t r1)
{
	const struct hg_job *j = p;
	for (int64_t m = r0; m < r1; m++)
		for (int h = 0; h < j->heads; h++) {
			float g = tanhf(j->gate[h]);
			float *o = j->o + (m * j->heads + h) * j->hd;
			const float *y = j->y + (m * j->heads + h) * j->hd;
			for (int d = 0; d < j->hd; d++)
				o[d] += g * y[d];
		}
}

int od_cpu_head_gate_add(struct od_ctx *c, float *o, const float *y, int64_t M, int heads, int head_dim,
			 const float *gate)
{
	struct hg_job j = { o, y, gate, heads, head_dim };
	od_parallel_for(M, hg_rows, &j);
	return OD_OK;
}

struct up_job {
	float *y;
	const float *x;
	int H, W;
};

static void up_planes(void *p, int64_t p0, int64_t p1)
{
	const struct up_job *j = p;
	for (int64_t pl = p0; pl < p1; pl++) {
		const float *x = j->x + pl * j->H * j->W;
		float *y = j->y + pl * 4 * j->H * j->W;
		for (int r = 0; r < 2 * j->H; r++) {
			const float *xr = x + (r / 2) * j->W;
			float *yr = y + (int64_t)r * 2 * j->W;
			for (int cc = 0; cc < 2 * j->W; cc++)
				yr[cc] = xr[cc / 2];
		}
	}
}

int od_cpu_upsample2x(struct od_ctx *c, float *y, const float *x, int64_t planes, int H, int W)
{
	struct up_job j = { y, x, H, W };
	od_parallel_for(planes, up_planes, &j);
	return OD_OK;
}
