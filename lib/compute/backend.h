/*
 * backend.h: compute contexts and the kernel table.
 *
 * Models never call BLAS or CUDA directly. They hold a struct od_ctx (one device:
 * the CPU, or a CUDA GPU through the od-cuda.so plugin) and call the od_*()
 * wrappers below on *device pointers* it allocated. Every kernel has the same
 * contract on both devices, so one forward pass per model runs anywhere and the
 * CPU kernels are the reference the CUDA ones are tested against
 * (tests/unit/test_cuda_twins.c).
 *
 * Conventions shared by all kernels:
 *  - activations are float32, row-major; "M rows of D" means x[m*D + d];
 *  - weights are struct od_tensor views (F32, F16 or BF16) straight from a
 *    checkpoint; each backend turns them into what it computes with (the CPU
 *    converts BF16/F16 in row chunks on the fly, CUDA keeps one BF16 copy per
 *    tensor on the GPU) so model code never cares about the stored dtype;
 *  - small per-channel parameters (norm gains, biases, gates) are fetched once
 *    with od_param(), which returns a cached float32 device copy;
 *  - output may alias input where a kernel says "in place is fine";
 *  - a kernel returns OD_OK or an error status with a message (od_errmsg()).
 *
 * Determinism: every kernel computes each output element with a fixed order of
 * operations that does not depend on the thread count.
 */
#ifndef OD_BACKEND_H
#define OD_BACKEND_H

#include "base/tensor.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum od_device { OD_DEVICE_CPU = 0, OD_DEVICE_CUDA = 1 };

enum od_act { OD_ACT_SILU = 0, OD_ACT_GELU_TANH = 1, OD_ACT_GELU = 2, OD_ACT_RELU = 3, OD_ACT_IDENTITY = 4 };
enum od_binop { OD_OP_ADD = 0, OD_OP_MUL = 1 };

/* Which key/value head a query head h reads (numerics.md §2.6, item 2). */
enum od_kv_map {
	OD_KV_GROUPED = 0, /* h / (q_heads / kv_heads): torch repeat_interleave (NextDiT self-attention) */
	OD_KV_TILED = 1,   /* h % kv_heads: einops "(repeat h)" (NextDiT cross-attention) */
};

/*
 * One multi-head attention call. q is (batch, q_len) rows of q_stride floats,
 * query head h occupying floats [h*head_dim, (h+1)*head_dim); k and v are
 * (batch, kv_len) rows of kv_stride floats with kv_heads heads; o gets
 * (batch, q_len) rows of o_stride floats, head h at h*head_dim. Scores are
 *   s = (q·k)·scale;  if softcap > 0: s = softcap·tanh(s/softcap);
 *   s += bias[h][i][j] (if bias);  keys with key_mask[b][j] == 0 get weight 0;
 * softmax over keys in float32, then o = Σ p·v. A query row whose keys are all
 * masked gets o = 0. Implementations never hold a (q_len × kv_len) matrix for
 * more than a block of query rows.
 */
struct od_attention_desc {
	int batch, q_len, kv_len, q_heads, kv_heads, head_dim;
	int q_stride, kv_stride, o_stride;
	enum od_kv_map kv_map;
	float scale;
	float softcap;            /* 0: none */
	const uint8_t *key_mask;  /* device (batch, kv_len) of 0/1, or NULL */
	const float *bias;        /* device (q_heads, q_len, kv_len), same for every batch entry, or NULL */
};

struct od_ctx;

/* The kernel table. Each backend fills every entry. */
struct od_kernels {
	const char *name;

	/* ---- memory (bytes; device pointers) */
	void *(*alloc)(struct od_ctx *c, size_t bytes);
	void (*free)(struct od_ctx *c, void *p);
	int (*upload)(struct od_ctx *c, void *dst, const void *src, size_t bytes);
	int (*download)(struct od_ctx *c, void *dst, const void *src, size_t bytes);
	int (*copy)(struct od_ctx *c, void *dst, const void *src, size_t bytes);
	int (*sync)(struct od_ctx *c);
	/* Convert a host tensor to a float32 device buffer of numel floats. */
	int (*param)(struct od_ctx *c, float *dst, const struct od_tensor *t);
	/* Release backend state (weight caches, handles). */
	void (*release)(struct od_ctx *c);

