/*
 * model/nextdit_grad.h: training the NextDiT: trainable float32 weights, the loss of numerics.md §11.1 and
 * its gradient with respect to every weight, through backward kernels of the kernel table.
 *
 * The backward formulas are derived in numerics.md §11.7 onward.
 */
#ifndef OD_NEXTDIT_GRAD_H
#define OD_NEXTDIT_GRAD_H

#include "model/nextdit.h"

#include <stdint.h>

/* Every tensor of od_nextdit_spec, as float32 host buffers the model now reads: after
 * od_nextdit_params_init, m's tensor pointers refer to these buffers (views of dtype F32), so
 * od_nextdit_forward / the sampler use the current values, and an optimiser updates them in place. */
struct od_nextdit_params {
	int n;                 /* number of tensors, in od_nextdit_spec order */
	const char **names;    /* checkpoint names ("layers.0.attention.wq.weight") */
	int64_t *numel;
	float **data;          /* n host buffers */
	struct od_tensor *views;
	const struct od_tensor **orig; /* m's tensor pointers before od_nextdit_params_init */
};
int od_nextdit_params_init(struct od_nextdit_params *p, struct od_nextdit *m);  /* copies (widening BF16/F16) */
void od_nextdit_params_free(struct od_nextdit_params *p, struct od_nextdit *m); /* m points at the mapped weights again or must be closed */

/* Initialise the weights of a model built from a config as the upstream modules initialise them
 * (zeroed final linear and final adaLN, Xavier-uniform where upstream uses it, PyTorch's defaults elsewhere:
 * documented per tensor in numerics.md §11), from a seed. */
int od_nextdit_params_init_random(struct od_nextdit_params *p, uint64_t seed);

/* One training batch: B samples of F frames of C×h×w latents, one text of S tokens per sample. */
struct od_nextdit_batch {
	int B, F, h, w, S;
	const float *x;         /* (B,F,C,h,w) the noisy input x_σ */
	const float *t;         /* (B,F) timesteps 1000·σ (the DiT's `timesteps`, constant within a frame) */
	const float *target;    /* (B,F,C,h,w) the velocity ε − x0 */
	const float *text;      /* (B,S,caption_channels) text states */
	const uint8_t *mask;    /* (B,S) 1 = real token */
	const uint8_t *in_loss; /* (B,F) 1 = the frame is in the loss; NULL: every frame (clean conditions,
				 * numerics.md §11.1a, are not) */
};

/* loss = mean over all B·F·C·h·w elements of (NextDiT(x, t, text) − target)²  (numerics.md §11.1), or
 * with in_loss over the elements of the frames it marks (at least one; §11.1a);
 * grads[i] (numel[i] floats each, caller-allocated) += ∂loss/∂θ_i (the caller zeroes them, so several
 * batches can accumulate). out (optional, (B,F,C,h,w)) receives the model output. Honors m->softcap.
 * The result bytes do not depend on the thread count. */
int od_nextdit_loss_grad(struct od_nextdit *m, const struct od_nextdit_batch *b, float *loss, float **grads,
			 float *out);

/* The options of od_nextdit_loss_grad_ex (od_nextdit_loss_grad: all zero). What the forward keeps for the
 * backward is listed in nextdit_grad.c's header comment (numerics.md §11.14). */
struct od_nextdit_grad_opts {
	int recompute;  /* keep only each block's input and recompute the block's internals during its backward:
			 * activations then take about (depth + 1)·M·D floats plus one block's, not depth blocks' */
	int per_token;  /* c and the adaLN modulations per token, as upstream computes them, instead of once per
			 * frame (nextdit.h): the same values, more work; makes "dL.c" per token */
	const struct od_nextdit_trace *trace; /* optional: gradients of intermediates, as host data:
			 * "dL.model_output" (B,F,C,h,w), "dL.block{i}_out" (B,L,D), "dL.x_embed" (B,L,D),
			 * "dL.c" (B,L,A) with per_token, else (B,F,A) (the sum over each frame's tokens) */
};
int od_nextdit_loss_grad_ex(struct od_nextdit *m, const struct od_nextdit_batch *b,
			    const struct od_nextdit_grad_opts *opts, float *loss, float **grads, float *out);

#endif
