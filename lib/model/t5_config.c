/* t5_config.c: T5 encoder config parsing and tensor list (see t5_config.h). */
#include "model/t5_config.h"
#include "base/error.h"

#include <stdio.h>
#include <string.h>

int od_t5_config_parse(json_t *cfg, struct od_t5_config *c, const char *label)
{
	long long v;
	double d;
	int rc;
	memset(c, 0, sizeof *c);
	/* Every field is bounded before it is used (a config is outside input):
	 * generously around T5 v1.1 XXL's (d_model 4096, 64 heads × 64, d_ff 10240,
	 * 24 layers), so that every size below fits an int and every tensor's
	 * element count an int64. */
#define INT(key, def, req, hi, field)                                               \
	do {                                                                        \
		if ((rc = od_cfg_int_in(cfg, key, def, req, 1, hi, &v, label)))      \
			return rc;                                                  \
		c->field = (int)v;                                                  \
	} while (0)
	INT("d_model", 512, 1, 65536, d_model);
	INT("d_kv", 64, 1, 4096, d_kv);
	INT("num_heads", 8, 1, 1024, heads);
	INT("d_ff", 2048, 1, 1 << 20, d_ff);
	INT("num_layers", 6, 1, 1024, layers);
	INT("relative_attention_num_buckets", 32, 0, 65536, buckets);
	INT("relative_attention_max_distance", 128, 0, 1 << 20, max_distance);
	INT("vocab_size", 32128, 1, 1 << 20, vocab);
#undef INT
	/* RMSNorm divides by sqrt(mean(x²) + eps): eps must be positive */
	if ((rc = od_cfg_num_in(cfg, "layer_norm_epsilon", 1e-6, 0, 1e-30, 1, &d, label)))
		return rc;
	c->eps = (float)d;
	if ((long long)c->heads * c->d_kv > (1 << 20))
		return od_error(OD_EMODEL, "'%s': num_heads × d_kv = %d × %d is over %d", label, c->heads, c->d_kv, 1 << 20);
	c->inner = c->heads * c->d_kv;
	/* transformers T5Config: "gated-gelu" means gelu_new; otherwise the part after
	 * "gated-" (or the whole string) names the activation. */
	const char *ff = od_cfg_str(cfg, "feed_forward_proj", "relu");
	const char *act = ff;
	if (!strncmp(ff, "gated-", 6)) {
		c->gated = 1;
		act = ff + 6;
	}
	if (!strcmp(act, "relu"))
		c->act = OD_T5_RELU;
	else if (!strcmp(act, "gelu"))
		c->act = c->gated ? OD_T5_GELU_NEW : OD_T5_GELU;
	else if (!strcmp(act, "gelu_new"))
		c->act = OD_T5_GELU_NEW;
	else if (!strcmp(act, "silu") || !strcmp(act, "swish"))
		c->act = OD_T5_SILU;
	else
		return od_error(OD_EMODEL, "'%s': feed_forward_proj '%s' is not supported", label, ff);
	/* An explicit dense_act_fn (written by newer transformers) wins. */
	const char *dense = od_cfg_str(cfg, "dense_act_fn", NULL);
	if (dense) {
		if (!strcmp(dense, "gelu_new"))
			c->act = OD_T5_GELU_NEW;
		else if (!strcmp(dense, "relu"))
			c->act = OD_T5_RELU;
		else if (!strcmp(dense, "gelu"))
			c->act = OD_T5_GELU;
		else if (!strcmp(dense, "silu"))
			c->act = OD_T5_SILU;
		else
			return od_error(OD_EMODEL, "'%s': dense_act_fn '%s' is not supported", label, dense);
	}
	return OD_OK;
}

int od_t5_spec(const void *cfgp, od_spec_cb cb, void *user)
{
	const struct od_t5_config *c = cfgp;
	char name[160];
	int64_t s[2];
#define T(nd, a, b, ...) do { s[0] = a; s[1] = b; snprintf(name, sizeof name, __VA_ARGS__); \
		OD_TRY(cb(user, name, nd, s)); } while (0)
	T(2, c->vocab, c->d_model, "shared.weight");
	for (int i = 0; i < c->layers; i++) {
		T(2, c->inner, c->d_model, "encoder.block.%d.layer.0.SelfAttention.q.weight", i);
		T(2, c->inner, c->d_model, "encoder.block.%d.layer.0.SelfAttention.k.weight", i);
		T(2, c->inner, c->d_model, "encoder.block.%d.layer.0.SelfAttention.v.weight", i);
		T(2, c->d_model, c->inner, "encoder.block.%d.layer.0.SelfAttention.o.weight", i);
		if (i == 0)
			T(2, c->buckets, c->heads, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
		T(1, c->d_model, 0, "encoder.block.%d.layer.0.layer_norm.weight", i);
		if (c->gated) {
			T(2, c->d_ff, c->d_model, "encoder.block.%d.layer.1.DenseReluDense.wi_0.weight", i);
			T(2, c->d_ff, c->d_model, "encoder.block.%d.layer.1.DenseReluDense.wi_1.weight", i);
		} else {
			T(2, c->d_ff, c->d_model, "encoder.block.%d.layer.1.DenseReluDense.wi.weight", i);
		}
		T(2, c->d_model, c->d_ff, "encoder.block.%d.layer.1.DenseReluDense.wo.weight", i);
		T(1, c->d_model, 0, "encoder.block.%d.layer.1.layer_norm.weight", i);
	}
	T(1, c->d_model, 0, "encoder.final_layer_norm.weight");
	return 0;
#undef T
}
