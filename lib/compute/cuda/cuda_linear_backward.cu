/*
 * cuda_linear_backward.cu: the backward halves of a linear layer on the GPU,
 * the twins of cpu_linear_backward.c (numerics.md §11.7):
 *
 *   dx (M, K) = acc·dx + dy (M, N)·W,   dW (N, K) += dyᵀ·x,   db (N) += Σ_m dy[m].
 *
 * Training wants float32 gradients, so unlike the forward (BF16 tensor cores)
 * these are float32 GEMMs (cublasGemmEx, CUBLAS_COMPUTE_32F: no TF32) with the
 * weight's cached float32 copy. db is one thread per column summing the rows
 * in order. cuBLAS picks the same algorithm for the same shape on the same
 * stream, so results repeat bit for bit.
 *
 * NEEDSWORK: the weight copies are cached by tensor (cuda_backend.cu); a
 * trainer that updates weights in place must clear the context's caches
 * before the next step on this device.
 */
#include "compute/cuda/cuda_internal.cuh"

static int gemm32(struct od_ctx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A,
		  int lda, const float *B, int ldb, float beta, float *C, int ldc, const char *what)
{
	const float one = 1.0f;
	cublasStatus_t st = cublasGemmEx(cu_st(c)->blas, ta, tb, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
					 &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
	if (st != CUBLAS_STATUS_SUCCESS)
		return cu_fail(c, OD_EDEVICE, "cuda: %s (%d×%d×%d): %s", what, m, n, k, cublasGetStatusString(st));
	return cu_launched(c, what);
}

int cu_linear_backward_x(struct od_ctx *c, float *dx, const float *dy, int64_t M, const struct od_tensor *w, int acc)
{
	if (w->ndim != 2)
		return cu_fail(c, OD_EINVAL, "linear backward: weight '%s' is not 2-D", cu_tname(w));
	const int64_t N = w->shape[0], K = w->shape[1];
	if (M <= 0 || K <= 0)
		return OD_OK;
	if (N <= 0)
		return acc ? OD_OK : cu_check(c, cudaMemsetAsync(dx, 0, (size_t)(M * K) * sizeof *dx, cu_st(c)->stream),
					      "linear backward");
	if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
		return cu_fail(c, OD_ENOMEM, "linear backward: %lld×%lld×%lld exceeds the BLAS integer range",
			       (long long)M, (long long)N, (long long)K);
	const float *W;
	int rc = cu_weight_f32(c, w, &W);
	if (rc)
		return rc;
	/* column-major: dxᵀ (K × M) = W (K × N, W row-major) · dyᵀ (N × M) */
	return gemm32(c, CUBLAS_OP_N, CUBLAS_OP_N, (int)K, (int)M, (int)N, W, (int)K, dy, (int)N, acc ? 1.0f : 0.0f, dx,
		      (int)K, "linear backward (dx)");
}

__global__ void lb_bias_kernel(float *db, const float *dy, int64_t M, int64_t N)
{
	for (int64_t n = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; n < N; n += (int64_t)gridDim.x * blockDim.x) {
		double s = 0;
		for (int64_t m = 0; m < M; m++)
			s += dy[m * N + n];
		db[n] = (float)(db[n] + s);
	}
}

int cu_linear_backward_w(struct od_ctx *c, float *dw, float *db, const float *dy, const float *x, int64_t M, int64_t N,
			 int64_t K)
{
	if (M <= 0 || N <= 0 || K < 0)
		return OD_OK;
	if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
		return cu_fail(c, OD_ENOMEM, "linear backward: %lld×%lld×%lld exceeds the BLAS integer range",
			       (long long)M, (long long)N, (long long)K);
	int rc = OD_OK;
	/* column-major: dWᵀ (K × N) += xᵀ (K × M) · dy (M × N) */
	if (dw && K > 0)
		rc = gemm32(c, CUBLAS_OP_N, CUBLAS_OP_T, (int)K, (int)N, (int)M, x, (int)K, dy, (int)N, 1.0f, dw, (int)K,
			    "linear backward (dW)");
	if (!rc && db) {
		lb_bias_kernel<<<cu_blocks(N), 256, 0, cu_st(c)->stream>>>(db, dy, M, N);
		rc = cu_launched(c, "linear backward (db)");
	}
	return rc;
}
