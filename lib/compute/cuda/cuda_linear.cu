/*
 * cuda_linear.cu: matrix products on the GPU: od_linear, and the GEMM that
 * od_conv2d (cuda_conv.cu) lowers to. The twin of cpu_linear.c.
 *
 * Products are BF16 × BF16 with FP32 accumulation and FP32 output on the
 * tensor cores, through cuBLASLt (the bias of a linear layer is fused as the
 * BIAS epilogue) with cublasGemmEx plus a bias kernel as the fallback when
 * cuBLASLt offers no algorithm for a shape or alignment. The weight operand is
 * the cached BF16 copy (cuda_backend.cu); the float32 activation operand is
 * rounded to BF16 (nearest even) by a conversion kernel into scratch, in row
 * chunks of at most OD_CUDA_COL_ELEMS elements (default 64M, 128 MB).
 *
 * Row-major y (M, N) = x (M, K)·Wᵀ is, to column-major cuBLAS, yᵀ (N × M) =
 * W (K × N stored, transposed) · xᵀ (K × M): a "TN" product with m = N,
 * n = M, k = K, the layout tensor cores like best.
 */
#include "compute/cuda/cuda_internal.cuh"

#include <new>

static int align_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	int r = 256;
	while (r > 1 && (a % (uintptr_t)r))
		r >>= 1;
	return r;
}

/* C[j·ldc + i] += bias[i] for i < m, j < n (column-major C, bias along rows). */
__global__ void bias_rows_kernel(float *C, int ldc, int m, int64_t n, const float *bias)
{
	const int64_t total = (int64_t)m * n;
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
		int64_t j = e / m;
		int i = (int)(e % m);
		C[j * ldc + i] += bias[i];
	}
}

static void destroy_plan(cu_gemm_plan &p)
{
	if (p.desc)
		cublasLtMatmulDescDestroy(p.desc);
	if (p.a)
		cublasLtMatrixLayoutDestroy(p.a);
	if (p.b)
		cublasLtMatrixLayoutDestroy(p.b);
	if (p.c)
		cublasLtMatrixLayoutDestroy(p.c);
	p = cu_gemm_plan();
}

/* Build the cuBLASLt descriptors for one shape and ask its heuristic for the
 * best algorithm; p.ok = 0 when there is none (then cublasGemmEx is used). */
static void make_plan(cu_state *s, cu_gemm_plan &p, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
		      int lda, int ldb, int ldc, const float *bias, const int align[4])
{
	p = cu_gemm_plan();
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t res;
	int found = 0;
	int32_t opa = ta, opb = tb;
	uint64_t ws = s->workspace_bytes;
	bool ok = cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
		  cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa) ==
			  CUBLAS_STATUS_SUCCESS &&
		  cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb) ==
			  CUBLAS_STATUS_SUCCESS;
	if (ok && bias) {
		cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
		int32_t bt = CUDA_R_32F;
		/* the heuristic reads the bias pointer's alignment off this attribute */
		ok = cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi) ==
			     CUBLAS_STATUS_SUCCESS &&
		     cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt) ==
			     CUBLAS_STATUS_SUCCESS &&
		     cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) ==
			     CUBLAS_STATUS_SUCCESS;
	}
	ok = ok &&
	     cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, ta == CUBLAS_OP_N ? m : k, ta == CUBLAS_OP_N ? k : m, lda) ==
		     CUBLAS_STATUS_SUCCESS &&
	     cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, tb == CUBLAS_OP_N ? k : n, tb == CUBLAS_OP_N ? n : k, ldb) ==
		     CUBLAS_STATUS_SUCCESS &&
	     cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, m, n, ldc) == CUBLAS_STATUS_SUCCESS &&
	     cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
	     cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) ==
		     CUBLAS_STATUS_SUCCESS;
	const cublasLtMatmulPreferenceAttributes_t al[4] = {
		CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
		CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES
	};
	for (int i = 0; i < 4 && ok; i++) {
		uint32_t v = (uint32_t)align[i < 3 ? i : 2];
		ok = cublasLtMatmulPreferenceSetAttribute(pref, al[i], &v, sizeof v) == CUBLAS_STATUS_SUCCESS;
	}
	ok = ok && cublasLtMatmulAlgoGetHeuristic(s->lt, p.desc, p.a, p.b, p.c, p.c, pref, 1, &res, &found) ==
			   CUBLAS_STATUS_SUCCESS &&
	     found > 0 && res.state == CUBLAS_STATUS_SUCCESS;
	if (pref)
		cublasLtMatmulPreferenceDestroy(pref);
	if (ok) {
		p.algo = res.algo;
		p.ok = 1;
	} else {
		destroy_plan(p);
	}
}