	/* ---- dense algebra */
	/* y (M, N) = x (M, K) · Wᵀ + bias; W is (N, K); bias (N) or NULL. */
	int (*linear)(struct od_ctx *c, float *y, const float *x, int64_t M, const struct od_tensor *w,
		      const struct od_tensor *bias);
	int (*attention)(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
			 const struct od_attention_desc *d);

	/* ---- normalisation (per row of D; w, b device float32 or NULL) */
	/* y = x·rsqrt(mean(x²) + eps)·w (numerics.md §2.4; in place is fine) */
	int (*rmsnorm)(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, float eps);
	/* y = (x − mean)·rsqrt(var + eps)·w + b (in place is fine) */
	int (*layernorm)(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
			 const float *b, float eps);
	/* NCHW group norm over (C/groups)·HW values per (n, group), then ·w + b per
	 * channel, then SiLU when silu is set (in place is fine). */
	int (*groupnorm)(struct od_ctx *c, float *y, const float *x, int N, int C, int64_t HW, int groups,
			 const float *w, const float *b, float eps, int silu);

	/* ---- elementwise */
	int (*act)(struct od_ctx *c, float *y, const float *x, int64_t n, enum od_act a);
	/* y = act(a)·b (gated feed-forward: SwiGLU, T5 gated-gelu) */
	int (*act_mul)(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_act act);
	/* y = a (op) b */
	int (*binary)(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_binop op);
	/* y = alpha·x + beta·y */
	int (*axpby)(struct od_ctx *c, float *y, const float *x, int64_t n, float alpha, float beta);
	/* y (cols, rows) = xᵀ for x (rows, cols); batch matrices back to back */
	int (*transpose)(struct od_ctx *c, float *y, const float *x, int batch, int64_t rows, int64_t cols);

	/* ---- NextDiT (numerics.md §2.4-§2.7). "Per group" vectors: row m uses row
	 * m / group of a (M/group, ld) array, i.e. one vector per frame. */
	/* y = rmsnorm(x)·w·(1 + scale) */
	int (*rmsnorm_modulate)(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
				float eps, const float *scale, int ld, int64_t group);
	/* y = layernorm_noaffine(x)·(1 + scale) (final layer) */
	int (*layernorm_modulate)(struct od_ctx *c, float *y, const float *x, int64_t M, int D, float eps,
				  const float *scale, int ld, int64_t group);
	/* x += tanh(gate)·(rmsnorm(a)·w) (sandwich post-norm with tanh gate) */
	int (*rmsnorm_gate_add)(struct od_ctx *c, float *x, const float *a, int64_t M, int D, const float *w,
				float eps, const float *gate, int ld, int64_t group);
	/* Rotate interleaved pairs of each head in place: for token m, pair p of
	 * every head, (a, b) -> (a·cos − b·sin, a·sin + b·cos) with
	 * cos_sin[(m·(head_dim/2) + p)·2 + {0,1}]. Rows are ld floats apart. */
	int (*rope)(struct od_ctx *c, float *x, int64_t M, int heads, int head_dim, int ld, const float *cos_sin);
	/* o[m, h, :] += tanh(gate[h])·y[m, h, :] */
	int (*head_gate_add)(struct od_ctx *c, float *o, const float *y, int64_t M, int heads, int head_dim,
			     const float *gate);

	/* ---- VAE (numerics.md §4.1) */
	/* 2-D convolution, NCHW, weight (Cout, Cin, kh, kw), bias (Cout) or NULL,
	 * zero padding pad = {top, bottom, left, right}, stride s. y is
	 * (N, Cout, Hout, Wout) with Hout = (H + top + bottom − kh)/s + 1. */
	int (*conv2d)(struct od_ctx *c, float *y, const float *x, int N, int Cin, int H, int W,
		      const struct od_tensor *w, const struct od_tensor *bias, int stride, const int pad[4]);
	/* Nearest-neighbour ×2: x (planes, H, W) -> y (planes, 2H, 2W). */
	int (*upsample2x)(struct od_ctx *c, float *y, const float *x, int64_t planes, int H, int W);

