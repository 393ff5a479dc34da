/*
 * t5_config.h: the T5 encoder's configuration and tensor list (numerics.md §1.3,
 * §3.2). Read from text_encoder/config.json. Only the encoder is described: the
 * decoder.* and lm_head.* tensors a T5ForConditionalGeneration file carries are
 * ignored. encoder.embed_tokens.weight, when present, is an alias of shared.weight.
 */
#ifndef OD_T5_CONFIG_H
#define OD_T5_CONFIG_H

#include "formats/checkpoint.h"

enum od_t5_act { OD_T5_RELU, OD_T5_GELU_NEW, OD_T5_GELU, OD_T5_SILU };

struct od_t5_config {
	int d_model;
	int d_kv;
	int heads;
	int inner;           /* heads · d_kv */
	int d_ff;
	int layers;          /* num_layers (encoder) */
	int buckets;         /* relative_attention_num_buckets */
	int max_distance;    /* relative_attention_max_distance (128 when absent) */
	float eps;           /* layer_norm_epsilon */
	int vocab;
	int gated;           /* feed_forward_proj "gated-*": wi_0, wi_1 */
	enum od_t5_act act;  /* gelu_new for "gated-gelu" (transformers' mapping) */
};

int od_t5_config_parse(json_t *cfg, struct od_t5_config *c, const char *label);

/* Enumerate the encoder tensors: shared.weight, then per block
 * layer.0.SelfAttention.{q,k,v,o}.weight (+ relative_attention_bias in block 0),
 * layer.0.layer_norm.weight, layer.1.DenseReluDense.{wi_0,wi_1|wi,wo}.weight,
 * layer.1.layer_norm.weight, then encoder.final_layer_norm.weight. */
int od_t5_spec(const void *cfg, od_spec_cb cb, void *user);

#endif
