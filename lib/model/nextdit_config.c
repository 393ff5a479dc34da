/* nextdit_config.c: NextDiT config parsing and tensor list (see nextdit_config.h). */
#include "model/nextdit_config.h"
#include "base/error.h"

#include <stdio.h>
#include <string.h>

const char *const od_nextdit_block_tensor_names[OD_DIT_BLOCK_TENSORS] = {
	[OD_DIT_WQ] = "attention.wq.weight",
	[OD_DIT_WK] = "attention.wk.weight",
	[OD_DIT_WV] = "attention.wv.weight",
	[OD_DIT_WO] = "attention.wo.weight",
	[OD_DIT_Q_NORM_W] = "attention.q_norm.weight",
	[OD_DIT_Q_NORM_B] = "attention.q_norm.bias",
	[OD_DIT_K_NORM_W] = "attention.k_norm.weight",
	[OD_DIT_K_NORM_B] = "attention.k_norm.bias",
	[OD_DIT_WK_Y] = "attention.wk_y.weight",
	[OD_DIT_WV_Y] = "attention.wv_y.weight",
	[OD_DIT_KY_NORM_W] = "attention.ky_norm.weight",
	[OD_DIT_KY_NORM_B] = "attention.ky_norm.bias",
	[OD_DIT_GATE] = "attention.gate",
	[OD_DIT_W1] = "feed_forward.w1.weight",
	[OD_DIT_W2] = "feed_forward.w2.weight",
	[OD_DIT_W3] = "feed_forward.w3.weight",
	[OD_DIT_ATTN_NORM1] = "attention_norm1.weight",
	[OD_DIT_ATTN_NORM2] = "attention_norm2.weight",
	[OD_DIT_FFN_NORM1] = "ffn_norm1.weight",
	[OD_DIT_FFN_NORM2] = "ffn_norm2.weight",
	[OD_DIT_ATTN_Y_NORM] = "attention_y_norm.weight",
	[OD_DIT_ADALN_W] = "adaLN_modulation.1.weight",
	[OD_DIT_ADALN_B] = "adaLN_modulation.1.bias",
};

int od_nextdit_config_parse(json_t *cfg, struct od_nextdit_config *c, const char *label)
{
	long long v, arr[8];
	double d;
	int n, b, rc;
	memset(c, 0, sizeof *c);
	/* Every field is bounded before it is used (a config is outside input):
	 * generously around OneDiffusion's (hidden 3840, depth 16, 32 heads), and so
	 * that every size computed below fits an int and every tensor's element
	 * count an int64 with room to spare. */
#define INT(key, def, hi, field)                                                  \
	do {                                                                      \
		if ((rc = od_cfg_int_in(cfg, key, def, 0, 1, hi, &v, label)))      \
			return rc;                                                \
		c->field = (int)v;                                                \
	} while (0)
	INT("hidden_size", 4096, 65536, hidden);
	INT("depth", 32, 1024, depth);
	INT("num_heads", 32, 4096, heads);
	INT("in_channels", 16, 4096, in_channels);
	INT("caption_channels", 4096, 65536, caption_channels);
	INT("rotary_max_length", 384, 65536, rope_max);
	if ((rc = od_cfg_int(cfg, "num_kv_heads", c->heads, 0, &v, label)))
		return rc;
	if (v <= 0 || v > c->heads || c->heads % v)
		return od_error(OD_EMODEL, "'%s': num_kv_heads %lld does not divide num_heads %d", label, v, c->heads);
	c->kv_heads = (int)v;
	INT("rotary_max_length_t", c->rope_max, 65536, rope_max_t);
	long long multiple_of;
	if ((rc = od_cfg_int_in(cfg, "multiple_of", 256, 0, 1, 65536, &multiple_of, label)))
		return rc;
	/* RMSNorm divides by sqrt(mean(x²) + eps): eps must be positive */
	if ((rc = od_cfg_num_in(cfg, "norm_eps", 1e-5, 0, 1e-30, 1, &d, label)))
		return rc;
	c->norm_eps = (float)d;
	if ((rc = od_cfg_bool(cfg, "qk_norm", 0, 0, &b, label)))
		return rc;
	c->qk_norm = b;
	if ((rc = od_cfg_bool(cfg, "pred_sigma", 0, 0, &b, label)))
		return rc;
	if (b)
		return od_error(OD_EMODEL, "'%s': pred_sigma true is not supported", label);
	const char *norm_type = od_cfg_str(cfg, "norm_type", "rms");
	if (strcmp(norm_type, "rms"))
		return od_error(OD_EMODEL, "'%s': norm_type '%s' is not supported (rms)", label, norm_type);
	c->patch_t = 1, c->patch_h = 2, c->patch_w = 2;
	if (json_object_get(cfg, "patch_size")) {
		if ((rc = od_cfg_int_array(cfg, "patch_size", arr, 8, &n, label)))
			return rc;
		if (n != 3 || arr[0] != 1 || arr[1] <= 0 || arr[2] <= 0 || arr[1] > 16 || arr[2] > 16)
			return od_error(OD_EMODEL, "'%s': patch_size must be [1, p, q]", label);
		c->patch_h = (int)arr[1], c->patch_w = (int)arr[2];
	}
	c->input_size[0] = 1, c->input_size[1] = 32, c->input_size[2] = 32;
	if (json_object_get(cfg, "input_size")) {
		if ((rc = od_cfg_int_array(cfg, "input_size", arr, 8, &n, label)))
			return rc;
		if (n != 3 || arr[0] <= 0 || arr[1] <= 0 || arr[2] <= 0 || arr[0] > 4096 || arr[1] > 4096 ||
		    arr[2] > 4096)
			return od_error(OD_EMODEL, "'%s': input_size must be [t, h, w], each 1 to 4096", label);
		for (int i = 0; i < 3; i++)
			c->input_size[i] = (int)arr[i];
	}
	if (c->hidden % c->heads)
		return od_error(OD_EMODEL, "'%s': hidden_size %d is not a multiple of num_heads %d", label, c->hidden,
				c->heads);
	c->head_dim = c->hidden / c->heads;
	if (c->head_dim % 6)
		return od_error(OD_EMODEL, "'%s': head dim %d is not divisible by 6 (3-D RoPE)", label, c->head_dim);
	c->out_channels = c->in_channels;
	c->patch_dim = c->patch_t * c->patch_h * c->patch_w * c->in_channels; /* <= 16·16·4096 */
	c->adaln = c->hidden < 1024 ? c->hidden : 1024;
	/* FeedForward inner width (numerics.md §1.2): int(2·4D/3), times the multiplier
	 * when given, rounded up to a multiple of multiple_of. The multiplier is
	 * bounded before the float -> int conversion, and the result checked. */
	long long hid = 2 * (4 * (long long)c->hidden) / 3;
	if ((rc = od_cfg_num(cfg, "ffn_dim_multiplier", 0, 0, &d, label)))
		return rc;
	if (d != 0 && !(d > 0 && d <= 64))
		return od_error(OD_EMODEL, "'%s': \"ffn_dim_multiplier\" = %g is outside 0..64", label, d);
	if (d > 0)
		hid = (long long)(d * (double)hid); /* <= 64 · 174762 */
	hid = multiple_of * ((hid + multiple_of - 1) / multiple_of);
	if (hid < 1 || hid > (1 << 24))
		return od_error(OD_EMODEL, "'%s': the feed-forward width %lld is outside 1..%d", label, hid, 1 << 24);
	c->ffn_hidden = (int)hid;
	return OD_OK;
#undef INT
}

