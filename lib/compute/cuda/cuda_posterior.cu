/*
 * cuda_posterior.cu: the twin of cpu_posterior.c, the AutoencoderKL posterior
 * sample, its KL terms, and their backward, elementwise in float32 with the
 * CPU's order of operations (numerics.md §12.2, §12.3.5).
 */
#include "compute/cuda/cuda_internal.cuh"

static __device__ __forceinline__ float clamp_lv(float lv)
{
	return lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
}

__global__ void post_kernel(float *z, float *kl, const float *m, const float *eps, int64_t N, int64_t nl)
{
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < N * nl; e += (int64_t)gridDim.x * blockDim.x) {
		const int64_t n = e / nl, i = e % nl;
		const float mean = m[n * 2 * nl + i], lv = clamp_lv(m[n * 2 * nl + nl + i]), std = expf(0.5f * lv);
		z[e] = __fadd_rn(mean, __fmul_rn(std, eps[e]));
		if (kl)
			kl[e] = 0.5f * (__fadd_rn(__fmul_rn(mean, mean), expf(lv)) - 1.0f - lv);
	}
}

__global__ void postb_kernel(float *dm, const float *dz, const float *m, const float *eps, int64_t N, int64_t nl,
			     float kw)
{
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < N * nl; e += (int64_t)gridDim.x * blockDim.x) {
		const int64_t n = e / nl, i = e % nl;
		const float mean = m[n * 2 * nl + i], raw = m[n * 2 * nl + nl + i], lv = clamp_lv(raw);
		const float std = expf(0.5f * lv);
		dm[n * 2 * nl + i] = __fadd_rn(dz[e], __fmul_rn(kw, mean));
		dm[n * 2 * nl + nl + i] = raw >= -30.0f && raw <= 20.0f
						  ? dz[e] * eps[e] * 0.5f * std + kw * 0.5f * (expf(lv) - 1.0f)
						  : 0.0f;
	}
}

int cu_posterior(struct od_ctx *c, float *z, float *kl, const float *moments, const float *eps, int N, int L,
		 int64_t hw)
{
	const int64_t nl = (int64_t)L * hw;
	if (N <= 0 || nl <= 0)
		return OD_OK;
	post_kernel<<<cu_blocks(N * nl), 256, 0, cu_st(c)->stream>>>(z, kl, moments, eps, N, nl);
	return cu_launched(c, "posterior");
}

int cu_posterior_backward(struct od_ctx *c, float *dmoments, const float *dz, const float *moments, const float *eps,
			  int N, int L, int64_t hw, float kl_weight)
{
	const int64_t nl = (int64_t)L * hw;
	if (N <= 0 || nl <= 0)
		return OD_OK;
	postb_kernel<<<cu_blocks(N * nl), 256, 0, cu_st(c)->stream>>>(dmoments, dz, moments, eps, N, nl, kl_weight);
	return cu_launched(c, "posterior backward");
}
