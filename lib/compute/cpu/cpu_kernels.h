/*
 * cpu_kernels.h: the CPU backend's kernels (private to lib/). They are the
 * reference implementation of every entry of struct od_kernels (backend.h) and
 * the twins the CUDA kernels are tested against.
 */
#ifndef OD_CPU_KERNELS_H
#define OD_CPU_KERNELS_H

#include "compute/backend.h"
#include "base/fastmath.h"

/* The calling thread's scratch buffer number slot of at least n floats, kept
 * for reuse by later calls on the same thread; NULL on OOM. Kernels run tiles
 * on the pool's threads, each with its own scratch. Slots: */
enum {
	OD_SCRATCH_WIDEN = 0,   /* cpu_linear.c: BF16/F16 weights widened for sgemm */
	OD_SCRATCH_SCORES = 1,  /* cpu_attention.c: a block of scores */
	OD_SCRATCH_COL = 2,     /* cpu_conv.c: im2col */
	OD_SCRATCH_PACKED = 3,  /* a packed operand shared by one call's tiles (the caller's) */
	OD_SCRATCH_PACKED2 = 4, /* a second one (attention: V) */
	OD_SCRATCH_ASTAGE = 5,  /* cpu_bf16.c, cpu_f32.c: a staged A block */
	OD_SCRATCH_CTILE = 6,   /* cpu_bf16.c, cpu_f32.c: float32 accumulators of a tile */
	OD_CPU_SCRATCH_SLOTS = 7
};
float *od_cpu_thread_scratch(int slot, size_t n);

/* Precision (cpu_isa.c): the context's starting precision from $OD_PRECISION
 * or the CPU (an error for a bad $OD_PRECISION or $OD_CPU_ISA); and whether
 * this context's matrix products run in BF16 now. */
int od_cpu_env_precision(enum od_precision *out);
int od_cpu_bf16(const struct od_ctx *c);

/* A 2-D convolution's shape, for its column matrix (cpu_im2col.c): input
 * Cin × H × W, kernel kh × kw, stride, top and left padding, output width. */
struct od_conv_geom {
	int Cin, H, W, kh, kw, stride, pt, pl, Wout;
};
/* Rows [r0, r0 + kr) of the column matrix for output rows oy0 .. oy0 + rows − 1
 * of image x, into col (kr × rows·Wout). */
void od_im2col_rows(const struct od_conv_geom *g, const float *x, float *col, int64_t r0, int64_t kr, int oy0,
		    int rows);
/* dx += those rows of dcol put back where od_im2col_rows took them from. */
void od_col2im_rows(const struct od_conv_geom *g, float *dx, const float *dcol, int64_t r0, int64_t kr, int oy0,
		    int rows);

/*
 * BF16 matrix products (cpu_bf16.c), C = A·B with float32 accumulation, on the
 * AMX or AVX512-BF16 level (od_cpu_isa() >= OD_ISA_AVX512BF16 only).
 *
 * B is packed: K × N logical, columns in blocks of 16, K padded with zeros to
 * a multiple of 32, each pair of k values of one column side by side (the
 * operand layout of TDPBF16PS and VDPBF16PS): element (k, n) at
 *   [(n/16)·(Kp/2) + k/2]·32 + (n%16)·2 + k%2,   Kp = od_bf16_kpad(K).
 * A is read row by row as stored (BF16 rows in place, F32/F16 rounded to BF16
 * a block at a time).
 *
 * Determinism: each element of C is the sum over k in 32-wide steps in
 * increasing k, whatever the tile it falls in, so the result depends on the
 * shapes and the ISA level, never on the thread count or the tiling.
 */
static inline int64_t od_bf16_kpad(int64_t K) { return (K + 31) & ~(int64_t)31; }
/* uint16 elements of a packed B of K × N. */
static inline size_t od_bf16_packed_len(int64_t K, int64_t N) { return (size_t)((N + 15) / 16) * 16 * od_bf16_kpad(K); }
/* Pack column blocks [jb0, jb1) of B(k, n) = src[n·ld + k] (src rows are B's
 * columns: activations for x·Wᵀ, keys for Q·Kᵀ); n >= N is zero. */
