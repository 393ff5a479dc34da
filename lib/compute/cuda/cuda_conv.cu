/*
 * cuda_conv.cu: od_conv2d on the GPU, the twin of cpu_conv.c.
 *
 * im2col + GEMM (cu_gemm, cuda_linear.cu): a band of output rows at a time,
 * the column matrix col (K × P, K = Cin·kh·kw, P = rows·Wout) is built in BF16
 * and multiplied with the (Cout × K) weight into the NCHW output, so memory
 * stays bounded whatever the image size (a 1024² 128-channel 3×3 convolution
 * would need a 2.4 GB column matrix in one piece).
 */
#include "compute/cuda/cuda_internal.cuh"

/* col[r][p], r = (ci·kh + ky)·kw + kx < K, p = oy·Wout + ox < P for output rows
 * oy0.. of one image: the input pixel under kernel tap r for output p, or 0 in
 * the padding (the CPU's im2col, cpu_conv.c, in BF16). */
__global__ void im2col_kernel(bf16 *col, const float *x, int H, int W, int kh, int kw, int stride, int pt, int pl,
			      int Wout, int oy0, int64_t K, int64_t P)
{
	const int64_t total = K * P;
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
		int64_t r = e / P, p = e % P;
		int kx = (int)(r % kw), ky = (int)((r / kw) % kh);
		int64_t ci = r / ((int64_t)kw * kh);
		int oy = oy0 + (int)(p / Wout), ox = (int)(p % Wout);
		int iy = oy * stride + ky - pt, ix = ox * stride + kx - pl;
		float v = 0.0f;
		if (iy >= 0 && iy < H && ix >= 0 && ix < W)
			v = x[(ci * H + iy) * W + ix];
		col[e] = __float2bfloat16_rn(v);
	}
}

__global__ void channel_bias_kernel(float *y, const float *bias, int64_t planes, int channels, int64_t plane_len)
{
	const int64_t total = planes * plane_len;
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x)
		y[e] += bias[(e / plane_len) % channels];
}

int cu_add_channel_bias(struct od_ctx *c, float *y, const float *bias, int64_t planes, int channels,
			int64_t plane_len)
{
	if (planes <= 0 || plane_len <= 0)
		return OD_OK;
	channel_bias_kernel<<<cu_blocks(planes * plane_len), 256, 0, cu_st(c)->stream>>>(y, bias, planes, channels,
											  plane_len);
	return cu_launched(c, "conv2d bias");
}

int cu_conv2d(struct od_ctx *c, float *y, const float *x, int N, int Cin, int H, int W, const struct od_tensor *w,
	      const struct od_tensor *bias, int stride, const int pad[4])
{
	if (w->ndim != 4 || w->shape[1] != Cin)
		return cu_fail(c, OD_EINVAL, "conv2d: weight '%s' does not take %d channels", cu_tname(w), Cin);
	const int Cout = (int)w->shape[0], kh = (int)w->shape[2], kw = (int)w->shape[3];
	if (stride < 1)
		return cu_fail(c, OD_EINVAL, "conv2d: stride %d", stride);
	const int Hout = (H + pad[0] + pad[1] - kh) / stride + 1, Wout = (W + pad[2] + pad[3] - kw) / stride + 1;
	if (Hout <= 0 || Wout <= 0)
		return cu_fail(c, OD_EINVAL, "conv2d: %dx%d input is too small", H, W);
	if (N <= 0 || Cout <= 0)
		return OD_OK;
	const bf16 *Wb;
	const float *b = NULL;
	int rc = cu_weight_bf16(c, w, &Wb);
	if (!rc && bias)
		rc = cu_weight_f32(c, bias, &b);
	if (rc)
		return rc;
	const int64_t K = (int64_t)Cin * kh * kw, plane = (int64_t)Hout * Wout;
	if (K > INT32_MAX || plane > INT32_MAX)
		return cu_fail(c, OD_ENOMEM, "conv2d: %lld×%lld exceeds the BLAS integer range", (long long)K,
			       (long long)plane);
	int64_t rows = (int64_t)cu_st(c)->col_elems / (K * Wout);
	if (rows < 1)
		rows = 1;
	if (rows > Hout)
		rows = Hout;
	const size_t bytes = (size_t)(K * rows * Wout) * sizeof(bf16);
	bf16 *col = (bf16 *)cu_scratch(c, bytes, "conv2d");
	if (!col)
		return OD_ENOMEM;
	cudaStream_t st = cu_st(c)->stream;
	for (int n = 0; n < N && !rc; n++) {
		const float *xn = x + (int64_t)n * Cin * H * W;
		float *yn = y + (int64_t)n * Cout * plane;
		for (int oy0 = 0; oy0 < Hout && !rc; oy0 += (int)rows) {
			int r = Hout - oy0 < rows ? Hout - oy0 : (int)rows;
			int64_t P = (int64_t)r * Wout;
			im2col_kernel<<<cu_blocks(K * P), 256, 0, st>>>(col, xn, H, W, kh, kw, stride, pad[0], pad[2], Wout,
									 oy0, K, P);
			rc = cu_launched(c, "im2col");
			/* y_n (Cout × plane, row-major) = W (Cout × K) · col (K × P): column-major
			 * C (P × Cout, ldc = plane) = col (P × K, ld P) · Wᵀ (K × Cout, ld K) */
			if (!rc)
				rc = cu_gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, (int)P, Cout, (int)K, col, (int)P, Wb, (int)K,
					     yn + (int64_t)oy0 * Wout, (int)plane, NULL);
		}
	}
	cu_scratch_free(c, col, bytes);
	if (!rc && b)
		rc = cu_add_channel_bias(c, y, b, (int64_t)N * Cout, Cout, plane);
	return rc;
}
