/*
 * cuda_act_backward.cu: the twin of cpu_act_backward.c, dx = dy·act'(x) with
 * the same derivative formulas (od_act_grad_f).
 */
#include "compute/cuda/cuda_internal.cuh"

static __device__ __forceinline__ float act_grad(float x, int a)
{
	switch (a) {
	case OD_ACT_SILU: {
		float s = 1.0f / (1.0f + expf(-x));
		return s * (1.0f + x * (1.0f - s));
	}
	case OD_ACT_GELU_TANH: {
		const float k = 0.7978845608028654f;
		float t = tanhf(k * (x + 0.044715f * x * x * x));
		return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x);
	}
	case OD_ACT_GELU:
		return 0.5f * (1.0f + erff(x * 0.7071067811865476f)) + x * 0.3989422804014327f * expf(-0.5f * x * x);
	case OD_ACT_RELU:
		return x > 0 ? 1.0f : 0.0f;
	default:
		return 1.0f;
	}
}

__global__ void actb_kernel(float *dx, const float *dy, const float *x, int64_t n, int a)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		dx[i] = dy[i] * act_grad(x[i], a);
}

int cu_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a)
{
	if (n <= 0)
		return OD_OK;
	actb_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(dx, dy, x, n, (int)a);
	return cu_launched(c, "act backward");
}
