/*
 * t5.h: the T5 v1.1 encoder (numerics.md §3.2), as transformers 4.45's
 * T5EncoderModel computes it, in float32 through the kernel table.
 *
 *   x = shared.weight[ids]                        no scaling, no positions
 *   bias[h,i,j] = rel_bias[bucket(j − i), h]      layer 0's table, all layers
 *   for each block:
 *     h = rmsnorm(x)·w;  x += o(attention(q(h), k(h), v(h)))
 *         scores q·kᵀ (no 1/√d) + bias, pad keys masked, fp32 softmax
 *     h = rmsnorm(x)·w;  x += wo(gelu_new(wi_0 h) ⊙ wi_1 h)   (gated-gelu)
 *   out = rmsnorm(x)·final_layer_norm.weight       (eps from the config)
 *
 * Weights: text_encoder/ of the checkpoint, F32, F16 or BF16 (widened on the
 * fly by the linear kernel; compute is float32). decoder.* and lm_head.* are
 * never touched; encoder.embed_tokens.weight is used when shared.weight is
 * absent. Pad positions get outputs too (their queries see the real keys):
 * the golden data compares all rows.
 *
 * Usage:
 *   struct od_t5 *t5;
 *   od_t5_open(&t5, ctx, "MODEL");                 // MODEL/text_encoder
 *   od_t5_encode(t5, 1, 300, ids, mask, out, NULL); // out: (300, d_model) host
 *   od_t5_close(t5);
 */
#ifndef OD_T5_H
#define OD_T5_H

#include "compute/backend.h"
#include "formats/checkpoint.h"
#include "model/t5_config.h"

struct od_t5_layer {
	const struct od_tensor *q, *k, *v, *o, *ln_attn;
	const struct od_tensor *wi0, *wi1, *wo, *ln_ff; /* wi1 NULL when not gated (wi0 is "wi") */
};

struct od_t5 {
	struct od_t5_config cfg;
	struct od_component comp;
	struct od_ctx *ctx;
	const struct od_tensor *embed, *rel_bias, *final_norm;
	struct od_t5_layer *layer;
	/* device buffers for the current (batch, length), and the position bias */
	int batch, len, bias_len;
	float *x, *h, *q, *k, *v, *a, *f0, *f1, *bias;
	uint8_t *mask;
};

/* Open MODEL/text_encoder: parse config.json, map the weights and check every
 * encoder tensor's name and shape (OD_EMODEL naming the tensor otherwise). */
int od_t5_open(struct od_t5 **out, struct od_ctx *ctx, const char *model_dir);
void od_t5_close(struct od_t5 *t);

/* transformers T5Attention._relative_position_bucket, bidirectional: the
 * bucket of relative position rel = key − query. The logarithmic part is
 * computed in float32 and truncated, as torch does it. */
int od_t5_bucket(int rel, int num_buckets, int max_distance);

/* compute_bias(len, len) of layer 0 without the mask: bias (heads, len, len),
 * host memory, bias[h][i][j] = table[bucket(j − i)][h]. */
int od_t5_position_bias(const struct od_t5 *t, int len, float *bias);

/* Encode batch rows of len ids (batch·len, host) with their attention masks
 * (1 = real token, 0 = pad). out (host) gets batch·len·d_model floats:
 * last_hidden_state. block_out, if not NULL, holds cfg.layers host pointers
 * (or NULLs) that get each block's output (before the final norm). Ids must
 * be below the vocabulary size; a row whose mask is all zero is refused. */
int od_t5_encode(struct od_t5 *t, int batch, int len, const int32_t *ids, const uint8_t *mask, float *out,
		 float **block_out);

#endif