	/* ---- training: the backward passes of the NextDiT's kernels (numerics.md §11.7-§11.13).
	 * dX is ∂loss/∂X, with X's shape. Parameter gradients (dw, db, dscale, dgate) are
	 * always accumulated (+=) and summed over rows in a fixed order (fixed row tiles,
	 * then the tiles in order), so their bytes never depend on the thread count. An
	 * input gradient overwrites its buffer (acc = 0) or adds to it (acc = 1). A NULL
	 * gradient pointer skips that gradient. Per-group vectors as in the forward. */
	/* dx (M, K) = acc·dx + dy (M, N)·W for the linear y = x·Wᵀ + b, W (N, K) */
	int (*linear_backward_x)(struct od_ctx *c, float *dx, const float *dy, int64_t M, const struct od_tensor *w,
				 int acc);
	/* dw (N, K) += dyᵀ·x; db (N) += Σ_m dy[m] (db may be NULL); dy (M, N), x (M, K) */
	int (*linear_backward_w)(struct od_ctx *c, float *dw, float *db, const float *dy, const float *x, int64_t M,
				 int64_t N, int64_t K);
	/* attention() that also stores each query row's softmax statistic
	 * lse[(b·q_heads + h)·q_len + i] = max_j s_ij + log Σ_j exp(s_ij − max) (the logits
	 * after scale, cap, bias and mask; −inf for a row whose keys are all masked).
	 * o gets the very bytes attention() gives. */
	int (*attention_lse)(struct od_ctx *c, float *o, float *lse, const float *q, const float *k, const float *v,
			     const struct od_attention_desc *d);
	/* Backward of attention() in the flash manner (§11.10): per block of query rows
	 * the probabilities are recomputed from q, k and the saved lse, never a whole
	 * (q_len × kv_len) matrix. dq += ∂/∂q, dk += ∂/∂k, dv += ∂/∂v (dk, dv summed
	 * over the query heads that read each kv head, in head order); o is the
	 * forward's output, dout its gradient; strides and head maps as the forward's. */
	int (*attention_backward)(struct od_ctx *c, float *dq, float *dk, float *dv, const float *dout, const float *q,
				  const float *k, const float *v, const float *o, const float *lse,
				  const struct od_attention_desc *d);
	/* y = x·rsqrt(mean(x²) + eps)·w (w NULL: 1): dx, dw (§11.8) */
	int (*rmsnorm_backward)(struct od_ctx *c, float *dx, float *dw, const float *dy, const float *x, int64_t M,
				int D, const float *w, float eps, int acc);
	/* y = (x − mean)·rsqrt(var + eps)·w + b (w NULL: no affine): dx, dw, db (§11.9) */
	int (*layernorm_backward)(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
				  int64_t M, int D, const float *w, float eps, int acc);
	/* y = rmsnorm(x)·w·(1 + scale): dx, dw, dscale (per group, ld apart, like scale) */
	int (*rmsnorm_modulate_backward)(struct od_ctx *c, float *dx, float *dw, float *dscale, const float *dy,
					 const float *x, int64_t M, int D, const float *w, float eps, const float *scale,
					 int ld, int64_t group, int acc);
	/* y = layernorm_noaffine(x)·(1 + scale): dx, dscale */
	int (*layernorm_modulate_backward)(struct od_ctx *c, float *dx, float *dscale, const float *dy, const float *x,
					   int64_t M, int D, float eps, const float *scale, int ld, int64_t group,
					   int acc);
	/* x_out = x + tanh(gate)·(rmsnorm(a)·w), given dx = ∂/∂x_out (which is also ∂/∂x):
	 * da = ∂/∂a (overwritten), dw, dgate (per group) */
	int (*rmsnorm_gate_add_backward)(struct od_ctx *c, float *da, float *dw, float *dgate, const float *dx,
					 const float *a, int64_t M, int D, const float *w, float eps, const float *gate,
					 int ld, int64_t group);
	/* The transpose of rope(): rotate each pair by −φ in place (§11.11). */
	int (*rope_backward)(struct od_ctx *c, float *dx, int64_t M, int heads, int head_dim, int ld,
			     const float *cos_sin);
	/* o += tanh(gate[h])·y: dy = tanh(gate[h])·do (overwritten), dgate (heads) += */
	int (*head_gate_add_backward)(struct od_ctx *c, float *dy, float *dgate, const float *dout, const float *y,
				      int64_t M, int heads, int head_dim, const float *gate);
	/* y = act(x): dx = dy·act'(x) (dx may alias dy) */
	int (*act_backward)(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n, enum od_act a);
	/* y = act(a)·b: da = dy·b·act'(a), db = dy·act(a), and (when y is not NULL) the forward's y again, for
	 * the next layer's weight gradient (§11.13). Elementwise: da may alias a or dy, db may alias b or dy. */
	int (*act_mul_backward)(struct od_ctx *c, float *da, float *db, float *y, const float *dy, const float *a,
				const float *b, int64_t n, enum od_act act);

