/*
 * cuda_groupnorm_backward.cu: the twin of cpu_groupnorm_backward.c, GroupNorm's
 * backward with the affine transform and the fused SiLU on the GPU
 * (numerics.md §12.3.2).
 *
 * Three passes, each reduction one block summing in double in a fixed order:
 * (1) per (image, group): mean and rstd as the forward computes them, then the
 * group means of gh = g·w and gh·x̂; (2) dx elementwise; (3) per channel, dw and
 * db summed over the images and pixels (+=).
 */
#include "compute/cuda/cuda_internal.cuh"

#define NT 256

static __device__ double block_sum_d(double v)
{
	__shared__ double sh[NT];
	sh[threadIdx.x] = v;
	__syncthreads();
	for (int s = NT / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s)
			sh[threadIdx.x] += sh[threadIdx.x + s];
		__syncthreads();
	}
	double t = sh[0];
	__syncthreads();
	return t;
}

struct gnb_args {
	float *dx, *dw, *db;
	const float *dy, *x, *w, *b;
	int N, C, groups, silu;
	int64_t HW, cnt;
	float eps;
	float *st; /* (N·groups, 4): mean, rstd, mean(gh), mean(gh·x̂) */
};

static __device__ __forceinline__ float affine_grad(float dy, float xh, float wc, float bc, int silu)
{
	if (!silu)
		return dy;
	float v = __fadd_rn(__fmul_rn(xh, wc), bc), s = 1.0f / (1.0f + expf(-v));
	return dy * (s * (1.0f + v * (1.0f - s)));
}

__global__ void __launch_bounds__(NT) gnb_stats_kernel(gnb_args a)
{
	const int64_t ng = blockIdx.x;
	const int g = (int)(ng % a.groups), cpg = a.C / a.groups;
	const float *x = a.x + ng * a.cnt, *dy = a.dy + ng * a.cnt;
	double s = 0;
	for (int64_t i = threadIdx.x; i < a.cnt; i += NT)
		s += x[i];
	const double m = block_sum_d(s) / (double)a.cnt;
	double ss = 0;
	for (int64_t i = threadIdx.x; i < a.cnt; i += NT) {
		double t = x[i] - m;
		ss += t * t;
	}
	ss = block_sum_d(ss);
	const float mean = (float)m, rstd = (float)(1.0 / sqrt(ss / (double)a.cnt + a.eps));
	double s1 = 0, s2 = 0;
	for (int64_t i = threadIdx.x; i < a.cnt; i += NT) {
		const int ch = g * cpg + (int)(i / a.HW);
		const float wc = a.w ? a.w[ch] : 1.0f, bc = a.b ? a.b[ch] : 0.0f;
		const float xh = __fmul_rn(x[i] - mean, rstd), gh = affine_grad(dy[i], xh, wc, bc, a.silu) * wc;
		s1 += gh;
		s2 += (double)gh * xh;
	}
	s1 = block_sum_d(s1);
	s2 = block_sum_d(s2);
	if (threadIdx.x == 0) {
		a.st[ng * 4 + 0] = mean;
		a.st[ng * 4 + 1] = rstd;
		a.st[ng * 4 + 2] = (float)(s1 / (double)a.cnt);
		a.st[ng * 4 + 3] = (float)(s2 / (double)a.cnt);
	}
}

__global__ void gnb_dx_kernel(gnb_args a)
{
	const int64_t total = (int64_t)a.N * a.C * a.HW;
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
		const int ch = (int)((e / a.HW) % a.C);
		const int64_t ng = e / a.HW / a.C * a.groups + ch / (a.C / a.groups);
		const float *st = a.st + ng * 4;
		const float wc = a.w ? a.w[ch] : 1.0f, bc = a.b ? a.b[ch] : 0.0f;
		const float xh = __fmul_rn(a.x[e] - st[0], st[1]), gh = affine_grad(a.dy[e], xh, wc, bc, a.silu) * wc;
		a.dx[e] = st[1] * (gh - st[2] - xh * st[3]);
	}
}

/* One block per channel: dw += Σ g·x̂, db += Σ g over images and pixels. Runs before
 * gnb_dx_kernel, which may overwrite dy (dx may alias dy). */
__global__ void __launch_bounds__(NT) gnb_wb_kernel(gnb_args a)
{
	const int ch = blockIdx.x, g = ch / (a.C / a.groups);
	const float wc = a.w ? a.w[ch] : 1.0f, bc = a.b ? a.b[ch] : 0.0f;
	double sw = 0, sb = 0;
	for (int64_t t = threadIdx.x; t < a.N * a.HW; t += NT) {
		const int64_t n = t / a.HW, i = t % a.HW, e = (n * a.C + ch) * a.HW + i;
		const float *st = a.st + (n * a.groups + g) * 4;
		const float xh = __fmul_rn(a.x[e] - st[0], st[1]), gr = affine_grad(a.dy[e], xh, wc, bc, a.silu);
		sw += (double)gr * xh;
		sb += gr;
	}
	sw = block_sum_d(sw);
	sb = block_sum_d(sb);
	if (threadIdx.x == 0) {
		if (a.dw)
			a.dw[ch] += (float)sw;
		if (a.db)
			a.db[ch] += (float)sb;
	}
}

int cu_groupnorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x, int N,
			  int C, int64_t HW, int groups, const float *w, const float *b, float eps, int silu)
{
	if (groups <= 0 || C % groups)
		return cu_fail(c, OD_EINVAL, "groupnorm backward: %d channels in %d groups", C, groups);
	if ((dw && !w) || (db && !b))
		return cu_fail(c, OD_EINVAL, "groupnorm backward: a weight gradient without the weight");
	if (N <= 0 || C <= 0 || HW <= 0)
		return OD_OK;
	gnb_args a;
	a.dx = dx, a.dw = dw, a.db = db, a.dy = dy, a.x = x, a.w = w, a.b = b;
	a.N = N, a.C = C, a.groups = groups, a.silu = silu, a.HW = HW, a.cnt = (int64_t)(C / groups) * HW, a.eps = eps;
	const int64_t NG = (int64_t)N * groups;
	const size_t bytes = (size_t)NG * 4 * sizeof(float);
	a.st = (float *)cu_scratch(c, bytes, "groupnorm backward");
	if (!a.st)
		return OD_ENOMEM;
	cudaStream_t st = cu_st(c)->stream;
	gnb_stats_kernel<<<(unsigned)NG, NT, 0, st>>>(a);
	if (dw || db)
		gnb_wb_kernel<<<C, NT, 0, st>>>(a);
	gnb_dx_kernel<<<cu_blocks((int64_t)N * C * HW), NT, 0, st>>>(a);
	int rc = cu_launched(c, "groupnorm backward");
	cu_scratch_free(c, a.st, bytes);
	return rc;
}