int od_nextdit_spec(const void *cfgp, od_spec_cb cb, void *user)
{
	const struct od_nextdit_config *c = cfgp;
	const int64_t D = c->hidden, A = c->adaln, KV = (int64_t)c->kv_heads * c->head_dim, Y = c->caption_channels,
		      F = c->ffn_hidden, P = c->patch_dim, O = (int64_t)c->patch_t * c->patch_h * c->patch_w * c->out_channels;
#define T1(name, a) do { int64_t s_[1] = { a }; OD_TRY(cb(user, name, 1, s_)); } while (0)
#define T2(name, a, b) do { int64_t s_[2] = { a, b }; OD_TRY(cb(user, name, 2, s_)); } while (0)
	T2("x_embedder.weight", D, P);
	T1("x_embedder.bias", D);
	T2("t_embedder.mlp.0.weight", A, 256);
	T1("t_embedder.mlp.0.bias", A);
	T2("t_embedder.mlp.2.weight", A, A);
	T1("t_embedder.mlp.2.bias", A);
	T1("y_embedder.0.weight", Y);
	T1("y_embedder.0.bias", Y);
	T2("y_embedder.1.weight", A, Y);
	T1("y_embedder.1.bias", A);
	for (int i = 0; i < c->depth; i++) {
		char name[128];
		for (int k = 0; k < OD_DIT_BLOCK_TENSORS; k++) {
			int64_t s[2];
			int nd = 2;
			switch (k) {
			case OD_DIT_WQ: case OD_DIT_WO: s[0] = D, s[1] = D; break;
			case OD_DIT_WK: case OD_DIT_WV: s[0] = KV, s[1] = D; break;
			case OD_DIT_Q_NORM_W: case OD_DIT_Q_NORM_B:
				if (!c->qk_norm) continue;
				nd = 1, s[0] = D; break;
			case OD_DIT_K_NORM_W: case OD_DIT_K_NORM_B:
				if (!c->qk_norm) continue;
				nd = 1, s[0] = KV; break;
			case OD_DIT_WK_Y: case OD_DIT_WV_Y: s[0] = KV, s[1] = Y; break;
			case OD_DIT_KY_NORM_W: case OD_DIT_KY_NORM_B: nd = 1, s[0] = KV; break;
			case OD_DIT_GATE: nd = 1, s[0] = c->heads; break;
			case OD_DIT_W1: case OD_DIT_W3: s[0] = F, s[1] = D; break;
			case OD_DIT_W2: s[0] = D, s[1] = F; break;
			case OD_DIT_ATTN_NORM1: case OD_DIT_ATTN_NORM2: case OD_DIT_FFN_NORM1: case OD_DIT_FFN_NORM2:
				nd = 1, s[0] = D; break;
			case OD_DIT_ATTN_Y_NORM: nd = 1, s[0] = Y; break;
			case OD_DIT_ADALN_W: s[0] = 4 * D, s[1] = A; break;
			case OD_DIT_ADALN_B: nd = 1, s[0] = 4 * D; break;
			}
			snprintf(name, sizeof name, "layers.%d.%s", i, od_nextdit_block_tensor_names[k]);
			OD_TRY(cb(user, name, nd, s));
		}
	}
	T2("final_layer.linear.weight", O, D);
	T1("final_layer.linear.bias", O);
	T2("final_layer.adaLN_modulation.1.weight", D, A);
	T1("final_layer.adaLN_modulation.1.bias", D);
	return 0;
#undef T1
#undef T2
}
