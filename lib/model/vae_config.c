/* vae_config.c: AutoencoderKL config parsing and tensor list (see vae_config.h). */
#include "model/vae_config.h"
#include "base/error.h"
#include "base/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int od_vae_config_parse(json_t *cfg, struct od_vae_config *c, const char *label)
{
	long long v, arr[OD_VAE_MAX_BLOCKS + 1];
	double d;
	int rc, n, b;
	memset(c, 0, sizeof *c);
	/* Every field is bounded before it is used (a config is outside input). */
#define INT(key, def, hi, field)                                                  \
	do {                                                                      \
		if ((rc = od_cfg_int_in(cfg, key, def, 0, 1, hi, &v, label)))      \
			return rc;                                                \
		c->field = (int)v;                                                \
	} while (0)
	INT("in_channels", 3, 4096, in_channels);
	INT("out_channels", 3, 4096, out_channels);
	INT("latent_channels", 4, 4096, latent_channels);
	INT("layers_per_block", 1, 64, layers_per_block);
	INT("norm_num_groups", 32, 4096, groups);
#undef INT
	if ((rc = od_cfg_int_array(cfg, "block_out_channels", arr, OD_VAE_MAX_BLOCKS, &n, label)))
		return rc;
	c->n_blocks = n;
	for (int i = 0; i < n; i++) {
		if (arr[i] <= 0 || arr[i] > 65536 || arr[i] % c->groups)
			return od_error(OD_EMODEL, "'%s': block_out_channels[%d] = %lld is not a positive multiple of %d",
					label, i, arr[i], c->groups);
		c->block_out[i] = (int)arr[i];
	}
	json_t *types = json_object_get(cfg, "down_block_types");
	for (size_t i = 0; json_is_array(types) && i < json_array_size(types); i++)
		if (!json_is_string(json_array_get(types, i)) ||
		    strcmp(json_string_value(json_array_get(types, i)), "DownEncoderBlock2D"))
			return od_error(OD_EMODEL, "'%s': only DownEncoderBlock2D blocks are supported", label);
	types = json_object_get(cfg, "up_block_types");
	for (size_t i = 0; json_is_array(types) && i < json_array_size(types); i++)
		if (!json_is_string(json_array_get(types, i)) ||
		    strcmp(json_string_value(json_array_get(types, i)), "UpDecoderBlock2D"))
			return od_error(OD_EMODEL, "'%s': only UpDecoderBlock2D blocks are supported", label);
	const char *act = od_cfg_str(cfg, "act_fn", "silu");
	if (strcmp(act, "silu"))
		return od_error(OD_EMODEL, "'%s': act_fn '%s' is not supported (silu)", label, act);
	if ((rc = od_cfg_bool(cfg, "mid_block_add_attention", 1, 0, &b, label)))
		return rc;
	c->mid_attention = b;
	if ((rc = od_cfg_bool(cfg, "use_quant_conv", 1, 0, &b, label)))
		return rc;
	c->quant_conv = b;
	if ((rc = od_cfg_bool(cfg, "use_post_quant_conv", 1, 0, &b, label)))
		return rc;
	c->post_quant_conv = b;
	/* latents = scaling_factor · z (numerics.md §4.3): 1.5305 for SD3's VAE,
	 * 0.18215 for SD's; far outside, float32 latents overflow or vanish */
	if ((rc = od_cfg_num_in(cfg, "scaling_factor", 0.18215, 0, 1e-4, 1e4, &d, label)))
		return rc;
	c->scaling_factor = (float)d;
	json_t *sf = json_object_get(cfg, "shift_factor");
	if (json_is_number(sf)) {
		if ((rc = od_cfg_num_in(cfg, "shift_factor", 0, 0, -1e4, 1e4, &d, label)))
			return rc;
		c->shift_factor = (float)d;
		c->has_shift_factor = 1;
	}
	c->downscale = 1 << (n - 1);
	return OD_OK;
}

int od_vae_scale_factor(const char *model_dir, int *scale)
{
	char *dir = od_path_join(model_dir, "vae");
	if (!dir)
		return od_error(OD_ENOMEM, "out of memory");
	int present = od_is_dir(dir);
	free(dir);
	if (!present) {
		*scale = 8;
		return OD_OK;
	}
	struct od_component comp;
	struct od_vae_config c;
	int rc = od_component_open(&comp, model_dir, "vae", "config.json", 0, NULL);
	if (rc)
		return rc;
	char label[1024];
	snprintf(label, sizeof label, "%s/config.json", comp.dir);
	if (!(rc = od_vae_config_parse(comp.config, &c, label)))
		*scale = c.downscale;
	od_component_close(&comp);
	return rc;
}

struct emit {
	od_spec_cb cb;
	void *user;
	char name[192];
};

static int conv(struct emit *e, const char *prefix, int cout, int cin, int k)
{
	int64_t w[4] = { cout, cin, k, k }, b[1] = { cout };
	snprintf(e->name, sizeof e->name, "%s.weight", prefix);
	OD_TRY(e->cb(e->user, e->name, 4, w));
	snprintf(e->name, sizeof e->name, "%s.bias", prefix);
	return e->cb(e->user, e->name, 1, b);
}