	/* ---- VAE training: backward passes (numerics.md §12.3). Each takes the upstream gradient
	 * dy and what the forward read (x, weights), and writes the gradient with respect to the input,
	 * dx, overwriting it; weight gradients (dw, db: device float32, the shape of the weight) are
	 * ACCUMULATED (+=) so a caller sums them over a batch by calling again. A NULL output is skipped.
	 * Every sum runs in an order fixed by the shape, so the bytes do not depend on the thread count. */
	/* conv2d's backward (same x, w, stride and pad as the forward; dy (N, Cout, Hout, Wout)):
	 * dx (N, Cin, H, W) = col2im(Wᵀ·dy), dw += Σ_n dy·im2col(x)ᵀ, db += Σ_n,pixels dy. */
	int (*conv2d_backward)(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x,
			       int N, int Cin, int H, int W, const struct od_tensor *w, int stride, const int pad[4]);
	/* groupnorm's backward (the forward's x, w, b, eps and silu; statistics are recomputed from x):
	 * dx (N, C, HW); dw, db (C) +=. w and b may be NULL as in the forward (then dw, db must be NULL).
	 * dx may alias dy. */
	int (*groupnorm_backward)(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy,
				  const float *x, int N, int C, int64_t HW, int groups, const float *w, const float *b,
				  float eps, int silu);
	/* upsample2x's backward: dx (planes, H, W) = the sum of the 2×2 block of dy (planes, 2H, 2W) it fed. */
	int (*upsample2x_backward)(struct od_ctx *c, float *dx, const float *dy, int64_t planes, int H, int W);
	/* The AutoencoderKL posterior (numerics.md §4.2) of N moments (N, 2L, hw) (mean: planes 0..L-1,
	 * logvar: L..2L-1), per element: lv = clamp(logvar, −30, 20), z (N, L, hw) = mean + exp(0.5·lv)·eps,
	 * and, when kl is not NULL, kl (N, L, hw) = 0.5·(mean² + exp(lv) − 1 − lv), the terms of
	 * KL(q(z|x) ‖ N(0, I)). */
	int (*posterior)(struct od_ctx *c, float *z, float *kl, const float *moments, const float *eps, int N, int L,
			 int64_t hw);
	/* Its backward for the loss Σ dz·z + kl_weight·Σ kl: dmoments (N, 2L, hw), zero for a logvar
	 * outside [−30, 20] (torch.clamp passes the gradient where min <= x <= max). */
	int (*posterior_backward)(struct od_ctx *c, float *dmoments, const float *dz, const float *moments,
				  const float *eps, int N, int L, int64_t hw, float kl_weight);
};

#define OD_KERNELS_ABI 2

struct od_param_cache;

/*
 * Precision of the CPU's matrix products (linear layers, attention's Q·Kᵀ and
 * P·V, the VAE's convolutions; numerics.md §8). FP32: float32 throughout.
 * BF16: both operands rounded to bfloat16 (weights used as stored when they
 * are BF16, float32 weights rounded a tile at a time; activations rounded a
 * tile at a time), products accumulated in float32; everything else (norms,
 * softmax, RoPE, residual adds, the sampler) stays float32. BF16 needs the
 * AVX512-BF16 or AMX instructions (od_cpu_isa()); on a CPU without them the
 * products run in float32 whatever the precision says. The CUDA backend
 * always multiplies in BF16 and ignores it.
 */
enum od_precision { OD_PRECISION_FP32 = 0, OD_PRECISION_BF16 = 1 };

/* Parse "fp32" / "bf16" (also "f32"); returns 0 or -1. */
int od_precision_parse(const char *name, enum od_precision *out);
const char *od_precision_name(enum od_precision p);
/* BF16 where the CPU multiplies BF16 natively (od_cpu_isa() >= AVX512-BF16),
 * FP32 elsewhere. */
enum od_precision od_precision_default(void);