void od_bf16_pack_t(uint16_t *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1);
/* Pack column blocks [jb0, jb1) of B(k, n) = src[k·ld + n] (values for P·V, im2col columns). */
void od_bf16_pack_n(uint16_t *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1);

/* The A operand: rows × K of dtype F32, BF16 or F16, row i at data + i·ld elements. */
struct od_gemm_a {
	const void *data;
	enum od_dtype dtype;
	int64_t ld, rows, K;
};
/* C rows [i0, i0 + ni) × columns [j0, j0 + nj) (i0, j0 multiples of 16) of
 * A·B for B packed with N valid columns; element (i, j) stored at c[i·ldc + j],
 * or at c[j·ldc + i] when trans (x·Wᵀ computed as W·xᵀ), for i < A rows and
 * j < N only. Single-threaded; OD_ENOMEM when scratch fails. */
int od_bf16_gemm(const struct od_gemm_a *a, const uint16_t *bp, int64_t N, int64_t i0, int64_t ni, int64_t j0,
		 int64_t nj, float *c, int64_t ldc, int trans);

/*
 * Float32 matrix products on AVX-512 (cpu_f32.c), the fp32 precision's linear
 * layers at the AVX512 level and above (od_cpu_isa() >= OD_ISA_AVX512).
 *
 * B is packed in panels of 16 columns: element (k, n) at (n/16)·K·16 + k·16 +
 * n%16, zero for n >= N. A is read as stored (float32 rows in place, BF16/F16
 * widened a chunk at a time).
 *
 * Determinism: each element of C is one fused multiply-add chain over k in
 * increasing order, whatever the tile, so the result depends on the shapes and
 * the ISA level, never on the thread count or the tiling.
 */
/* floats of a packed B of K × N. */
static inline size_t od_f32_packed_len(int64_t K, int64_t N) { return (size_t)((N + 15) / 16) * 16 * (size_t)K; }
/* Pack column blocks [jb0, jb1) of B(k, n) = src[n·ld + k] (activations for x·Wᵀ). */
void od_f32_pack_t(float *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1);
/* x·Wᵀ computed as W·xᵀ: rows [i0, i0 + ni) of A (weight rows, i0 any) ×
 * columns [j0, j0 + nj) of B packed with N valid columns (j0 a multiple of
 * 16); element (i, j) plus bias[i] (when bias) stored at c[j·ldc + i], for
 * i < A rows and j < N only. Single-threaded; OD_ENOMEM when scratch fails. */
int od_f32_gemm(const struct od_gemm_a *a, const float *bp, int64_t N, int64_t i0, int64_t ni, int64_t j0,
		int64_t nj, float *c, int64_t ldc, const float *bias);

int od_cpu_linear(struct od_ctx *c, float *y, const float *x, int64_t M, const struct od_tensor *w,
		  const struct od_tensor *bias);
int od_cpu_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
		     const struct od_attention_desc *d);
int od_cpu_rmsnorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, float eps);
int od_cpu_layernorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, const float *b,
		     float eps);
int od_cpu_groupnorm(struct od_ctx *c, float *y, const float *x, int N, int C, int64_t HW, int groups,
		     const float *w, const float *b, float eps, int silu);
int od_cpu_act(struct od_ctx *c, float *y, const float *x, int64_t n, enum od_act a);
int od_cpu_act_mul(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_act act);
int od_cpu_binary(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_binop op);
int od_cpu_axpby(struct od_ctx *c, float *y, const float *x, int64_t n, float alpha, float beta);
int od_cpu_transpose(struct od_ctx *c, float *y, const float *x, int batch, int64_t rows, int64_t cols);
int od_cpu_rmsnorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
			    float eps, const float *scale, int ld, int64_t group);
int od_cpu_layernorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, float eps,
			      const float *scale, int ld, int64_t group);
int od_cpu_rmsnorm_gate_add(struct od_ctx *c, float *x, const float *a, int64_t M, int D, const float *w,
			    float eps, const float *gate, int ld, int64_t group);
int od_cpu_rope(struct od_ctx *c, float *x, int64_t M, int heads, int head_dim, int ld, const float *cos_sin);
int od_cpu_head_gate_add(struct od_ctx *c, float *o, const float *y, int64_t M, int heads, int head_dim,
			 const float *gate);
