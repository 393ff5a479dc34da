/*
 * test_vae: the AutoencoderKL encoder and decoder against the golden VAE cases
 * (tests/golden/README.md §6) on the tiny checkpoint: encoder moments, the
 * posterior (mean, logvar, std, z, z_model with the recorded ε), the decoder
 * output and uint8 image, every stored intermediate (enc.conv_in, enc.down*,
 * enc.mid, dec.conv_in, dec.mid, dec.up*), the ÷scaling_factor reciprocal bit
 * for bit, and the same results with 1 and 2 threads. Tolerances: numerics.md §10.1
 * (moments atol 5e-5, decoded atol 1e-4, uint8 ±1).
 */
#include "od.h"
#include "pipeline/decode.h"
#include "pipeline/encode.h"
#include "pipeline/postprocess.h"
#include "tap.h"
#include "model/vae.h"

#include <stdlib.h>
#include <string.h>

struct saved {
	char name[32];
	float *data;
	size_t n;
};

static struct saved taps[32];
static int n_taps;

static void on_tap(void *user, const char *name, const float *x, int C, int H, int W)
{
	(void)user;
	if (n_taps == 32)
		return;
	struct saved *s = &taps[n_taps++];
	snprintf(s->name, sizeof s->name, "%s", name);
	s->n = (size_t)C * H * W;
	s->data = malloc(s->n * sizeof *s->data);
	memcpy(s->data, x, s->n * sizeof *s->data);
}

static void clear_taps(void)
{
	for (int i = 0; i < n_taps; i++)
		free(taps[i].data);
	n_taps = 0;
}

static float *tensor(const struct od_safetensors *st, const char *name, size_t *n)
{
	const struct od_tensor *t = od_st_find(st, name);
	if (!t) {
		ok(0, "golden tensor '%s' exists", name);
		return NULL;
	}
	*n = (size_t)od_tensor_numel(t);
	float *x = malloc(*n * sizeof *x);
	if (t->dtype == OD_U8) {
		for (size_t i = 0; i < *n; i++)
			x[i] = ((const uint8_t *)t->data)[i];
	} else {
		od_to_f32(x, t->data, t->dtype, *n);
	}
	return x;
}

static void check_tap(const struct od_safetensors *st, const char *name, double atol)
{
	size_t n;
	float *e = tensor(st, name, &n);
	for (int i = 0; e && i < n_taps; i++) {
		if (strcmp(taps[i].name, name))
			continue;
		if (ok(taps[i].n == n, "%s: %zu values", name, n))
			ok_close(taps[i].data, e, n, atol, 0, name);
		free(e);
		return;
	}
	if (e)
		ok(0, "intermediate %s was traced", name);
	free(e);
}

static void encode_case(struct od_vae *v, const char *golden, const char *file, int with_taps)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/cases/vae/%s", golden, file);
	struct od_safetensors st;
	if (!ok(od_st_open(&st, path) == 0, "open %s", file))
		return;
	const struct od_tensor *it = od_st_find(&st, "image");
	int H = (int)it->shape[2], W = (int)it->shape[3], L = v->cfg.latent_channels;
	int h = H / 8, w = W / 8;
	size_t n, hw = (size_t)h * w;
	float *x = tensor(&st, "image", &n), *eps = tensor(&st, "eps", &n);
	float *mom = malloc(2 * L * hw * sizeof *mom), *z = malloc(L * hw * sizeof *z);
	/* the recorded ε is the first draw of torch.Generator('cpu').manual_seed(seed) */
	const char *seed = od_st_meta(&st, "seed");
	if (ok(seed != NULL, "%s: seed in the metadata", file)) {
		od_randn(strtoull(seed, NULL, 10), 0, L * hw, z);
		ok_close(z, eps, L * hw, 1.5e-6, 0, "eps = od_randn(seed)");
	}
	n_taps = 0;
	v->tap = with_taps ? on_tap : NULL;
	ok(od_vae_encode(v, x, H, W, mom) == 0, "%s: encode %dx%d", file, W, H);
	float *e = tensor(&st, "moments", &n);
	ok_close(mom, e, n, 5e-5, 0, "moments");
	free(e);
	/* the posterior, step by step as diffusers computes it */
	float *lv = malloc(L * hw * sizeof *lv), *sd = malloc(L * hw * sizeof *sd);
	for (size_t i = 0; i < L * hw; i++) {
		float l = mom[L * hw + i];
		lv[i] = l < -30 ? -30 : l > 20 ? 20 : l;
		sd[i] = expf(0.5f * lv[i]);
	}
	e = tensor(&st, "mean", &n);
	ok_close(mom, e, n, 5e-5, 0, "mean");
	free(e);
	e = tensor(&st, "logvar", &n);
	ok_close(lv, e, n, 5e-5, 0, "logvar");
	free(e);
	e = tensor(&st, "std", &n);
	ok_close(sd, e, n, 5e-5, 0, "std");
	free(e);
	od_vae_posterior(mom, L, (int64_t)hw, eps, 1.0f, z);
	e = tensor(&st, "z", &n);
	ok_close(z, e, n, 5e-5, 0, "z = mean + std·eps");
	free(e);
	od_vae_posterior(mom, L, (int64_t)hw, eps, v->cfg.scaling_factor, z);
	e = tensor(&st, "z_model", &n);
	ok_close(z, e, n, 1e-4, 0, "z_model = 1.5305·z");
	free(e);
	/* from the golden moments the posterior is exact up to expf's last bit */
	float *gm = tensor(&st, "moments", &n);
	od_vae_posterior(gm, L, (int64_t)hw, eps, v->cfg.scaling_factor, z);
	e = tensor(&st, "z_model", &n);
	ok_close(z, e, n, 2e-6, 0, "posterior from the golden moments");
	free(e);
	free(gm);
	if (with_taps) {
		check_tap(&st, "enc.conv_in", 5e-5);
		for (int i = 0; i < 4; i++) {
			char nm[16];
			snprintf(nm, sizeof nm, "enc.down%d", i);
			check_tap(&st, nm, 5e-5);
		}
		check_tap(&st, "enc.mid", 5e-5);
		clear_taps();
	}
	v->tap = NULL;
	free(x), free(eps), free(mom), free(z), free(lv), free(sd);
	od_st_close(&st);
}