/*
 * The CPU's instruction-set levels the kernels choose from, detected at run
 * time (cpuid, xgetbv, and for AMX the kernel's permission through
 * arch_prctl(ARCH_REQ_XCOMP_PERM)); the binary itself runs on any x86-64.
 *   AMX         BF16 products on the tile unit (TDPBF16PS), packing in AVX-512
 *   AVX512BF16  BF16 products with VDPBF16PS
 *   AVX512      no native BF16: products in float32; the float32 linear
 *               layers on od's AVX-512 kernel (cpu_f32.c), at every level
 *               from here up
 *   AVX2        products in float32 (OpenBLAS)
 *   GENERIC     not x86-64, or no AVX2: as AVX2
 * $OD_CPU_ISA=amx|avx512bf16|avx512|avx2 lowers the level (never raises it),
 * so every path can be exercised on one machine.
 */
enum od_cpu_isa { OD_ISA_GENERIC = 0, OD_ISA_AVX2 = 1, OD_ISA_AVX512 = 2, OD_ISA_AVX512BF16 = 3, OD_ISA_AMX = 4 };
/* The level the CPU and the OS support. */
enum od_cpu_isa od_cpu_isa_supported(void);
/* The level the kernels use: od_cpu_isa_supported() lowered by $OD_CPU_ISA
 * and by od_cpu_isa_limit(). */
enum od_cpu_isa od_cpu_isa(void);
/* Lower the level for this process (tests); returns the level now in use. */
enum od_cpu_isa od_cpu_isa_limit(enum od_cpu_isa max);
/* Parse "amx", "avx512bf16", "avx512", "avx2" (and "generic"); returns 0 or -1. */
int od_cpu_isa_parse(const char *name, enum od_cpu_isa *out);
const char *od_cpu_isa_name(enum od_cpu_isa i);

struct od_ctx {
	enum od_device device;
	const struct od_kernels *k;
	void *dev;                    /* backend state */
	int threads;                  /* CPU threads */
	struct od_param_cache *params;
	size_t bytes_now, bytes_peak; /* device memory allocated through od_alloc */
	void *plugin;                 /* dlopen handle of od-cuda.so */
	/* od_error(), for the CUDA plugin: it is dlopen'ed and cannot link libod,
	 * whose symbols the tools do not export. */
	int (*error)(int code, const char *fmt, ...);
	enum od_precision precision;  /* of the CPU's matrix products (above) */
};

/* Parse "cpu" / "cuda"; returns 0 or -1. */
int od_device_parse(const char *name, enum od_device *out);
const char *od_device_name(enum od_device d);

/* Create a context. threads <= 0 means all online CPUs. The precision is
 * $OD_PRECISION when set (fp32 or bf16), else od_precision_default(); callers
 * may change c->precision at any time. An unknown $OD_PRECISION or
 * $OD_CPU_ISA is an OD_EINVAL error. For CUDA the plugin is
 * found through $OD_CUDA_PLUGIN, next to the executable (../lib/od-cuda.so,
 * ../lib/od/od-cuda.so) or in the installed libdir; a missing plugin, driver or
 * GPU is an OD_EDEVICE error. */
int od_ctx_create(struct od_ctx **out, enum od_device dev, int threads);
void od_ctx_destroy(struct od_ctx *c);

/* Device float buffers. NULL with an error set on failure. */
float *od_alloc(struct od_ctx *c, size_t n_floats);
void *od_alloc_bytes(struct od_ctx *c, size_t bytes);
void od_free(struct od_ctx *c, void *p);

/* A cached float32 device copy of a (small) tensor: norm gains, biases, gates.
 * Entries are keyed by the tensor's data address (and checked against its dtype
 * and size); a caller that unmaps weights and keeps using the context must call
 * od_ctx_clear_params() first. On the CPU a float32 tensor is returned in place. */
const float *od_param(struct od_ctx *c, const struct od_tensor *t);
/* Drop every cached parameter copy. */
void od_ctx_clear_params(struct od_ctx *c);

/* CPU-side helpers for kernels (compute/cpu/cpu_backend.c). */
extern const struct od_kernels od_cpu_kernels;