int od_cpu_conv2d(struct od_ctx *c, float *y, const float *x, int N, int Cin, int H, int W,
		  const struct od_tensor *w, const struct od_tensor *bias, int stride, const int pad[4]);
int od_cpu_upsample2x(struct od_ctx *c, float *y, const float *x, int64_t planes, int H, int W);
int od_cpu_conv2d_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x, int N,
			   int Cin, int H, int W, const struct od_tensor *w, int stride, const int pad[4]);
int od_cpu_groupnorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
			      int N, int C, int64_t HW, int groups, const float *w, const float *b, float eps, int silu);
int od_cpu_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a);
int od_cpu_upsample2x_backward(struct od_ctx *c, float *dx, const float *dy, int64_t planes, int H, int W);
int od_cpu_posterior(struct od_ctx *c, float *z, float *kl, const float *moments, const float *eps, int N, int L,
		     int64_t hw);
int od_cpu_posterior_backward(struct od_ctx *c, float *dmoments, const float *dz, const float *moments,
			      const float *eps, int N, int L, int64_t hw, float kl_weight);

/* Backward passes (training; backend.h, numerics.md §11.7-§11.13). */
int od_cpu_linear_backward_x(struct od_ctx *c, float *dx, const float *dy, int64_t M, const struct od_tensor *w,
			     int acc);
int od_cpu_linear_backward_w(struct od_ctx *c, float *dw, float *db, const float *dy, const float *x, int64_t M,
			     int64_t N, int64_t K);
int od_cpu_attention_lse(struct od_ctx *c, float *o, float *lse, const float *q, const float *k, const float *v,
			 const struct od_attention_desc *d);
int od_cpu_attention_backward(struct od_ctx *c, float *dq, float *dk, float *dv, const float *dout, const float *q,
			      const float *k, const float *v, const float *o, const float *lse,
			      const struct od_attention_desc *d);
int od_cpu_rmsnorm_backward(struct od_ctx *c, float *dx, float *dw, const float *dy, const float *x, int64_t M, int D,
			    const float *w, float eps, int acc);
int od_cpu_layernorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
			      int64_t M, int D, const float *w, float eps, int acc);
int od_cpu_rmsnorm_modulate_backward(struct od_ctx *c, float *dx, float *dw, float *dscale, const float *dy,
				     const float *x, int64_t M, int D, const float *w, float eps, const float *scale,
				     int ld, int64_t group, int acc);
int od_cpu_layernorm_modulate_backward(struct od_ctx *c, float *dx, float *dscale, const float *dy, const float *x,
				       int64_t M, int D, float eps, const float *scale, int ld, int64_t group, int acc);
int od_cpu_rmsnorm_gate_add_backward(struct od_ctx *c, float *da, float *dw, float *dgate, const float *dx,
				     const float *a, int64_t M, int D, const float *w, float eps, const float *gate,
				     int ld, int64_t group);
int od_cpu_rope_backward(struct od_ctx *c, float *dx, int64_t M, int heads, int head_dim, int ld,
			 const float *cos_sin);
int od_cpu_head_gate_add_backward(struct od_ctx *c, float *dy, float *dgate, const float *dout, const float *y,
				  int64_t M, int heads, int head_dim, const float *gate);
int od_cpu_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a);
int od_cpu_act_mul_backward(struct od_ctx *c, float *da, float *db, float *y, const float *dy, const float *a,
			    const float *b, int64_t n, enum od_act act);

/* Scalar activations, shared with tests. SiLU(x) = x·σ(x), σ = 1/(1 + exp(−x))
 * with od_expf and its argument clamped at 88 (numerics.md §8.1): the
 * operations of the AVX2 path (cpu_elementwise.c) and of the SwiGLU backward
 * (cpu_elementwise_backward.c), so all three give the same bits. */
static inline float od_silu_f(float x)
{
	const float e = od_expf(-x < 88.0f ? -x : 88.0f);
	return x * (1.0f / (1.0f + e));
}
float od_act_f(float x, enum od_act a);
/* d act(x) / dx (cpu_elementwise_backward.c) */
float od_act_grad_f(float x, enum od_act a);

#endif