static int vec2(struct emit *e, const char *prefix, int c)
{
	int64_t s[1] = { c };
	snprintf(e->name, sizeof e->name, "%s.weight", prefix);
	OD_TRY(e->cb(e->user, e->name, 1, s));
	snprintf(e->name, sizeof e->name, "%s.bias", prefix);
	return e->cb(e->user, e->name, 1, s);
}

static int linear(struct emit *e, const char *prefix, int cout, int cin)
{
	int64_t w[2] = { cout, cin }, b[1] = { cout };
	snprintf(e->name, sizeof e->name, "%s.weight", prefix);
	OD_TRY(e->cb(e->user, e->name, 2, w));
	snprintf(e->name, sizeof e->name, "%s.bias", prefix);
	return e->cb(e->user, e->name, 1, b);
}

/* ResnetBlock2D: norm1, conv1, norm2, conv2, conv_shortcut when cin != cout. */
static int resnet(struct emit *e, const char *prefix, int cin, int cout)
{
	char p[160];
	snprintf(p, sizeof p, "%s.norm1", prefix);
	OD_TRY(vec2(e, p, cin));
	snprintf(p, sizeof p, "%s.conv1", prefix);
	OD_TRY(conv(e, p, cout, cin, 3));
	snprintf(p, sizeof p, "%s.norm2", prefix);
	OD_TRY(vec2(e, p, cout));
	snprintf(p, sizeof p, "%s.conv2", prefix);
	OD_TRY(conv(e, p, cout, cout, 3));
	if (cin != cout) {
		snprintf(p, sizeof p, "%s.conv_shortcut", prefix);
		OD_TRY(conv(e, p, cout, cin, 1));
	}
	return 0;
}

static int mid_block(struct emit *e, const char *prefix, int ch, int attention)
{
	char p[160];
	snprintf(p, sizeof p, "%s.resnets.0", prefix);
	OD_TRY(resnet(e, p, ch, ch));
	if (attention) {
		static const char *const parts[] = { "to_q", "to_k", "to_v", "to_out.0" };
		snprintf(p, sizeof p, "%s.attentions.0.group_norm", prefix);
		OD_TRY(vec2(e, p, ch));
		for (int i = 0; i < 4; i++) {
			snprintf(p, sizeof p, "%s.attentions.0.%s", prefix, parts[i]);
			OD_TRY(linear(e, p, ch, ch));
		}
	}
	snprintf(p, sizeof p, "%s.resnets.1", prefix);
	return resnet(e, p, ch, ch);
}

int od_vae_spec(const void *cfgp, od_spec_cb cb, void *user)
{
	const struct od_vae_config *c = cfgp;
	struct emit e = { cb, user, "" };
	char p[160];
	int n = c->n_blocks, L = c->latent_channels;
	/* encoder */
	OD_TRY(conv(&e, "encoder.conv_in", c->block_out[0], c->in_channels, 3));
	int out = c->block_out[0];
	for (int i = 0; i < n; i++) {
		int in = out;
		out = c->block_out[i];
		for (int j = 0; j < c->layers_per_block; j++) {
			snprintf(p, sizeof p, "encoder.down_blocks.%d.resnets.%d", i, j);
			OD_TRY(resnet(&e, p, j ? out : in, out));
		}
		if (i < n - 1) {
			snprintf(p, sizeof p, "encoder.down_blocks.%d.downsamplers.0.conv", i);
			OD_TRY(conv(&e, p, out, out, 3));
		}
	}
	OD_TRY(mid_block(&e, "encoder.mid_block", c->block_out[n - 1], c->mid_attention));
	OD_TRY(vec2(&e, "encoder.conv_norm_out", c->block_out[n - 1]));
	OD_TRY(conv(&e, "encoder.conv_out", 2 * L, c->block_out[n - 1], 3));
	if (c->quant_conv)
		OD_TRY(conv(&e, "quant_conv", 2 * L, 2 * L, 1));
	if (c->post_quant_conv)
		OD_TRY(conv(&e, "post_quant_conv", L, L, 1));
	/* decoder */
	OD_TRY(conv(&e, "decoder.conv_in", c->block_out[n - 1], L, 3));
	OD_TRY(mid_block(&e, "decoder.mid_block", c->block_out[n - 1], c->mid_attention));
	out = c->block_out[n - 1];
	for (int i = 0; i < n; i++) {
		int prev = out;
		out = c->block_out[n - 1 - i];
		for (int j = 0; j < c->layers_per_block + 1; j++) {
			snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, j);
			OD_TRY(resnet(&e, p, j ? out : prev, out));
		}
		if (i < n - 1) {
			snprintf(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0.conv", i);
			OD_TRY(conv(&e, p, out, out, 3));
		}
	}
	OD_TRY(vec2(&e, "decoder.conv_norm_out", c->block_out[0]));
	return conv(&e, "decoder.conv_out", c->out_channels, c->block_out[0], 3);
}
