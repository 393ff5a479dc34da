/*
 * cuda_internal.cuh: what the .cu files of the CUDA backend (the plugin
 * od-cuda.so, see backend.h and load_cuda() in compute/backend.c) share: the
 * per-context state, error reporting, device scratch memory and the weight
 * caches.
 *
 * Conventions (the kernel table's contract, backend.h):
 *  - activations are float32 device buffers; every kernel runs on the context's
 *    one stream, so a buffer freed with od_free() is reused only after the
 *    kernels already queued that read it (stream-ordered allocation);
 *  - weights (struct od_tensor, host memory, F32/F16/BF16) are uploaded once per
 *    tensor and kept as BF16 on the GPU (weight_bf16()); biases and other small
 *    tensors as float32 (weight_f32());
 *  - every device allocation the plugin makes (od_alloc buffers, weight copies,
 *    per-call scratch, the cuBLAS workspace) is counted in c->bytes_now /
 *    c->bytes_peak, so the peak is the context's GPU memory high-water mark
 *    (less cuBLAS's own handles and the caching allocator's rounding, which
 *    od_cuda_memory reports as the reserved high-water mark).
 *
 * The plugin cannot call libod (it is dlopen'ed by tools that export no
 * symbols), so errors go through c->error, which od_ctx_create() sets to
 * od_error().
 */
#ifndef OD_CUDA_INTERNAL_CUH
#define OD_CUDA_INTERNAL_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <unordered_map>

extern "C" {
#include "compute/backend.h"
#include "base/error.h"
}

#define OD_HIDDEN __attribute__((visibility("hidden")))

typedef __nv_bfloat16 bf16;

/* A weight's device copy, keyed by the struct od_tensor pointer. The data
 * pointer, dtype and size are kept to notice a different tensor that reuses a
 * freed struct's address (then the copy is made again). */
struct cu_weight {
	const void *data;
	int dtype;
	int64_t numel;
	void *dev;
	size_t bytes;
};

/* A cached cuBLASLt plan for one GEMM shape and operand alignment. */
struct cu_gemm_plan {
	cublasLtMatmulDesc_t desc;
	cublasLtMatrixLayout_t a, b, c;
	cublasLtMatmulAlgo_t algo;
	int ok; /* 0: cuBLASLt found no algorithm; use cublasGemmEx */
};
typedef std::tuple<int, int, int, int, int, int, int, int, int, int, int, int, int> cu_gemm_key;

struct cu_state {
	int device;
	cudaStream_t stream;
	cublasHandle_t blas;
	cublasLtHandle_t lt;
	void *workspace; /* shared by cuBLAS and cuBLASLt: both run on the one stream */
	size_t workspace_bytes;
	int workspace_counted;
	int sm_count;
	size_t smem_optin;
	std::unordered_map<const void *, size_t> sizes; /* od_alloc'ed buffers: requested bytes */
	/* the caching allocator (cuda_backend.cu): block sizes of live blocks,
	 * free blocks by size, bytes held from cudaMalloc now and at most */
	std::unordered_map<void *, size_t> blocks;
	std::multimap<size_t, void *> free_blocks;
	size_t reserved, reserved_peak;
	std::unordered_map<const struct od_tensor *, cu_weight> w16; /* BF16 copies */
	std::unordered_map<const struct od_tensor *, cu_weight> w32; /* float32 copies */
	std::map<cu_gemm_key, cu_gemm_plan> plans;
	size_t weight_bytes;
	/* Test and tuning switches, read from the environment at creation. */
	int attn_simple;   /* OD_CUDA_ATTENTION=simple: the plain float32 attention for every shape */
	int no_lt;         /* OD_CUDA_GEMM=gemmex: cublasGemmEx + a bias kernel instead of cuBLASLt */
	size_t col_elems;  /* OD_CUDA_COL_ELEMS: im2col tile bound in elements (default 64M) */
};

static inline cu_state *cu_st(struct od_ctx *c) { return (cu_state *)c->dev; }