int cu_gemm(struct od_ctx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const bf16 *A, int lda,
	    const bf16 *B, int ldb, float *C, int ldc, const float *bias)
{
	cu_state *s = cu_st(c);
	const float one = 1.0f, zero = 0.0f;
	if (!s->no_lt) {
		/* plans are per alignment: cuBLASLt picks kernels by it (the bias's too) */
		int align[4] = { align_of(A), align_of(B), align_of(C), bias ? align_of(bias) : 0 };
		cu_gemm_key key(ta, tb, m, n, k, lda, ldb, ldc, bias != NULL, align[0], align[1], align[2], align[3]);
		auto it = s->plans.find(key);
		if (it == s->plans.end()) {
			cu_gemm_plan p;
			make_plan(s, p, ta, tb, m, n, k, lda, ldb, ldc, bias, align);
			try {
				it = s->plans.emplace(key, p).first;
			} catch (const std::bad_alloc &) {
				destroy_plan(p);
				return cu_fail(c, OD_ENOMEM, "out of memory");
			}
		}
		cu_gemm_plan &p = it->second;
		if (p.ok) {
			cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
			if (bias)
				st = cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
								    sizeof bias);
			if (st == CUBLAS_STATUS_SUCCESS)
				st = cublasLtMatmul(s->lt, p.desc, &one, A, p.a, B, p.b, &zero, C, p.c, C, p.c, &p.algo,
						    s->workspace, s->workspace_bytes, s->stream);
			if (st == CUBLAS_STATUS_SUCCESS)
				return cu_launched(c, "cublasLtMatmul");
			/* not expected after a successful heuristic; fall back for good */
			destroy_plan(p);
		}
	}
	cublasStatus_t st = cublasGemmEx(s->blas, ta, tb, m, n, k, &one, A, CUDA_R_16BF, lda, B, CUDA_R_16BF, ldb, &zero,
					 C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
	if (st != CUBLAS_STATUS_SUCCESS)
		return cu_fail(c, OD_EDEVICE, "cuda: cublasGemmEx (%d×%d×%d): %s", m, n, k, cublasGetStatusString(st));
	if (bias) {
		bias_rows_kernel<<<cu_blocks((int64_t)m * n), 256, 0, s->stream>>>(C, ldc, m, n, bias);
		return cu_launched(c, "bias");
	}
	return cu_launched(c, "cublasGemmEx");
}

int cu_linear(struct od_ctx *c, float *y, const float *x, int64_t M, const struct od_tensor *w,
	      const struct od_tensor *bias)
{
	if (w->ndim != 2)
		return cu_fail(c, OD_EINVAL, "linear: weight '%s' is not 2-D", cu_tname(w));
	const int64_t N = w->shape[0], K = w->shape[1];
	if (M <= 0 || N <= 0 || K <= 0)
		return OD_OK;
	if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
		return cu_fail(c, OD_ENOMEM, "linear: %lld×%lld×%lld exceeds the BLAS integer range", (long long)M,
			       (long long)N, (long long)K);
	const bf16 *W;
	const float *b = NULL;
	int rc = cu_weight_bf16(c, w, &W);
	if (!rc && bias)
		rc = cu_weight_f32(c, bias, &b);
	if (rc)
		return rc;
	int64_t rows = (int64_t)cu_st(c)->col_elems / K;
	if (rows < 1)
		rows = 1;
	if (rows > M)
		rows = M;
	const size_t bytes = (size_t)(rows * K) * sizeof(bf16);
	bf16 *xb = (bf16 *)cu_scratch(c, bytes, "linear");
	if (!xb)
		return OD_ENOMEM;
	for (int64_t m0 = 0; m0 < M && !rc; m0 += rows) {
		int64_t mc = M - m0 < rows ? M - m0 : rows;
		rc = cu_to_bf16(c, xb, x + m0 * K, mc * K);
		if (!rc)
			rc = cu_gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)mc, (int)K, W, (int)K, xb, (int)K, y + m0 * N,
				     (int)N, b);
	}
	cu_scratch_free(c, xb, bytes);
	return rc;
}

void cu_gemm_plans_clear(cu_state *s)
{
	for (auto &kv : s->plans)
		destroy_plan(kv.second);
	s->plans.clear();
}
