/*
 * cuda_norm_backward.cu: the backward passes of RMSNorm, LayerNorm and the
 * NextDiT's modulated and gated forms on the GPU, the twins of
 * cpu_norm_backward.c (numerics.md §11.8, §11.9, §11.12).
 *
 * Pass 1, one block per row: the row's statistics as the forward kernels take
 * them (cuda_norm.cu: float32 block sums in a fixed order), x̂, g = dy·f·w, the
 * row means of g and g·x̂, and dx; each row's contributions to dw, db and the
 * modulation gradient go to scratch rows. Pass 2, one thread per column (and
 * group): the rows summed in order, so the result never depends on scheduling.
 */
#include "compute/cuda/cuda_internal.cuh"

#define NT 256

__device__ __forceinline__ float nb_warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ float nb_block_sum(float v)
{
	__shared__ float sh[NT / 32];
	v = nb_warp_sum(v);
	const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
	if (lane == 0)
		sh[wid] = v;
	__syncthreads();
	float t = 0;
	for (int i = 0; i < NT / 32; i++)
		t += sh[i];
	__syncthreads();
	return t;
}

struct nb_params {
	float *dx, *pw, *pb, *pm;
	const float *dy, *x, *w, *mod;
	int64_t M, group;
	int D, ld, acc, ln, modk; /* modk: 0 none, 1 scale, 2 gate */
	float eps;
};

__global__ void __launch_bounds__(NT) nb_rows_kernel(nb_params p)
{
	for (int64_t r = blockIdx.x; r < p.M; r += gridDim.x) {
		const float *x = p.x + r * p.D, *dy = p.dy + r * p.D, *s = p.mod ? p.mod + (r / p.group) * p.ld : NULL;
		float mean = 0, rs;
		if (p.ln) {
			float a = 0;
			for (int d = threadIdx.x; d < p.D; d += NT)
				a += x[d];
			mean = nb_block_sum(a) / (float)p.D;
			float ss = 0;
			for (int d = threadIdx.x; d < p.D; d += NT)
				ss += (x[d] - mean) * (x[d] - mean);
			rs = 1.0f / sqrtf(nb_block_sum(ss) / (float)p.D + p.eps);
		} else {
			float ss = 0;
			for (int d = threadIdx.x; d < p.D; d += NT)
				ss += x[d] * x[d];
			rs = 1.0f / sqrtf(nb_block_sum(ss) / (float)p.D + p.eps);
		}
		float sg = 0, sgx = 0;
		for (int d = threadIdx.x; d < p.D; d += NT) {
			const float xh = (x[d] - mean) * rs, w = p.w ? p.w[d] : 1.0f;
			const float f = p.modk == 1 ? 1.0f + s[d] : p.modk == 2 ? tanhf(s[d]) : 1.0f;
			const float dyf = dy[d] * f, g = dyf * w;
			sg += g;
			sgx += g * xh;
			if (p.pw)
				p.pw[r * p.D + d] = dyf * xh;
			if (p.pb)
				p.pb[r * p.D + d] = dyf;
			if (p.pm)
				p.pm[r * p.D + d] = dy[d] * xh * w;
		}
		sg = nb_block_sum(sg);
		sgx = nb_block_sum(sgx);
		if (!p.dx)
			continue;
		const float mg = p.ln ? sg / (float)p.D : 0.0f, mgx = sgx / (float)p.D;
		for (int d = threadIdx.x; d < p.D; d += NT) {
			const float xh = (x[d] - mean) * rs, w = p.w ? p.w[d] : 1.0f;
			const float f = p.modk == 1 ? 1.0f + s[d] : p.modk == 2 ? tanhf(s[d]) : 1.0f;
			const float v = rs * (dy[d] * f * w - mg - xh * mgx);
			p.dx[r * p.D + d] = p.acc ? p.dx[r * p.D + d] + v : v;
		}
	}
}

/* out[g·ld + d] += (gate ? 1 − tanh²(mod) : 1)·Σ_{rows r of group g} part[r·D + d], rows in order */
__global__ void nb_cols_kernel(float *out, const float *part, const float *mod, int64_t M, int64_t group, int D, int ld,
			       int64_t groups, int gate)
{
	const int64_t total = groups * D;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
		const int64_t g = i / D;
		const int d = (int)(i % D);
		const int64_t r0 = g * group, r1 = r0 + group < M ? r0 + group : M;
		double s = 0;
		for (int64_t r = r0; r < r1; r++)
			s += part[r * D + d];
		if (gate) {
			const float t = tanhf(mod[g * ld + d]);
			s *= 1.0f - t * t;
		}
		out[g * ld + d] = (float)(out[g * ld + d] + s);
	}
}