/* Report an error through od_error (when the context has it); returns code. */
OD_HIDDEN int cu_fail(struct od_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Check a CUDA status (and the last launch error); OD_OK or an error naming what. */
OD_HIDDEN int cu_check(struct od_ctx *c, cudaError_t e, const char *what);
/* cu_check(cudaGetLastError()) after kernel launches. */
OD_HIDDEN int cu_launched(struct od_ctx *c, const char *what);

/* The caching allocator: device blocks reused in stream order (one stream per
 * context, so a block freed after the kernels that use it were queued can go
 * to the next allocation at once). NULL when the GPU is out of memory. */
OD_HIDDEN void *cu_dev_alloc(struct od_ctx *c, size_t bytes);
OD_HIDDEN void cu_dev_free(struct od_ctx *c, void *p);

/* Device scratch memory for one call, stream-ordered and counted. */
OD_HIDDEN void *cu_scratch(struct od_ctx *c, size_t bytes, const char *what);
OD_HIDDEN void cu_scratch_free(struct od_ctx *c, void *p, size_t bytes);
OD_HIDDEN void cu_account(struct od_ctx *c, size_t add, size_t sub);

/* The BF16 device copy of a weight in *out; OD_OK or an error status. */
OD_HIDDEN int cu_weight_bf16(struct od_ctx *c, const struct od_tensor *t, const bf16 **out);
/* The float32 device copy of a (small) tensor in *out; OD_OK or an error status. */
OD_HIDDEN int cu_weight_f32(struct od_ctx *c, const struct od_tensor *t, const float **out);

/* Element count and size of a tensor (the plugin does not link libod). */
OD_HIDDEN int64_t cu_numel(const struct od_tensor *t);
OD_HIDDEN const char *cu_tname(const struct od_tensor *t);

/* Convert n floats to BF16 on the stream (round to nearest even). */
OD_HIDDEN int cu_to_bf16(struct od_ctx *c, bf16 *dst, const float *src, int64_t n);

/* Column-major GEMM as cuBLAS sees it: C (m×n, ldc, float32) = op(A)·op(B)
 * (+ bias[i] on row i of C when bias is set), A and B BF16, FP32 accumulation. */
OD_HIDDEN int cu_gemm(struct od_ctx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
		      const bf16 *A, int lda, const bf16 *B, int ldb, float *C, int ldc, const float *bias);

/* Grid size for a grid-stride loop over n items with 256 threads. */
static inline unsigned cu_blocks(int64_t n, int threads = 256)
{
	int64_t b = (n + threads - 1) / threads;
	if (b < 1)
		b = 1;
	if (b > (1 << 20))
		b = 1 << 20;
	return (unsigned)b;
}

/* The kernel table entries, one .cu file each group. */
/* Destroy every cached cuBLASLt plan (context release). */
OD_HIDDEN void cu_gemm_plans_clear(cu_state *s);
OD_HIDDEN int cu_linear(struct od_ctx *c, float *y, const float *x, int64_t M, const struct od_tensor *w,
			const struct od_tensor *bias);
OD_HIDDEN int cu_conv2d(struct od_ctx *c, float *y, const float *x, int N, int Cin, int H, int W,
			const struct od_tensor *w, const struct od_tensor *bias, int stride, const int pad[4]);
OD_HIDDEN int cu_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
			   const struct od_attention_desc *d);
OD_HIDDEN int cu_rmsnorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, float eps);
OD_HIDDEN int cu_layernorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
			   const float *b, float eps);
OD_HIDDEN int cu_groupnorm(struct od_ctx *c, float *y, const float *x, int N, int C, int64_t HW, int groups,
			   const float *w, const float *b, float eps, int silu);
OD_HIDDEN int cu_rmsnorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
				  float eps, const float *scale, int ld, int64_t group);
OD_HIDDEN int cu_layernorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, float eps,
				    const float *scale, int ld, int64_t group);
OD_HIDDEN int cu_rmsnorm_gate_add(struct od_ctx *c, float *x, const float *a, int64_t M, int D, const float *w,
				  float eps, const float *gate, int ld, int64_t group);
OD_HIDDEN int cu_act(struct od_ctx *c, float *y, const float *x, int64_t n, enum od_act a);
OD_HIDDEN int cu_act_mul(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_act act);
OD_HIDDEN int cu_binary(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_binop op);
OD_HIDDEN int cu_axpby(struct od_ctx *c, float *y, const float *x, int64_t n, float alpha, float beta);
OD_HIDDEN int cu_transpose(struct od_ctx *c, float *y, const float *x, int batch, int64_t rows, int64_t cols);
OD_HIDDEN int cu_rope(struct od_ctx *c, float *x, int64_t M, int heads, int head_dim, int ld, const float *cos_sin);
OD_HIDDEN int cu_head_gate_add(struct od_ctx *c, float *o, const float *y, int64_t M, int heads, int head_dim,
			       const float *gate);
