/*
 * vae.c: AutoencoderKL forward passes (see vae.h; numerics.md §4.1).
 *
 * An activation is a device buffer of (C, H, W) floats. The helpers below take
 * ownership of their input and hand back a new buffer (or fail, having freed
 * everything), so the layer code reads like the diffusers module tree and
 * never holds a map longer than needed.
 */
#include "model/vae.h"
#include "base/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GN_EPS 1e-6f /* every GroupNorm of the SD3 VAE (§4.1) */

struct act {
	float *d;
	int C, H, W;
};

static size_t numel(const struct act *a)
{
	return (size_t)a->C * a->H * a->W;
}

static void release(struct od_vae *v, struct act *a)
{
	od_free(v->ctx, a->d);
	a->d = NULL;
}

/* A tensor of the checkpoint by printf-style name; od_vae_open validated the
 * whole spec, so a miss is an internal error. */
static const struct od_tensor *T(struct od_vae *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const struct od_tensor *T(struct od_vae *v, const char *fmt, ...)
{
	char name[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	const struct od_tensor *t = od_component_find(&v->comp, name);
	if (!t)
		od_error(OD_EMODEL, "'%s': tensor '%s' is missing", v->comp.dir, name);
	return t;
}

static int alloc_act(struct od_vae *v, struct act *a, int C, int H, int W)
{
	a->C = C, a->H = H, a->W = W;
	a->d = od_alloc(v->ctx, numel(a));
	return a->d ? OD_OK : od_error(OD_ENOMEM, "out of memory for a (%d, %d, %d) activation", C, H, W);
}

static int tap(struct od_vae *v, const char *name, const struct act *a)
{
	if (!v->tap)
		return OD_OK;
	float *h = malloc(numel(a) * sizeof *h);
	if (!h)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = od_download(v->ctx, h, a->d, numel(a) * sizeof *h);
	if (!rc)
		v->tap(v->tap_user, name, h, a->C, a->H, a->W);
	free(h);
	return rc;
}

/* y = conv(x) with weight/bias "<prefix>.weight/.bias"; x is kept. */
static int conv(struct od_vae *v, struct act *y, const struct act *x, const char *prefix, int stride, const int pad[4])
{
	const struct od_tensor *w = T(v, "%s.weight", prefix), *b = T(v, "%s.bias", prefix);
	if (!w || !b)
		return OD_EMODEL;
	int kh = (int)w->shape[2], kw = (int)w->shape[3];
	int Ho = (x->H + pad[0] + pad[1] - kh) / stride + 1, Wo = (x->W + pad[2] + pad[3] - kw) / stride + 1;
	int rc = alloc_act(v, y, (int)w->shape[0], Ho, Wo);
	if (rc)
		return rc;
	if ((rc = od_conv2d(v->ctx, y->d, x->d, 1, x->C, x->H, x->W, w, b, stride, pad)))
		release(v, y);
	return rc;
}

static const int PAD1[4] = { 1, 1, 1, 1 }, PAD0[4] = { 0, 0, 0, 0 };

/* GroupNorm(groups, eps 1e-6) with "<prefix>.weight/.bias", SiLU if silu; y may be x. */
static int gnorm(struct od_vae *v, float *y, const struct act *x, const char *prefix, int silu)
{
	const struct od_tensor *w = T(v, "%s.weight", prefix), *b = T(v, "%s.bias", prefix);
	if (!w || !b)
		return OD_EMODEL;
	const float *wd = od_param(v->ctx, w), *bd = od_param(v->ctx, b);
	if (!wd || !bd)
		return OD_ENOMEM;
	return od_groupnorm(v->ctx, y, x->d, 1, x->C, (int64_t)x->H * x->W, v->cfg.groups, wd, bd, GN_EPS, silu);
}

/*
 * ResnetBlock2D (diffusers resnet.py, output_scale_factor 1, no temb):
 *   h = conv2(silu(norm2(conv1(silu(norm1(x)))))); out = shortcut(x) + h.
 * With a conv_shortcut it is computed first, so norm1 can overwrite x.
 */
static int resnet(struct od_vae *v, struct act *x, const char *prefix, int cout)
{
	char p[160];
	struct act s = { 0 }, t = { 0 }, h = { 0 }, o = { 0 };
	int rc;
	if (x->C != cout) {
		snprintf(p, sizeof p, "%s.conv_shortcut", prefix);
		if ((rc = conv(v, &s, x, p, 1, PAD0)))
			goto fail;
		snprintf(p, sizeof p, "%s.norm1", prefix);
		if ((rc = gnorm(v, x->d, x, p, 1)))
			goto fail;
		snprintf(p, sizeof p, "%s.conv1", prefix);
		if ((rc = conv(v, &h, x, p, 1, PAD1)))
			goto fail;
		release(v, x);
	} else {
		if ((rc = alloc_act(v, &t, x->C, x->H, x->W)))
			goto fail;
		snprintf(p, sizeof p, "%s.norm1", prefix);
		if ((rc = gnorm(v, t.d, x, p, 1)))
			goto fail;
		snprintf(p, sizeof p, "%s.conv1", prefix);
		if ((rc = conv(v, &h, &t, p, 1, PAD1)))
			goto fail;
		release(v, &t);
		s = *x; /* the identity shortcut */
		x->d = NULL;
	}
	snprintf(p, sizeof p, "%s.norm2", prefix);
	if ((rc = gnorm(v, h.d, &h, p, 1)))
		goto fail;
	snprintf(p, sizeof p, "%s.conv2", prefix);
	if ((rc = conv(v, &o, &h, p, 1, PAD1)))
		goto fail;
	release(v, &h);
	/* output_tensor = input_tensor + hidden_states */
	if ((rc = od_binary(v->ctx, o.d, s.d, o.d, (int64_t)numel(&o), OD_OP_ADD)))
		goto fail;
	release(v, &s);
	*x = o;
	return OD_OK;
fail:
	release(v, x);
	release(v, &s);
	release(v, &t);
	release(v, &h);
	release(v, &o);
	return rc;
}

/*
 * The mid-block Attention (one head of dim C, residual connection):
 *   t = group_norm(x) as (HW, C) tokens; o = to_out(softmax(q·kᵀ/√C)·v);
 *   x = o as (C, H, W) + x.
 */
static int attention(struct od_vae *v, struct act *x, const char *prefix)
{
	char p[160];
	const int C = x->C;
	const int64_t L = (int64_t)x->H * x->W;
	struct od_ctx *c = v->ctx;
	float *g = NULL, *t = NULL, *q = NULL, *k = NULL, *vv = NULL, *o = NULL;
	int rc = OD_ENOMEM;
	const size_t n = (size_t)L * C;
	if (!(g = od_alloc(c, n)) || !(t = od_alloc(c, n)))
		goto fail;
	snprintf(p, sizeof p, "%s.group_norm", prefix);
	if ((rc = gnorm(v, g, x, p, 0)))
		goto fail;
	if ((rc = od_transpose(c, t, g, 1, C, L))) /* (C, HW) -> (HW, C) */
		goto fail;
	od_free(c, g);
	g = NULL;
	rc = OD_ENOMEM;
	if (!(q = od_alloc(c, n)) || !(k = od_alloc(c, n)) || !(vv = od_alloc(c, n)))
		goto fail;
	const struct od_tensor *qw = T(v, "%s.to_q.weight", prefix), *qb = T(v, "%s.to_q.bias", prefix);
	const struct od_tensor *kw = T(v, "%s.to_k.weight", prefix), *kb = T(v, "%s.to_k.bias", prefix);
	const struct od_tensor *vw = T(v, "%s.to_v.weight", prefix), *vb = T(v, "%s.to_v.bias", prefix);
	const struct od_tensor *ow = T(v, "%s.to_out.0.weight", prefix), *ob = T(v, "%s.to_out.0.bias", prefix);
	if (!qw || !qb || !kw || !kb || !vw || !vb || !ow || !ob) {
		rc = OD_EMODEL;
		goto fail;
	}
	if ((rc = od_linear(c, q, t, L, qw, qb)) || (rc = od_linear(c, k, t, L, kw, kb)) ||
	    (rc = od_linear(c, vv, t, L, vw, vb)))
		goto fail;
	struct od_attention_desc d = {
		.batch = 1, .q_len = (int)L, .kv_len = (int)L, .q_heads = 1, .kv_heads = 1, .head_dim = C,
		.q_stride = C, .kv_stride = C, .o_stride = C, .kv_map = OD_KV_GROUPED,
		.scale = (float)(1.0 / sqrt((double)C)), /* SDPA's default 1/√head_dim */
	};
	if ((rc = od_attention(c, t, q, k, vv, &d)))
		goto fail;
	od_free(c, k);
	od_free(c, vv);
	k = vv = NULL;
	if ((rc = od_linear(c, q, t, L, ow, ob)))
		goto fail;
	if ((rc = od_transpose(c, t, q, 1, L, C))) /* back to (C, HW) */
		goto fail;
	/* hidden_states + residual */
	if ((rc = od_binary(c, x->d, t, x->d, (int64_t)n, OD_OP_ADD)))
		goto fail;
	od_free(c, t);
	od_free(c, q);
	return OD_OK;
fail:
	od_free(c, g);
	od_free(c, t);
	od_free(c, q);
	od_free(c, k);
	od_free(c, vv);
	od_free(c, o);
	release(v, x);
	return rc;
}

/* UNetMidBlock2D: resnet, attention, resnet. */
static int mid_block(struct od_vae *v, struct act *x, const char *prefix)
{
	char p[160];
	int rc;
	snprintf(p, sizeof p, "%s.resnets.0", prefix);
	if ((rc = resnet(v, x, p, x->C)))
		return rc;
	if (v->cfg.mid_attention) {
		snprintf(p, sizeof p, "%s.attentions.0", prefix);
		if ((rc = attention(v, x, p)))
			return rc;
	}
	snprintf(p, sizeof p, "%s.resnets.1", prefix);
	return resnet(v, x, p, x->C);
}

/* y = conv(x), x released. */
static int conv_replace(struct od_vae *v, struct act *x, const char *prefix, int stride, const int pad[4])
{
	struct act y;
	int rc = conv(v, &y, x, prefix, stride, pad);
	release(v, x);
	if (!rc)
		*x = y;
	return rc;
}

/* conv_norm_out, SiLU, conv_out (in place on x's buffer, then replaced). */
static int head(struct od_vae *v, struct act *x, const char *which)
{
	char p[160];
	snprintf(p, sizeof p, "%s.conv_norm_out", which);
	int rc = gnorm(v, x->d, x, p, 1);
	if (rc) {
		release(v, x);
		return rc;
	}
	snprintf(p, sizeof p, "%s.conv_out", which);
	return conv_replace(v, x, p, 1, PAD1);
}

static int check_size(struct od_vae *v, int H, int W, const char *what)
{
	int ds = v->cfg.downscale;
	if (H <= 0 || W <= 0 || H % ds || W % ds)
		return od_error(OD_EINVAL, "vae: %s size %dx%d is not a positive multiple of %d", what, W, H, ds);
	return OD_OK;
}

int od_vae_encode(struct od_vae *v, const float *x, int H, int W, float *moments)
{
	const struct od_vae_config *cf = &v->cfg;
	char p[160];
	struct act a = { 0 }, in = { 0 };
	int rc = check_size(v, H, W, "image");
	if (rc)
		return rc;
	if ((rc = alloc_act(v, &in, cf->in_channels, H, W)))
		return rc;
	if ((rc = od_upload(v->ctx, in.d, x, numel(&in) * sizeof(float))) ||
	    (rc = conv(v, &a, &in, "encoder.conv_in", 1, PAD1))) {
		release(v, &in);
		return rc;
	}
	release(v, &in);
	if ((rc = tap(v, "enc.conv_in", &a)))
		goto fail;
	for (int i = 0; i < cf->n_blocks; i++) {
		for (int j = 0; j < cf->layers_per_block; j++) {
			snprintf(p, sizeof p, "encoder.down_blocks.%d.resnets.%d", i, j);
			if ((rc = resnet(v, &a, p, cf->block_out[i])))
				return rc;
		}
		if (i < cf->n_blocks - 1) {
			/* Downsample2D: pad (left 0, right 1, top 0, bottom 1), 3×3 stride 2, padding 0 */
			static const int pad[4] = { 0, 1, 0, 1 };
			snprintf(p, sizeof p, "encoder.down_blocks.%d.downsamplers.0.conv", i);
			if ((rc = conv_replace(v, &a, p, 2, pad)))
				return rc;
		}
		snprintf(p, sizeof p, "enc.down%d", i);
		if ((rc = tap(v, p, &a)))
			goto fail;
	}
	if ((rc = mid_block(v, &a, "encoder.mid_block")))
		return rc;
	if ((rc = tap(v, "enc.mid", &a)))
		goto fail;
	if ((rc = head(v, &a, "encoder")))
		return rc;
	if (cf->quant_conv && (rc = conv_replace(v, &a, "quant_conv", 1, PAD0)))
		return rc;
	rc = od_download(v->ctx, moments, a.d, numel(&a) * sizeof(float));
fail:
	release(v, &a);
	return rc;
}

int od_vae_decode(struct od_vae *v, const float *z, int h, int w, float *out)
{
	const struct od_vae_config *cf = &v->cfg;
	const int n = cf->n_blocks;
	char p[160];
	struct act a = { 0 }, in = { 0 };
	int rc = OD_OK;
	if (h <= 0 || w <= 0 || (int64_t)h * cf->downscale > 65536 || (int64_t)w * cf->downscale > 65536)
		return od_error(OD_EINVAL, "vae: latent size %dx%d is out of range", w, h);
	if ((rc = alloc_act(v, &in, cf->latent_channels, h, w)))
		return rc;
	if ((rc = od_upload(v->ctx, in.d, z, numel(&in) * sizeof(float))) ||
	    (cf->post_quant_conv && (rc = conv_replace(v, &in, "post_quant_conv", 1, PAD0))) ||
	    (rc = conv(v, &a, &in, "decoder.conv_in", 1, PAD1))) {
		release(v, &in);
		return rc;
	}
	release(v, &in);
	if ((rc = tap(v, "dec.conv_in", &a)))
		goto fail;
	if ((rc = mid_block(v, &a, "decoder.mid_block")))
		return rc;
	if ((rc = tap(v, "dec.mid", &a)))
		goto fail;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < cf->layers_per_block + 1; j++) {
			snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, j);
			if ((rc = resnet(v, &a, p, cf->block_out[n - 1 - i])))
				return rc;
		}
		if (i < n - 1) {
			/* Upsample2D: nearest ×2 (in float32, §8.1), then a 3×3 conv */
			struct act u;
			if ((rc = alloc_act(v, &u, a.C, 2 * a.H, 2 * a.W)))
				goto fail;
			rc = od_upsample2x(v->ctx, u.d, a.d, a.C, a.H, a.W);
			release(v, &a);
			a = u;
			if (rc)
				goto fail;
			snprintf(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0.conv", i);
			if ((rc = conv_replace(v, &a, p, 1, PAD1)))
				return rc;
		}
		snprintf(p, sizeof p, "dec.up%d", i);
		if ((rc = tap(v, p, &a)))
			goto fail;
	}
	if ((rc = head(v, &a, "decoder")))
		return rc;
	rc = od_download(v->ctx, out, a.d, numel(&a) * sizeof(float));
fail:
	release(v, &a);
	return rc;
}

int od_vae_open(struct od_vae *v, struct od_ctx *ctx, const char *model_dir)
{
	memset(v, 0, sizeof *v);
	v->ctx = ctx;
	int rc = od_component_open(&v->comp, model_dir, "vae", "config.json", 1, NULL);
	if (rc)
		return rc;
	char label[1024];
	snprintf(label, sizeof label, "%s/config.json", v->comp.dir);
	if ((rc = od_vae_config_parse(v->comp.config, &v->cfg, label)))
		goto fail;
	const struct od_tensor **all;
	int n;
	if ((rc = od_component_resolve(&v->comp, od_vae_spec, &v->cfg, &all, &n)))
		goto fail;
	free(all);
	return OD_OK;
fail:
	od_component_close(&v->comp);
	return rc;
}

void od_vae_close(struct od_vae *v)
{
	od_component_close(&v->comp);
	memset(v, 0, sizeof *v);
}