/* ---- thin wrappers used by model code */
static inline int od_upload(struct od_ctx *c, void *dst, const void *src, size_t bytes)
{ return c->k->upload(c, dst, src, bytes); }
static inline int od_download(struct od_ctx *c, void *dst, const void *src, size_t bytes)
{ return c->k->download(c, dst, src, bytes); }
static inline int od_copy(struct od_ctx *c, void *dst, const void *src, size_t bytes)
{ return c->k->copy(c, dst, src, bytes); }
static inline int od_sync(struct od_ctx *c) { return c->k->sync(c); }
static inline int od_linear(struct od_ctx *c, float *y, const float *x, int64_t M, const struct od_tensor *w,
			    const struct od_tensor *b)
{ return c->k->linear(c, y, x, M, w, b); }
static inline int od_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
			       const struct od_attention_desc *d)
{ return c->k->attention(c, o, q, k, v, d); }
static inline int od_rmsnorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w, float eps)
{ return c->k->rmsnorm(c, y, x, M, D, w, eps); }
static inline int od_layernorm(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
			       const float *b, float eps)
{ return c->k->layernorm(c, y, x, M, D, w, b, eps); }
static inline int od_groupnorm(struct od_ctx *c, float *y, const float *x, int N, int C, int64_t HW, int groups,
			       const float *w, const float *b, float eps, int silu)
{ return c->k->groupnorm(c, y, x, N, C, HW, groups, w, b, eps, silu); }
static inline int od_act(struct od_ctx *c, float *y, const float *x, int64_t n, enum od_act a)
{ return c->k->act(c, y, x, n, a); }
static inline int od_act_mul(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_act act)
{ return c->k->act_mul(c, y, a, b, n, act); }
static inline int od_binary(struct od_ctx *c, float *y, const float *a, const float *b, int64_t n, enum od_binop op)
{ return c->k->binary(c, y, a, b, n, op); }
static inline int od_axpby(struct od_ctx *c, float *y, const float *x, int64_t n, float alpha, float beta)
{ return c->k->axpby(c, y, x, n, alpha, beta); }
static inline int od_transpose(struct od_ctx *c, float *y, const float *x, int batch, int64_t rows, int64_t cols)
{ return c->k->transpose(c, y, x, batch, rows, cols); }
static inline int od_rmsnorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, const float *w,
				      float eps, const float *scale, int ld, int64_t group)
{ return c->k->rmsnorm_modulate(c, y, x, M, D, w, eps, scale, ld, group); }
static inline int od_layernorm_modulate(struct od_ctx *c, float *y, const float *x, int64_t M, int D, float eps,
					const float *scale, int ld, int64_t group)
{ return c->k->layernorm_modulate(c, y, x, M, D, eps, scale, ld, group); }
static inline int od_rmsnorm_gate_add(struct od_ctx *c, float *x, const float *a, int64_t M, int D, const float *w,
				      float eps, const float *gate, int ld, int64_t group)
{ return c->k->rmsnorm_gate_add(c, x, a, M, D, w, eps, gate, ld, group); }
static inline int od_rope(struct od_ctx *c, float *x, int64_t M, int heads, int head_dim, int ld, const float *cs)
{ return c->k->rope(c, x, M, heads, head_dim, ld, cs); }
static inline int od_head_gate_add(struct od_ctx *c, float *o, const float *y, int64_t M, int heads, int head_dim,
				   const float *gate)
{ return c->k->head_gate_add(c, o, y, M, heads, head_dim, gate); }
static inline int od_conv2d(struct od_ctx *c, float *y, const float *x, int N, int Cin, int H, int W,
			    const struct od_tensor *w, const struct od_tensor *b, int stride, const int pad[4])
{ return c->k->conv2d(c, y, x, N, Cin, H, W, w, b, stride, pad); }
static inline int od_upsample2x(struct od_ctx *c, float *y, const float *x, int64_t planes, int H, int W)
{ return c->k->upsample2x(c, y, x, planes, H, W); }
static inline int od_linear_backward_x(struct od_ctx *c, float *dx, const float *dy, int64_t M,
				       const struct od_tensor *w, int acc)
{ return c->k->linear_backward_x(c, dx, dy, M, w, acc); }
static inline int od_linear_backward_w(struct od_ctx *c, float *dw, float *db, const float *dy, const float *x,
				       int64_t M, int64_t N, int64_t K)
{ return c->k->linear_backward_w(c, dw, db, dy, x, M, N, K); }
static inline int od_attention_lse(struct od_ctx *c, float *o, float *lse, const float *q, const float *k,
				   const float *v, const struct od_attention_desc *d)
{ return c->k->attention_lse(c, o, lse, q, k, v, d); }
static inline int od_attention_backward(struct od_ctx *c, float *dq, float *dk, float *dv, const float *dout,
					const float *q, const float *k, const float *v, const float *o, const float *lse,
					const struct od_attention_desc *d)
{ return c->k->attention_backward(c, dq, dk, dv, dout, q, k, v, o, lse, d); }
static inline int od_rmsnorm_backward(struct od_ctx *c, float *dx, float *dw, const float *dy, const float *x,
				      int64_t M, int D, const float *w, float eps, int acc)
{ return c->k->rmsnorm_backward(c, dx, dw, dy, x, M, D, w, eps, acc); }
static inline int od_layernorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy,
					const float *x, int64_t M, int D, const float *w, float eps, int acc)
{ return c->k->layernorm_backward(c, dx, dw, db, dy, x, M, D, w, eps, acc); }
static inline int od_rmsnorm_modulate_backward(struct od_ctx *c, float *dx, float *dw, float *dscale, const float *dy,
					       const float *x, int64_t M, int D, const float *w, float eps,
					       const float *scale, int ld, int64_t group, int acc)
{ return c->k->rmsnorm_modulate_backward(c, dx, dw, dscale, dy, x, M, D, w, eps, scale, ld, group, acc); }
static inline int od_layernorm_modulate_backward(struct od_ctx *c, float *dx, float *dscale, const float *dy,
						 const float *x, int64_t M, int D, float eps, const float *scale, int ld,
						 int64_t group, int acc)
{ return c->k->layernorm_modulate_backward(c, dx, dscale, dy, x, M, D, eps, scale, ld, group, acc); }
static inline int od_rmsnorm_gate_add_backward(struct od_ctx *c, float *da, float *dw, float *dgate, const float *dx,
					       const float *a, int64_t M, int D, const float *w, float eps,
					       const float *gate, int ld, int64_t group)
{ return c->k->rmsnorm_gate_add_backward(c, da, dw, dgate, dx, a, M, D, w, eps, gate, ld, group); }
static inline int od_rope_backward(struct od_ctx *c, float *dx, int64_t M, int heads, int head_dim, int ld,
				   const float *cs)
{ return c->k->rope_backward(c, dx, M, heads, head_dim, ld, cs); }
static inline int od_head_gate_add_backward(struct od_ctx *c, float *dy, float *dgate, const float *dout,
					    const float *y, int64_t M, int heads, int head_dim, const float *gate)
{ return c->k->head_gate_add_backward(c, dy, dgate, dout, y, M, heads, head_dim, gate); }
static inline int od_act_backward(struct od_ctx *c, float *dx, const float *dy, const float *x, int64_t n,
				  enum od_act a)
{ return c->k->act_backward(c, dx, dy, x, n, a); }
static inline int od_act_mul_backward(struct od_ctx *c, float *da, float *db, float *y, const float *dy,
				      const float *a, const float *b, int64_t n, enum od_act act)
{ return c->k->act_mul_backward(c, da, db, y, dy, a, b, n, act); }
static inline int od_conv2d_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy,
				     const float *x, int N, int Cin, int H, int W, const struct od_tensor *w, int stride,
				     const int pad[4])
{ return c->k->conv2d_backward(c, dx, dw, db, dy, x, N, Cin, H, W, w, stride, pad); }
static inline int od_groupnorm_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy,
					const float *x, int N, int C, int64_t HW, int groups, const float *w,
					const float *b, float eps, int silu)
{ return c->k->groupnorm_backward(c, dx, dw, db, dy, x, N, C, HW, groups, w, b, eps, silu); }
static inline int od_upsample2x_backward(struct od_ctx *c, float *dx, const float *dy, int64_t planes, int H, int W)
{ return c->k->upsample2x_backward(c, dx, dy, planes, H, W); }
static inline int od_posterior(struct od_ctx *c, float *z, float *kl, const float *moments, const float *eps, int N,
			       int L, int64_t hw)
{ return c->k->posterior(c, z, kl, moments, eps, N, L, hw); }
static inline int od_posterior_backward(struct od_ctx *c, float *dmoments, const float *dz, const float *moments,
					const float *eps, int N, int L, int64_t hw, float kl_weight)
{ return c->k->posterior_backward(c, dmoments, dz, moments, eps, N, L, hw, kl_weight); }

#ifdef __cplusplus
}
#endif

#endif
