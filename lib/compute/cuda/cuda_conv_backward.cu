/*
 * cuda_conv_backward.cu: the twins of cpu_conv_backward.c, conv2d's backward
 * and nearest ×2 up-sampling's backward on the GPU.
 *
 * Written directly in float32 for clarity, not speed (the CPU is where the VAE
 * trains today): dx by gathering, for each input pixel, the output taps that
 * read it (the transposed convolution); dw and db one block per weight element
 * or channel, each thread summing a fixed stride of (image, pixel) terms and
 * the block adding the partials in a fixed order, so results are deterministic.
 * dw and db are accumulated (+=), dx overwritten, as backend.h says.
 */
#include "compute/cuda/cuda_internal.cuh"

#define NT 256

/* Sum over the block in a fixed order (every thread gets it). */
static __device__ float block_sum_f(float v)
{
	__shared__ float sh[NT];
	sh[threadIdx.x] = v;
	__syncthreads();
	for (int s = NT / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s)
			sh[threadIdx.x] += sh[threadIdx.x + s];
		__syncthreads();
	}
	float t = sh[0];
	__syncthreads();
	return t;
}

struct convb_args {
	float *dx, *dw, *db;
	const float *dy, *x, *w;
	int N, Cin, H, W, Cout, kh, kw, stride, pt, pl, Hout, Wout;
};

__global__ void convb_dx_kernel(convb_args a)
{
	const int64_t total = (int64_t)a.N * a.Cin * a.H * a.W;
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
		const int ix = (int)(e % a.W), iy = (int)((e / a.W) % a.H), ci = (int)((e / ((int64_t)a.W * a.H)) % a.Cin);
		const int64_t n = e / ((int64_t)a.W * a.H * a.Cin);
		float s = 0.0f;
		for (int co = 0; co < a.Cout; co++) {
			const float *dyc = a.dy + (n * a.Cout + co) * (int64_t)a.Hout * a.Wout;
			const float *wc = a.w + ((int64_t)co * a.Cin + ci) * a.kh * a.kw;
			for (int ky = 0; ky < a.kh; ky++) {
				const int ty = iy + a.pt - ky; /* = oy·stride */
				if (ty < 0 || ty % a.stride || ty / a.stride >= a.Hout)
					continue;
				const int oy = ty / a.stride;
				for (int kx = 0; kx < a.kw; kx++) {
					const int tx = ix + a.pl - kx;
					if (tx < 0 || tx % a.stride || tx / a.stride >= a.Wout)
						continue;
					s = __fadd_rn(s, __fmul_rn(wc[ky * a.kw + kx], dyc[(int64_t)oy * a.Wout + tx / a.stride]));
				}
			}
		}
		a.dx[e] = s;
	}
}

/* One block per weight element (co, ci, ky, kx). */
__global__ void __launch_bounds__(NT) convb_dw_kernel(convb_args a)
{
	const int64_t r = blockIdx.x; /* (ci·kh + ky)·kw + kx */
	const int co = blockIdx.y;
	const int kx = (int)(r % a.kw), ky = (int)((r / a.kw) % a.kh), ci = (int)(r / ((int64_t)a.kw * a.kh));
	const int64_t plane = (int64_t)a.Hout * a.Wout, terms = a.N * plane;
	float s = 0.0f;
	for (int64_t t = threadIdx.x; t < terms; t += NT) {
		const int64_t n = t / plane, p = t % plane;
		const int oy = (int)(p / a.Wout), ox = (int)(p % a.Wout);
		const int iy = oy * a.stride + ky - a.pt, ix = ox * a.stride + kx - a.pl;
		if (iy < 0 || iy >= a.H || ix < 0 || ix >= a.W)
			continue;
		s = __fadd_rn(s, __fmul_rn(a.dy[(n * a.Cout + co) * plane + p],
					   a.x[((n * a.Cin + ci) * a.H + iy) * (int64_t)a.W + ix]));
	}
	s = block_sum_f(s);
	if (threadIdx.x == 0)
		a.dw[(int64_t)co * a.Cin * a.kh * a.kw + r] += s;
}

