/*
 * train/adamw.h: the optimiser side of training: AdamW exactly as torch 1.13
 * performs it, global gradient-norm clipping, the learning-rate schedule and an
 * exponential moving average of the weights (numerics.md §11.4, golden README
 * §11.4). The weights themselves are float32 master copies
 * (model/nextdit_grad.h); every update below is elementwise on them.
 *
 * AdamW, per element, step k = 1, 2, ... (m = v = 0 before step 1); ⊗ ⊘ ⊕ are
 * float32 operations, fma(a,b,c) = a·b + c rounded once, and the scalars are
 * formed in double and rounded to float32 once:
 *
 *   p ← p ⊗ fp32(1 − lr·wd)                          decoupled decay first, on the old weight
 *   m ← fma(g, fp32(1 − β1), m ⊗ fp32(β1))
 *   v ← fma(fp32(1 − β2) ⊗ g, g, v ⊗ fp32(β2))
 *   d ← (sqrt(v) ⊘ fp32(sqrt(1 − β2^k))) ⊕ fp32(eps)
 *   p ← p ⊕ ((fp32(−lr/(1 − β1^k)) ⊗ m) ⊘ d)
 *
 * which reproduces torch.optim.AdamW (foreach off, amsgrad off) bit for bit,
 * including the golden two steps (tests/unit/test_train_adamw.c). lr may change
 * from step to step (the schedule); β^k is pow() in double, as Python's `**`.
 *
 * Clipping: the global L2 norm ‖g‖ = sqrt(Σ over every tensor and element of
 * g²), summed in double in a fixed order (fixed 64 Ki-element chunks, chunk
 * sums added in order), so it does not depend on the thread count. When
 * ‖g‖ > max_norm every gradient is multiplied by fp32(max_norm / (‖g‖ + 1e-6)),
 * as torch.nn.utils.clip_grad_norm_ does.
 *
 * Schedule, step k = 1..N: linear warm-up lr·k/W for k <= W, then constant lr,
 * or cosine from lr down to min_lr at step N:
 *   min_lr + (lr − min_lr)·(1 + cos(π·(k − W)/(N − W)))/2, in double.
 *
 * EMA, after each optimiser step: e ← e ⊖ fp32(1 − decay) ⊗ (e ⊖ p), float32
 * operations (diffusers' EMAModel form).
 */
#ifndef OD_TRAIN_ADAMW_H
#define OD_TRAIN_ADAMW_H

#include <stdint.h>

struct od_adamw_opts {
	double beta1, beta2, eps, weight_decay; /* torch defaults 0.9, 0.999, 1e-8, 0.01 */
};

/* Optimiser state for n tensors of numel[i] float32 values. */
struct od_adamw {
	struct od_adamw_opts o;
	int n;
	const int64_t *numel;  /* borrowed: n counts */
	int64_t step;          /* steps taken */
	float **m, **v;        /* exp_avg, exp_avg_sq */
};

/* Zeroed moments (step 0). numel must outlive a. */
int od_adamw_init(struct od_adamw *a, const struct od_adamw_opts *o, int n, const int64_t *numel);
void od_adamw_free(struct od_adamw *a);

/* One step at learning rate lr: params[i] (numel[i] floats) updated in place
 * from grads[i]; a->step becomes k. A tensor whose grads[i] is NULL is frozen:
 * neither it nor its moments change (not even by the weight decay). Runs on od_parallel_for threads; the bytes
 * do not depend on their number. */
void od_adamw_step(struct od_adamw *a, float *const *params, const float *const *grads, double lr);

/* The scalars of step k at lr, as float32 (exposed for tests and numerics.md). */
struct od_adamw_scalars {
	float decay;       /* fp32(1 − lr·wd) */
	float beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
	float neg_step;    /* fp32(−lr/(1 − β1^k)) */
	float bc2_sqrt;    /* fp32(sqrt(1 − β2^k)) */
};
void od_adamw_scalars(const struct od_adamw_opts *o, int64_t k, double lr, struct od_adamw_scalars *s);

/* The update of one element (the formula above), for tests and references. */
void od_adamw_element(const struct od_adamw_scalars *s, float *p, float *m, float *v, float g);

/* ‖g‖ over n tensors (double, fixed order); NULL grads[i] (frozen) count as 0. */
double od_grad_norm(int n, const int64_t *numel, const float *const *grads);
/* Scale the gradients when norm > max_norm (max_norm <= 0: never). Returns the
 * factor applied (1 when none). */
float od_grad_clip(int n, const int64_t *numel, float *const *grads, double norm, double max_norm);

enum od_lr_shape { OD_LR_CONSTANT = 0, OD_LR_COSINE = 1 };
struct od_lr_schedule {
	double lr, min_lr;
	int64_t warmup, total;
	enum od_lr_shape shape;
};
/* The learning rate of step k (1-based). */
double od_lr_at(const struct od_lr_schedule *s, int64_t k);
/* "constant" / "cosine" -> shape; -1 if unknown. */
int od_lr_shape_parse(const char *name);
const char *od_lr_shape_name(enum od_lr_shape s);

/* e ← e − fp32(1 − decay)·(e − p) over n tensors. */
void od_ema_update(int n, const int64_t *numel, float *const *ema, const float *const *params, double decay);

#endif
