/*
 * cuda_norm.cu: RMSNorm, LayerNorm and GroupNorm on the GPU, and the NextDiT
 * variants fused with adaLN modulation and tanh gates (numerics.md §2.4, §2.7,
 * §4.1). The twins of cpu_norm.c: the same formulas in the same order,
 * (x·rsqrt(ms + eps))·w, then ·(1 + scale); statistics in float32 per row
 * (float64 for GroupNorm, whose groups hold millions of values in the VAE).
 *
 * Row kernels: one block per row (grid-stride over rows), the row's sum reduced
 * across the block in a fixed order, so results never depend on scheduling. In
 * place (y == x) is fine: every element is read and written by the same thread
 * after the statistics are known.
 *
 * GroupNorm: a group of (C/groups)·HW values is split into S slices (S from the
 * group size alone); pass 1 sums each slice, pass 2 sums squared deviations
 * from the mean, pass 3 normalises; the slice partials are added in a fixed
 * order, so it is deterministic without atomics.
 */
#include "compute/cuda/cuda_internal.cuh"

#define NT 256 /* threads per row block */

template <typename T> __device__ __forceinline__ T warp_sum(T v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

/* Sum over the block (NT threads) in a fixed order; every thread gets it. */
template <typename T> __device__ T block_sum(T v)
{
	__shared__ T sh[NT / 32];
	v = warp_sum(v);
	const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
	if (lane == 0)
		sh[wid] = v;
	__syncthreads();
	T t = 0;
	for (int i = 0; i < NT / 32; i++)
		t += sh[i];
	__syncthreads(); /* sh is reused by the next call */
	return t;
}

__device__ __forceinline__ float rms_factor(const float *x, int D, float eps)
{
	float ss = 0;
	for (int d = threadIdx.x; d < D; d += NT)
		ss += x[d] * x[d];
	ss = block_sum(ss);
	return 1.0f / sqrtf(ss / (float)D + eps);
}

__device__ __forceinline__ void mean_rstd(const float *x, int D, float eps, float *mean, float *rstd)
{
	float s = 0;
	for (int d = threadIdx.x; d < D; d += NT)
		s += x[d];
	const float m = block_sum(s) / (float)D;
	float ss = 0;
	for (int d = threadIdx.x; d < D; d += NT) {
		float t = x[d] - m;
		ss += t * t;
	}
	ss = block_sum(ss);
	*mean = m;
	*rstd = 1.0f / sqrtf(ss / (float)D + eps);
}

__global__ void __launch_bounds__(NT) rmsnorm_kernel(float *y, const float *x, int64_t M, int D, const float *w,
						     float eps)
{
	for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
		const float *xr = x + r * D;
		float *yr = y + r * D;
		const float f = rms_factor(xr, D, eps);
		for (int d = threadIdx.x; d < D; d += NT)
			yr[d] = w ? __fmul_rn(__fmul_rn(xr[d], f), w[d]) : __fmul_rn(xr[d], f);
	}
}

__global__ void __launch_bounds__(NT) layernorm_kernel(float *y, const float *x, int64_t M, int D, const float *w,
						       const float *b, float eps)
{
	for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
		const float *xr = x + r * D;
		float *yr = y + r * D;
		float m, rs;
		mean_rstd(xr, D, eps, &m, &rs);
		for (int d = threadIdx.x; d < D; d += NT) {
			float v = __fmul_rn(xr[d] - m, rs);
			if (w)
				v = __fmul_rn(v, w[d]);
			if (b)
				v = __fadd_rn(v, b[d]);
			yr[d] = v;
		}
	}
}

__global__ void __launch_bounds__(NT) rms_mod_kernel(float *y, const float *x, int64_t M, int D, const float *w,
						     float eps, const float *scale, int ld, int64_t group)
{
	for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
		const float *xr = x + r * D, *s = scale + (r / group) * ld;
		float *yr = y + r * D;
		const float f = rms_factor(xr, D, eps);
		for (int d = threadIdx.x; d < D; d += NT)
			yr[d] = __fmul_rn(__fmul_rn(__fmul_rn(xr[d], f), w[d]), 1.0f + s[d]);
	}
}

