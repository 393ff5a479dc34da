/*
 * cpu_kernels.h: the CPU backend's kernels (private to lib/). They are the
 * reference implementation of every entry of struct od_kernels (backend.h) and
 * the twins the CUDA kernels are tested against.
 */
#ifndef OD_CPU_KERNELS_H
#define OD_CPU_KERNELS_H

#include "compute/backend.h"

/* The calling thread's scratch buffer number slot (0..2) of at least n
 * floats, kept for reuse by later calls on the same thread; NULL on OOM.
 * Kernels run tiles on the pool's threads, each with its own scratch. */
float *od_cpu_thread_scratch(int slot, size_t n);

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

/* Scalar activations, shared with tests. */
static inline float od_silu_f(float x) { return x / (1.0f + __builtin_expf(-x)); }
float od_act_f(float x, enum od_act a);
/* d act(x) / dx (cpu_elementwise_backward.c) */
float od_act_grad_f(float x, enum od_act a);

#endif
