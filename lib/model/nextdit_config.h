/*
 * nextdit_config.h: the NextDiT transformer's configuration and tensor list
 * (numerics.md §1.2, §2.9). Read from transformer/config.json; missing keys take
 * the defaults of upstream's NextDiT constructor, keys present always win.
 */
#ifndef OD_NEXTDIT_CONFIG_H
#define OD_NEXTDIT_CONFIG_H

#include "formats/checkpoint.h"

struct od_nextdit_config {
	int hidden;           /* hidden_size D */
	int depth;            /* number of blocks */
	int heads;            /* num_heads */
	int kv_heads;         /* num_kv_heads (defaults to heads) */
	int head_dim;         /* D / heads, divisible by 6 (3-D RoPE, §2.5) */
	int in_channels;      /* latent channels (16) */
	int out_channels;     /* = in_channels (pred_sigma false) */
	int patch_t, patch_h, patch_w; /* patch_size; patch_t must be 1 */
	int patch_dim;        /* patch_t·patch_h·patch_w·in_channels (64) */
	int caption_channels; /* T5 width (2048) */
	int adaln;            /* min(hidden, 1024): width of t/y embeddings and adaLN input */
	int ffn_hidden;       /* SwiGLU inner width (numerics.md §1.2) */
	int qk_norm;          /* q_norm/k_norm LayerNorms present */
	float norm_eps;       /* RMSNorm eps (1e-5) */
	int rope_max;         /* rotary_max_length: positions per spatial axis */
	int rope_max_t;       /* rotary_max_length_t, or rope_max when null */
	int input_size[3];    /* config input_size (default sample size / 8) */
};

/* Parse transformer/config.json. label names it in errors. */
int od_nextdit_config_parse(json_t *cfg, struct od_nextdit_config *c, const char *label);

/* Enumerate the state-dict tensors (§2.9) in a fixed order:
 * x_embedder.{weight,bias}, t_embedder.mlp.{0,2}.{weight,bias},
 * y_embedder.0.{weight,bias}, y_embedder.1.{weight,bias},
 * then per block i the names of od_nextdit_block_tensor_names[], then
 * final_layer.linear.{weight,bias}, final_layer.adaLN_modulation.1.{weight,bias}. */
int od_nextdit_spec(const void *cfg, od_spec_cb cb, void *user);

/* Per-block tensor name suffixes ("attention.wq.weight", ...), in spec order;
 * q_norm/k_norm entries are skipped by the spec when qk_norm is false. */
enum {
	OD_DIT_WQ, OD_DIT_WK, OD_DIT_WV, OD_DIT_WO,
	OD_DIT_Q_NORM_W, OD_DIT_Q_NORM_B, OD_DIT_K_NORM_W, OD_DIT_K_NORM_B,
	OD_DIT_WK_Y, OD_DIT_WV_Y, OD_DIT_KY_NORM_W, OD_DIT_KY_NORM_B, OD_DIT_GATE,
	OD_DIT_W1, OD_DIT_W2, OD_DIT_W3,
	OD_DIT_ATTN_NORM1, OD_DIT_ATTN_NORM2, OD_DIT_FFN_NORM1, OD_DIT_FFN_NORM2,
	OD_DIT_ATTN_Y_NORM, OD_DIT_ADALN_W, OD_DIT_ADALN_B,
	OD_DIT_BLOCK_TENSORS
};
extern const char *const od_nextdit_block_tensor_names[OD_DIT_BLOCK_TENSORS];

#endif