__global__ void __launch_bounds__(NT) ln_mod_kernel(float *y, const float *x, int64_t M, int D, float eps,
						    const float *scale, int ld, int64_t group)
{
	for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
		const float *xr = x + r * D, *s = scale + (r / group) * ld;
		float *yr = y + r * D;
		float m, rs;
		mean_rstd(xr, D, eps, &m, &rs);
		for (int d = threadIdx.x; d < D; d += NT)
			yr[d] = __fmul_rn(__fmul_rn(xr[d] - m, rs), 1.0f + s[d]);
	}
}

__global__ void __launch_bounds__(NT) rms_gate_kernel(float *x, const float *a, int64_t M, int D, const float *w,
						      float eps, const float *gate, int ld, int64_t group)
{
	for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
		const float *ar = a + r * D, *g = gate + (r / group) * ld;
		float *xr = x + r * D;
		const float f = rms_factor(ar, D, eps);
		for (int d = threadIdx.x; d < D; d += NT)
			xr[d] = __fadd_rn(xr[d], __fmul_rn(tanhf(g[d]), __fmul_rn(__fmul_rn(ar[d], f), w[d])));
	}
}

static unsigned row_blocks(int64_t M)
{
	return (unsigned)(M < (1 << 30) ? M : (1 << 30));
}

int cu_rmsnorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, float eps)
{
	if (M <= 0 || D <= 0)
		return OD_OK;
	rmsnorm_kernel<<<row_blocks(M), NT, 0, cu_st(c)->stream>>>(y, x, M, D, w, eps);
	return cu_launched(c, "rmsnorm");
}

int cu_layernorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, const float *b,
		 float eps)
{
	if (M <= 0 || D <= 0)
		return OD_OK;
	layernorm_kernel<<<row_blocks(M), NT, 0, cu_st(c)->stream>>>(y, x, M, D, w, b, eps);
	return cu_launched(c, "layernorm");
}

int cu_rmsnorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, float eps,
			const float *scale, int ld, int64_t group)
{
	if (M <= 0 || D <= 0)
		return OD_OK;
	if (group <= 0)
		return cu_fail(c, OD_EINVAL, "rmsnorm_modulate: group %lld", (long long)group);
	rms_mod_kernel<<<row_blocks(M), NT, 0, cu_st(c)->stream>>>(y, x, M, D, w, eps, scale, ld, group);
	return cu_launched(c, "rmsnorm_modulate");
}

int cu_layernorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, float eps, const float *scale,
			  int ld, int64_t group)
{
	if (M <= 0 || D <= 0)
		return OD_OK;
	if (group <= 0)
		return cu_fail(c, OD_EINVAL, "layernorm_modulate: group %lld", (long long)group);
	ln_mod_kernel<<<row_blocks(M), NT, 0, cu_st(c)->stream>>>(y, x, M, D, eps, scale, ld, group);
	return cu_launched(c, "layernorm_modulate");
}

int cu_rmsnorm_gate_add(struct od_ctx *c, float *x, const float *a, int64_t M, int D, const float *w, float eps,
			const float *gate, int ld, int64_t group)
{
	if (M <= 0 || D <= 0)
		return OD_OK;
	if (group <= 0)
		return cu_fail(c, OD_EINVAL, "rmsnorm_gate_add: group %lld", (long long)group);
	rms_gate_kernel<<<row_blocks(M), NT, 0, cu_st(c)->stream>>>(x, a, M, D, w, eps, gate, ld, group);
	return cu_launched(c, "rmsnorm_gate_add");
}

/* ---------------------------------------------------------------- GroupNorm */

struct gn_args {
	float *y;
	const float *x, *w, *b;
	int C, groups, silu, S;
	int64_t HW, cnt, chunk; /* values per group, per slice */
	float eps;
	double *sum, *sq; /* (N·groups, S) slice partials */
};