/* One block per output channel. */
__global__ void __launch_bounds__(NT) convb_db_kernel(convb_args a)
{
	const int co = blockIdx.x;
	const int64_t plane = (int64_t)a.Hout * a.Wout, terms = a.N * plane;
	float s = 0.0f;
	for (int64_t t = threadIdx.x; t < terms; t += NT)
		s += a.dy[(t / plane * a.Cout + co) * plane + t % plane];
	s = block_sum_f(s);
	if (threadIdx.x == 0)
		a.db[co] += s;
}

int cu_conv2d_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x, int N,
		       int Cin, int H, int W, const struct od_tensor *w, int stride, const int pad[4])
{
	if (w->ndim != 4 || w->shape[1] != Cin)
		return cu_fail(c, OD_EINVAL, "conv2d backward: weight '%s' does not take %d channels", cu_tname(w), Cin);
	if (stride < 1)
		return cu_fail(c, OD_EINVAL, "conv2d backward: stride %d", stride);
	convb_args a;
	a.dx = dx, a.dw = dw, a.db = db, a.dy = dy, a.x = x, a.w = NULL;
	a.N = N, a.Cin = Cin, a.H = H, a.W = W, a.Cout = (int)w->shape[0], a.kh = (int)w->shape[2];
	a.kw = (int)w->shape[3], a.stride = stride, a.pt = pad[0], a.pl = pad[2];
	a.Hout = (H + pad[0] + pad[1] - a.kh) / stride + 1;
	a.Wout = (W + pad[2] + pad[3] - a.kw) / stride + 1;
	if (a.Hout <= 0 || a.Wout <= 0)
		return cu_fail(c, OD_EINVAL, "conv2d backward: %dx%d input is too small", H, W);
	if (N <= 0 || a.Cout <= 0)
		return OD_OK;
	const int64_t K = (int64_t)Cin * a.kh * a.kw;
	if (K > INT32_MAX || a.Cout > 65535)
		return cu_fail(c, OD_EINVAL, "conv2d backward: %d×%lld weights exceed the grid", a.Cout, (long long)K);
	cudaStream_t st = cu_st(c)->stream;
	int rc = OD_OK;
	if (dx) {
		if ((rc = cu_weight_f32(c, w, &a.w)))
			return rc;
		convb_dx_kernel<<<cu_blocks((int64_t)N * Cin * H * W), NT, 0, st>>>(a);
		if ((rc = cu_launched(c, "conv2d backward dx")))
			return rc;
	}
	if (dw) {
		convb_dw_kernel<<<dim3((unsigned)K, (unsigned)a.Cout), NT, 0, st>>>(a);
		if ((rc = cu_launched(c, "conv2d backward dw")))
			return rc;
	}
	if (db) {
		convb_db_kernel<<<a.Cout, NT, 0, st>>>(a);
		rc = cu_launched(c, "conv2d backward db");
	}
	return rc;
}

__global__ void upb_kernel(float *dx, const float *dy, int64_t planes, int H, int W)
{
	const int64_t n = planes * H * W;
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
		const int64_t pl = e / ((int64_t)H * W), r = (e / W) % H, cc = e % W;
		const float *a = dy + pl * 4 * H * W + (2 * r) * 2 * W, *b = a + 2 * W;
		dx[e] = __fadd_rn(__fadd_rn(__fadd_rn(a[2 * cc], a[2 * cc + 1]), b[2 * cc]), b[2 * cc + 1]);
	}
}

int cu_upsample2x_backward(struct od_ctx *c, float *dx, const float *dy, int64_t planes, int H, int W)
{
	if (planes <= 0 || H <= 0 || W <= 0)
		return OD_OK;
	upb_kernel<<<cu_blocks(planes * H * W), NT, 0, cu_st(c)->stream>>>(dx, dy, planes, H, W);
	return cu_launched(c, "upsample2x backward");
}
