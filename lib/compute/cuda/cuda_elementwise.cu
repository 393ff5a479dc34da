/*
 * cuda_elementwise.cu: activations, binary ops, axpby, transposes, RoPE, head
 * gates and nearest upsampling on the GPU: the twins of cpu_elementwise.c.
 *
 * Products and sums are written with __fmul_rn/__fadd_rn where the CPU code
 * rounds each operation separately, so the compiler does not contract them
 * into fused multiply-adds and the results match the CPU's bit for bit (only
 * tanhf/expf/erff may differ from glibc's by an ulp).
 */
#include "compute/cuda/cuda_internal.cuh"

#define GRID_STRIDE(i, n) \
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void act_kernel(float *y, const float *x, int64_t n, int a)
{
	GRID_STRIDE(i, n)
	y[i] = cu_act_f(x[i], a);
}

__global__ void act_mul_kernel(float *y, const float *a, const float *b, int64_t n, int act)
{
	GRID_STRIDE(i, n)
	y[i] = __fmul_rn(cu_act_f(a[i], act), b[i]);
}

__global__ void binary_kernel(float *y, const float *a, const float *b, int64_t n, int op)
{
	GRID_STRIDE(i, n)
	y[i] = op == OD_OP_ADD ? __fadd_rn(a[i], b[i]) : __fmul_rn(a[i], b[i]);
}

__global__ void axpby_kernel(float *y, const float *x, int64_t n, float alpha, float beta)
{
	GRID_STRIDE(i, n)
	y[i] = __fadd_rn(__fmul_rn(alpha, x[i]), __fmul_rn(beta, y[i]));
}

static int launched(struct od_ctx *c, const char *what)
{
	return cu_launched(c, what);
}

int cu_act(struct od_ctx *c, float *y, const float *x, int64_t n, enum od_act a)
{
	if (n <= 0)
		return OD_OK;
	act_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(y, x, n, (int)a);
	return launched(c, "act");
}

int cu_act_mul(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_act act)
{
	if (n <= 0)
		return OD_OK;
	act_mul_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(y, a, b, n, (int)act);
	return launched(c, "act_mul");
}

int cu_binary(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_binop op)
{
	if (n <= 0)
		return OD_OK;
	binary_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(y, a, b, n, (int)op);
	return launched(c, "binary");
}

int cu_axpby(struct od_ctx *c, float *y, const float *x, int64_t n, float alpha, float beta)
{
	if (n <= 0)
		return OD_OK;
	axpby_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(y, x, n, alpha, beta);
	return launched(c, "axpby");
}

/* 32×32 tiles through shared memory (padded against bank conflicts), so both
 * the reads and the writes are coalesced; tiles in a grid-stride loop. */
__global__ void transpose_kernel(float *y, const float *x, int64_t tiles, int64_t tr, int64_t tc, int64_t rows,
				 int64_t cols)
{
	__shared__ float t[32][33];
	for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
		const int64_t bi = tile / (tr * tc), rest = tile % (tr * tc);
		const int64_t r0 = rest / tc * 32, c0 = rest % tc * 32;
		const float *xb = x + bi * rows * cols;
		float *yb = y + bi * rows * cols;
		for (int i = threadIdx.y; i < 32; i += 8) {
			int64_t r = r0 + i, cc = c0 + threadIdx.x;
			if (r < rows && cc < cols)
				t[i][threadIdx.x] = xb[r * cols + cc];
		}
		__syncthreads();
		for (int i = threadIdx.y; i < 32; i += 8) {
			int64_t cc = c0 + i, r = r0 + threadIdx.x;
			if (r < rows && cc < cols)
				yb[cc * rows + r] = t[threadIdx.x][i];
		}
		__syncthreads();
	}
}

int cu_transpose(struct od_ctx *c, float *y, const float *x, int batch, int64_t rows, int64_t cols)
{
	if (y == x)
		return cu_fail(c, OD_EINVAL, "transpose: in place is not supported");
	if (batch <= 0 || rows <= 0 || cols <= 0)
		return OD_OK;
	const int64_t tr = (rows + 31) / 32, tc = (cols + 31) / 32, tiles = (int64_t)batch * tr * tc;
	transpose_kernel<<<(unsigned)(tiles < (1 << 20) ? tiles : (1 << 20)), dim3(32, 8), 0, cu_st(c)->stream>>>(
		y, x, tiles, tr, tc, rows, cols);
	return launched(c, "transpose");
}

/* One thread per (token m, head h, pair p): (a, b) -> (a·cos − b·sin, a·sin + b·cos). */
__global__ void rope_kernel(float *x, int64_t M, int heads, int pairs, int hd, int ld, const float *cs)
{
	const int64_t n = M * heads * pairs;
	GRID_STRIDE(e, n)
	{
		const int64_t m = e / ((int64_t)heads * pairs);
		const int rest = (int)(e % ((int64_t)heads * pairs)), h = rest / pairs, p = rest % pairs;
		float *v = x + m * ld + (int64_t)h * hd + 2 * p;
		const float *t = cs + (m * pairs + p) * 2;
		const float a = v[0], b = v[1], co = t[0], si = t[1];
		v[0] = __fsub_rn(__fmul_rn(a, co), __fmul_rn(b, si));
		v[1] = __fadd_rn(__fmul_rn(a, si), __fmul_rn(b, co));
	}
}

int cu_rope(struct od_ctx *c, float *x, int64_t M, int heads, int head_dim, int ld, const float *cos_sin)
{
	const int pairs = head_dim / 2;
	if (M <= 0 || heads <= 0 || pairs <= 0)
		return OD_OK;
	rope_kernel<<<cu_blocks(M * heads * pairs), 256, 0, cu_st(c)->stream>>>(x, M, heads, pairs, head_dim, ld,
										 cos_sin);
	return launched(c, "rope");
}

__global__ void head_gate_kernel(float *o, const float *y, int64_t n, int heads, int hd, const float *gate)
{
	GRID_STRIDE(e, n)
	{
		const int h = (int)((e / hd) % heads);
		o[e] = __fadd_rn(o[e], __fmul_rn(tanhf(gate[h]), y[e]));
	}
}

int cu_head_gate_add(struct od_ctx *c, float *o, const float *y, int64_t M, int heads, int head_dim,
		     const float *gate)
{
	const int64_t n = M * heads * head_dim;
	if (n <= 0)
		return OD_OK;
	head_gate_kernel<<<cu_blocks(n), 256, 0, cu_st(c)->stream>>>(o, y, n, heads, head_dim, gate);
	return launched(c, "head_gate_add");
}

__global__ void upsample_kernel(float *y, const float *x, int64_t planes, int H, int W)
{
	const int64_t W2 = 2 * (int64_t)W, plane = 4 * (int64_t)H * W, n = planes * plane;
	GRID_STRIDE(e, n)
	{
		const int64_t pl = e / plane, rest = e % plane, r = rest / W2, cc = rest % W2;
		y[e] = x[pl * H * W + (r / 2) * W + cc / 2];
	}
}

int cu_upsample2x(struct od_ctx *c, float *y, const float *x, int64_t planes, int H, int W)
{
	if (planes <= 0 || H <= 0 || W <= 0)
		return OD_OK;
	upsample_kernel<<<cu_blocks(planes * 4 * H * W), 256, 0, cu_st(c)->stream>>>(y, x, planes, H, W);
	return launched(c, "upsample2x");
}