static int norm_backward(struct od_ctx *c, float *dx, float *dw, float *db, float *dmod, const float *dy, const float *x,
			 int64_t M, int D, const float *w, float eps, const float *mod, int ld, int64_t group, int ln,
			 int modk, int acc, const char *what)
{
	if (M <= 0 || D <= 0)
		return OD_OK;
	if (!modk || group <= 0 || group > M)
		group = M;
	if (!w)
		dw = NULL;
	if (!modk)
		dmod = NULL;
	const int nparts = (dw != NULL) + (db != NULL) + (dmod != NULL);
	const size_t bytes = (size_t)(M * D) * sizeof(float) * (nparts ? nparts : 1);
	float *parts = nparts ? (float *)cu_scratch(c, bytes, what) : NULL;
	if (nparts && !parts)
		return OD_ENOMEM;
	nb_params p;
	p.dx = dx, p.dy = dy, p.x = x, p.w = w, p.mod = mod, p.M = M, p.group = group, p.D = D, p.ld = ld, p.acc = acc;
	p.ln = ln, p.modk = modk, p.eps = eps;
	float *q = parts;
	p.pw = dw ? q : NULL, q += dw ? M * D : 0;
	p.pb = db ? q : NULL, q += db ? M * D : 0;
	p.pm = dmod ? q : NULL;
	cudaStream_t st = cu_st(c)->stream;
	nb_rows_kernel<<<(unsigned)(M < (1 << 30) ? M : (1 << 30)), NT, 0, st>>>(p);
	int rc = cu_launched(c, what);
	if (!rc && dw) {
		nb_cols_kernel<<<cu_blocks(D), 256, 0, st>>>(dw, p.pw, NULL, M, M, D, 0, 1, 0);
		rc = cu_launched(c, what);
	}
	if (!rc && db) {
		nb_cols_kernel<<<cu_blocks(D), 256, 0, st>>>(db, p.pb, NULL, M, M, D, 0, 1, 0);
		rc = cu_launched(c, what);
	}
	if (!rc && dmod) {
		const int64_t groups = (M + group - 1) / group;
		nb_cols_kernel<<<cu_blocks(groups * D), 256, 0, st>>>(dmod, p.pm, mod, M, group, D, ld, groups, modk == 2);
		rc = cu_launched(c, what);
	}
	cu_scratch_free(c, parts, bytes);
	return rc;
}

int cu_rmsnorm_backward(struct od_ctx *c, float *dx, float *dw, const float *dy, const float *x, int64_t M, int D,
			const float *w, float eps, int acc)
{
	return norm_backward(c, dx, dw, NULL, NULL, dy, x, M, D, w, eps, NULL, 0, 0, 0, 0, acc, "rmsnorm backward");
}

int cu_layernorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x, int64_t M,
			  int D, const float *w, float eps, int acc)
{
	return norm_backward(c, dx, dw, db, NULL, dy, x, M, D, w, eps, NULL, 0, 0, 1, 0, acc, "layernorm backward");
}

int cu_rmsnorm_modulate_backward(struct od_ctx *c, float *dx, float *dw, float *dscale, const float *dy, const float *x,
				 int64_t M, int D, const float *w, float eps, const float *scale, int ld, int64_t group,
				 int acc)
{
	return norm_backward(c, dx, dw, NULL, dscale, dy, x, M, D, w, eps, scale, ld, group, 0, 1, acc,
			     "rmsnorm_modulate backward");
}

int cu_layernorm_modulate_backward(struct od_ctx *c, float *dx, float *dscale, const float *dy, const float *x,
				   int64_t M, int D, float eps, const float *scale, int ld, int64_t group, int acc)
{
	return norm_backward(c, dx, NULL, NULL, dscale, dy, x, M, D, NULL, eps, scale, ld, group, 1, 1, acc,
			     "layernorm_modulate backward");
}

int cu_rmsnorm_gate_add_backward(struct od_ctx *c, float *da, float *dw, float *dgate, const float *dx, const float *a,
				 int64_t M, int D, const float *w, float eps, const float *gate, int ld, int64_t group)
{
	return norm_backward(c, da, dw, NULL, dgate, dx, a, M, D, w, eps, gate, ld, group, 0, 2, 0,
			     "rmsnorm_gate_add backward");
}