static void decode_case(struct od_vae *v, const char *golden, const char *file, int with_taps)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/cases/vae/%s", golden, file);
	struct od_safetensors st;
	if (!ok(od_st_open(&st, path) == 0, "open %s", file))
		return;
	const struct od_tensor *zt = od_st_find(&st, "z_model");
	int B = (int)zt->shape[0], L = (int)zt->shape[1], h = (int)zt->shape[2], w = (int)zt->shape[3];
	size_t n, per = (size_t)L * h * w, img = (size_t)3 * 64 * h * w;
	float *zm = tensor(&st, "z_model", &n), *zg = tensor(&st, "z", &n);
	float *dec = tensor(&st, "decoded", &n), *u8 = tensor(&st, "image_uint8", &n);
	/* the reciprocal multiply, bit for bit */
	int same = 1;
	const float inv = (float)(1.0 / 1.5305);
	for (size_t i = 0; i < (size_t)B * per; i++)
		same &= zm[i] * inv == zg[i];
	ok(same, "%s: z = fp32(1/1.5305)·z_model bit for bit", file);
	for (int b = 0; b < B; b++) {
		float *out = malloc(img * sizeof *out);
		n_taps = 0;
		v->tap = with_taps ? on_tap : NULL;
		ok(od_vae_decode_latent(v, zm + b * per, h, w, out) == 0, "%s[%d]: decode %dx%d", file, b, w, h);
		ok_close(out, dec + b * img, img, 1e-4, 0, "decoded");
		struct od_image pic;
		od_image_from_decoded(out, 8 * h, 8 * w, &pic);
		float *got = malloc(img * sizeof *got);
		for (size_t i = 0; i < img; i++)
			got[i] = pic.data[i];
		ok_close(got, u8 + b * img, img, 1, 0, "image_uint8 within 1 level");
		od_image_free(&pic);
		/* the same latent through the golden decoded values: exact conversion */
		od_image_from_decoded(dec + b * img, 8 * h, 8 * w, &pic);
		for (size_t i = 0; i < img; i++)
			got[i] = pic.data[i];
		ok_close(got, u8 + b * img, img, 0, 0, "uint8 conversion of the golden decoded values is exact");
		od_image_free(&pic);
		free(got);
		if (with_taps) {
			check_tap(&st, "dec.conv_in", 1e-4);
			check_tap(&st, "dec.mid", 1e-4);
			for (int i = 0; i < 4; i++) {
				char nm[16];
				snprintf(nm, sizeof nm, "dec.up%d", i);
				check_tap(&st, nm, 1e-4);
			}
			clear_taps();
		}
		v->tap = NULL;
		free(out);
	}
	free(zm), free(zg), free(dec), free(u8);
	od_st_close(&st);
}

int main(void)
{
	const char *model = getenv("OD_MODEL"), *golden = getenv("OD_GOLDEN");
	if (!model || !golden) {
		printf("1..0 # SKIP OD_MODEL/OD_GOLDEN not set (run through make check)\n");
		return 0;
	}
	for (int threads = 1; threads <= 2; threads++) {
		struct od_ctx *ctx;
		if (!ok(od_ctx_create(&ctx, OD_DEVICE_CPU, threads) == 0, "cpu context, %d threads", threads))
			return tap_done();
		struct od_vae v;
		if (!ok(od_vae_open(&v, ctx, model) == 0, "open the tiny VAE: %s", od_errmsg()))
			return tap_done();
		ok(v.cfg.downscale == 8 && v.cfg.latent_channels == 16, "downscale 8, 16 latent channels");
		encode_case(&v, golden, "encode_64x64.safetensors", threads == 1);
		encode_case(&v, golden, "encode_48x80.safetensors", 0);
		decode_case(&v, golden, "dec_8x8.safetensors", threads == 1);
		decode_case(&v, golden, "dec_6x10.safetensors", 0);
		decode_case(&v, golden, "dec_b2_8x8.safetensors", 0);
		od_vae_close(&v);
		od_ctx_destroy(ctx);
	}
	/* a size that is not a multiple of 8 is refused */
	struct od_ctx *ctx;
	struct od_vae v;
	od_ctx_create(&ctx, OD_DEVICE_CPU, 1);
	od_vae_open(&v, ctx, model);
	float x[3 * 12 * 12] = { 0 }, m[32];
	ok(od_vae_encode(&v, x, 12, 12, m) == OD_EINVAL, "12x12 is refused: %s", od_errmsg());
	od_vae_close(&v);
	od_ctx_destroy(ctx);
	return tap_done();
}