/* pass 1 (sq == NULL: sums of x) and pass 2 (sums of (x − mean)²) */
__global__ void __launch_bounds__(NT) gn_stats_kernel(gn_args a, int pass)
{
	const int64_t ng = blockIdx.y;
	const int s = blockIdx.x;
	const float *x = a.x + ng * a.cnt; /* a group's channels are adjacent planes */
	const int64_t beg = s * a.chunk, end = beg + a.chunk < a.cnt ? beg + a.chunk : a.cnt;
	double acc = 0;
	if (pass == 1) {
		for (int64_t i = beg + threadIdx.x; i < end; i += NT)
			acc += x[i];
		acc = block_sum(acc);
		if (threadIdx.x == 0)
			a.sum[ng * a.S + s] = acc;
	} else {
		double tot = 0;
		for (int i = 0; i < a.S; i++)
			tot += a.sum[ng * a.S + i];
		const double m = tot / (double)a.cnt;
		for (int64_t i = beg + threadIdx.x; i < end; i += NT) {
			double t = x[i] - m;
			acc += t * t;
		}
		acc = block_sum(acc);
		if (threadIdx.x == 0)
			a.sq[ng * a.S + s] = acc;
	}
}

__global__ void __launch_bounds__(NT) gn_apply_kernel(gn_args a)
{
	const int64_t ng = blockIdx.y;
	const int s = blockIdx.x, g = (int)(ng % a.groups), cpg = a.C / a.groups;
	double tot = 0, sq = 0;
	for (int i = 0; i < a.S; i++) {
		tot += a.sum[ng * a.S + i];
		sq += a.sq[ng * a.S + i];
	}
	const double md = tot / (double)a.cnt;
	const float mean = (float)md, rstd = (float)(1.0 / sqrt(sq / (double)a.cnt + a.eps));
	const float *x = a.x + ng * a.cnt;
	float *y = a.y + ng * a.cnt;
	const int64_t beg = s * a.chunk, end = beg + a.chunk < a.cnt ? beg + a.chunk : a.cnt;
	for (int64_t i = beg + threadIdx.x; i < end; i += NT) {
		const int ch = g * cpg + (int)(i / a.HW);
		const float wc = a.w ? a.w[ch] : 1.0f, bc = a.b ? a.b[ch] : 0.0f;
		float v = __fadd_rn(__fmul_rn(__fmul_rn(x[i] - mean, rstd), wc), bc);
		y[i] = a.silu ? cu_silu(v) : v;
	}
}

int cu_groupnorm(struct od_ctx *c, float *y, const float *x, int N, int C, int64_t HW, int groups, const float *w,
		 const float *b, float eps, int silu)
{
	if (groups <= 0 || C % groups)
		return cu_fail(c, OD_EINVAL, "groupnorm: %d channels in %d groups", C, groups);
	if (N <= 0 || C <= 0 || HW <= 0)
		return OD_OK;
	const int64_t NG = (int64_t)N * groups;
	if (NG > 65535)
		return cu_fail(c, OD_EINVAL, "groupnorm: %lld groups exceed the grid", (long long)NG);
	gn_args a;
	a.y = y;
	a.x = x;
	a.w = w;
	a.b = b;
	a.C = C;
	a.groups = groups;
	a.silu = silu;
	a.HW = HW;
	a.cnt = (int64_t)(C / groups) * HW;
	a.eps = eps;
	/* slices of at least 16K values, at most 128 of them */
	int64_t S = (a.cnt + 16383) / 16384;
	a.S = (int)(S < 1 ? 1 : S > 128 ? 128 : S);
	a.chunk = (a.cnt + a.S - 1) / a.S;
	const size_t bytes = (size_t)NG * a.S * 2 * sizeof(double);
	double *part = (double *)cu_scratch(c, bytes, "groupnorm");
	if (!part)
		return OD_ENOMEM;
	a.sum = part;
	a.sq = part + NG * a.S;
	cudaStream_t st = cu_st(c)->stream;
	dim3 grid((unsigned)a.S, (unsigned)NG);
	gn_stats_kernel<<<grid, NT, 0, st>>>(a, 1);
	gn_stats_kernel<<<grid, NT, 0, st>>>(a, 2);
	gn_apply_kernel<<<grid, NT, 0, st>>>(a);
	int rc = cu_launched(c, "groupnorm");
	cu_scratch_free(c, part, bytes);
	return rc;
}