OD_HIDDEN int cu_upsample2x(struct od_ctx *c, float *y, const float *x, int64_t planes, int H, int W);
/* Backward passes (training): cuda_linear_backward.cu, cuda_attention.cu, cuda_norm_backward.cu,
 * cuda_elementwise_backward.cu; contracts in backend.h. */
OD_HIDDEN int cu_linear_backward_x(struct od_ctx *c, float *dx, const float *dy, int64_t M, const struct od_tensor *w,
				   int acc);
OD_HIDDEN int cu_linear_backward_w(struct od_ctx *c, float *dw, float *db, const float *dy, const float *x, int64_t M,
				   int64_t N, int64_t K);
OD_HIDDEN int cu_attention_lse(struct od_ctx *c, float *o, float *lse, const float *q, const float *k, const float *v,
			       const struct od_attention_desc *d);
OD_HIDDEN int cu_attention_backward(struct od_ctx *c, float *dq, float *dk, float *dv, const float *dout,
				    const float *q, const float *k, const float *v, const float *o, const float *lse,
				    const struct od_attention_desc *d);
OD_HIDDEN int cu_rmsnorm_backward(struct od_ctx *c, float *dx, float *dw, const float *dy, const float *x, int64_t M,
				  int D, const float *w, float eps, int acc);
OD_HIDDEN int cu_layernorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
				    int64_t M, int D, const float *w, float eps, int acc);
OD_HIDDEN int cu_rmsnorm_modulate_backward(struct od_ctx *c, float *dx, float *dw, float *dscale, const float *dy,
					   const float *x, int64_t M, int D, const float *w, float eps,
					   const float *scale, int ld, int64_t group, int acc);
OD_HIDDEN int cu_layernorm_modulate_backward(struct od_ctx *c, float *dx, float *dscale, const float *dy,
					     const float *x, int64_t M, int D, float eps, const float *scale, int ld,
					     int64_t group, int acc);
OD_HIDDEN int cu_rmsnorm_gate_add_backward(struct od_ctx *c, float *da, float *dw, float *dgate, const float *dx,
					   const float *a, int64_t M, int D, const float *w, float eps,
					   const float *gate, int ld, int64_t group);
OD_HIDDEN int cu_rope_backward(struct od_ctx *c, float *dx, int64_t M, int heads, int head_dim, int ld,
			       const float *cos_sin);
OD_HIDDEN int cu_head_gate_add_backward(struct od_ctx *c, float *dy, float *dgate, const float *dout, const float *y,
					int64_t M, int heads, int head_dim, const float *gate);
OD_HIDDEN int cu_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a);
OD_HIDDEN int cu_act_mul_backward(struct od_ctx *c, float *da, float *db, float *y, const float *dy, const float *a,
				  const float *b, int64_t n, enum od_act act);
/* The VAE's backward passes: cuda_conv_backward.cu, cuda_groupnorm_backward.cu, cuda_posterior.cu. */
OD_HIDDEN int cu_conv2d_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
				 int N, int Cin, int H, int W, const struct od_tensor *w, int stride, const int pad[4]);
OD_HIDDEN int cu_groupnorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy,
				    const float *x, int N, int C, int64_t HW, int groups, const float *w,
				    const float *b, float eps, int silu);
OD_HIDDEN int cu_upsample2x_backward(struct od_ctx *c, float *dx, const float *dy, int64_t planes, int H, int W);
OD_HIDDEN int cu_posterior(struct od_ctx *c, float *z, float *kl, const float *moments, const float *eps, int N,
			   int L, int64_t hw);
OD_HIDDEN int cu_posterior_backward(struct od_ctx *c, float *dmoments, const float *dz, const float *moments,
				    const float *eps, int N, int L, int64_t hw, float kl_weight);
/* Add bias[ch] to every element of plane ch: y (planes, plane_len), channel = plane % channels. */
OD_HIDDEN int cu_add_channel_bias(struct od_ctx *c, float *y, const float *bias, int64_t planes, int channels,
				  int64_t plane_len);

/* Device helpers shared by the kernels. */
__device__ __forceinline__ float cu_silu(float x) { return x / (1.0f + expf(-x)); }

/* The same formulas as od_act_f (cpu_elementwise.c). */
__device__ __forceinline__ float cu_act_f(float x, int a)
{
	switch (a) {
	case OD_ACT_SILU:
		return cu_silu(x);
	case OD_ACT_GELU_TANH: /* transformers' gelu_new (numerics.md §3.2) */
		return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
	case OD_ACT_GELU:
		return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
	case OD_ACT_RELU:
		return x > 0 ? x : 0;
	default:
		return x;
	}
}

#endif
