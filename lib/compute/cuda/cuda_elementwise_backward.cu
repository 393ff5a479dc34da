/*
 * cuda_elementwise_backward.cu: the backward passes of the activations, the
 * gated product, RoPE and the per-head tanh gate on the GPU, the twins of
 * cpu_elementwise_backward.c (numerics.md §11.11-§11.13). The gate's gradient
 * sums per-row partials per head in row order (deterministic).
 */
#include "compute/cuda/cuda_internal.cuh"

#define GRID_STRIDE(i, n) \
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* d act(x)/dx: the formulas of od_act_grad_f */
__device__ __forceinline__ float cu_act_grad_f(float x, int a)
{
	switch (a) {
	case OD_ACT_SILU: {
		const float s = 1.0f / (1.0f + expf(-x));
		return s * (1.0f + x * (1.0f - s));
	}
	case OD_ACT_GELU_TANH: {
		const float k = 0.7978845608028654f, c = 0.044715f, t = tanhf(k * (x + c * x * x * x));
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

__global__ void eb_act_kernel(float *dx, const float *dy, const float *x, int64_t n, int a)
{
	GRID_STRIDE(i, n)
	dx[i] = dy[i] * cu_act_grad_f(x[i], a);
}

__global__ void eb_act_mul_kernel(float *da, float *db, float *y, const float *dy, const float *a, const float *b,
				  int64_t n, int act)
{
	GRID_STRIDE(i, n)
	{
		const float g = dy[i], av = a[i], bv = b[i], f = cu_act_f(av, act);
		if (da)
			da[i] = g * bv * cu_act_grad_f(av, act);
		if (db)
			db[i] = g * f;
		if (y)
			y[i] = __fmul_rn(f, bv);
	}
}

int cu_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a)
{
	if (n <= 0)
		return OD_OK;
	eb_act_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(dx, dy, x, n, (int)a);
	return cu_launched(c, "act backward");
}

int cu_act_mul_backward(struct od_ctx *c, float *da, float *db, float *y, const float *dy, const float *a,
			const float *b, int64_t n, enum od_act act)
{
	if (n <= 0)
		return OD_OK;
	eb_act_mul_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(da, db, y, dy, a, b, n, (int)act);
	return cu_launched(c, "act_mul backward");
}

/* (a, b) -> (a·cos + b·sin, b·cos − a·sin) */
__global__ void eb_rope_kernel(float *x, const float *cs, int64_t M, int heads, int hd, int ld)
{
	const int pairs = hd / 2;
	GRID_STRIDE(i, M * heads * pairs)
	{
		const int64_t m = i / ((int64_t)heads * pairs);
		const int h = (int)(i / pairs % heads), q = (int)(i % pairs);
		float *p = x + m * ld + (int64_t)h * hd + 2 * q;
		const float a = p[0], b = p[1], co = cs[(m * pairs + q) * 2], si = cs[(m * pairs + q) * 2 + 1];
		p[0] = __fadd_rn(__fmul_rn(a, co), __fmul_rn(b, si));
		p[1] = __fsub_rn(__fmul_rn(b, co), __fmul_rn(a, si));
	}
}

int cu_rope_backward(struct od_ctx *c, float *dx, int64_t M, int heads, int head_dim, int ld, const float *cos_sin)
{
	const int64_t n = M * heads * (head_dim / 2);
	if (n <= 0)
		return OD_OK;
	eb_rope_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(dx, cos_sin, M, heads, head_dim, ld);
	return cu_launched(c, "rope backward");
}

/* dy = tanh(gate[h])·dout; part[m·heads + h] = Σ_e dout·y over the head's values */
__global__ void eb_hg_kernel(float *dy, float *part, const float *dout, const float *y, int64_t M, int heads, int hd,
			     const float *gate)
{
	GRID_STRIDE(i, M * heads)
	{
		const int h = (int)(i % heads);
		const float tg = tanhf(gate[h]);
		const float *d = dout + i * hd, *yy = y + i * hd;
		float s = 0;
		for (int e = 0; e < hd; e++) {
			s += d[e] * yy[e];
			if (dy)
				dy[i * hd + e] = tg * d[e];
		}
		if (part)
			part[i] = s;
	}
}

__global__ void eb_hg_reduce(float *dgate, const float *part, int64_t M, int heads, const float *gate)
{
	GRID_STRIDE(h, (int64_t)heads)
	{
		double s = 0;
		for (int64_t m = 0; m < M; m++)
			s += part[m * heads + h];
		const float tg = tanhf(gate[h]);
		dgate[h] = (float)(dgate[h] + s * (1.0f - tg * tg));
	}
}

int cu_head_gate_add_backward(struct od_ctx *c, float *dy, float *dgate, const float *dout, const float *y, int64_t M,
			      int heads, int head_dim, const float *gate)
{
	if (M <= 0 || heads <= 0)
		return OD_OK;
	const size_t bytes = (size_t)(M * heads) * sizeof(float);
	float *part = dgate ? (float *)cu_scratch(c, bytes, "head_gate_add backward") : NULL;
	if (dgate && !part)
		return OD_ENOMEM;
	cudaStream_t st = cu_st(c)->stream;
	eb_hg_kernel<<<cu_blocks(M * heads), 256, 0, st>>>(dy, part, dout, y, M, heads, head_dim, gate);
	int rc = cu_launched(c, "head_gate_add backward");
	if (!rc && dgate) {
		eb_hg_reduce<<<1, 64, 0, st>>>(dgate, part, M, heads, gate);
		rc = cu_launched(c, "head_gate_add backward");
	}
	cu_scratch_free(c, part, bytes);
	return rc;
}
