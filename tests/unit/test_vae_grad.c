/*
 * test_vae_grad.c: the VAE's training forward, loss and gradient
 * (model/vae_grad.h).
 *
 *  1. The training forward is the inference forward: the moments and the
 *     decoder output of od_vae_loss_grad equal od_vae_encode / od_vae_decode
 *     (vae.c) on the same weights, on the shipped tiny model (widened from its
 *     checkpoint) and on fresh small models, with and without quant_conv and
 *     post_quant_conv, saved and reopened (which also checks
 *     od_vae_params_save). Required: within 1e-6 (they are the same kernel
 *     calls, so the bytes agree).
 *  2. The whole loss gradient against central finite differences of the loss,
 *     for a tiny configuration (2 levels, 8 and 16 channels, 4 groups, 4 latent
 *     channels, the mid-block attention), a batch of 2 pictures of 16×16 and
 *     β = 0.5 (so the KL term's gradient is as visible as the reconstruction's),
 *     without and with quant_conv/post_quant_conv: three elements of every tensor (its largest gradient and two fixed
 *     others). The loss is float32 arithmetic summed in double, so the
 *     difference quotient at h = 2e-3 carries rounding noise and truncation
 *     error: measured, the quotients at h = 1e-3, 2e-3 and 4e-3 agree within
 *     4e-6, and |g − fd| ≤ 2.2e-6 everywhere. The tolerance is
 *     |g − fd| ≤ 2e-5 + 1e-2·|fd|, below the largest gradient of every tensor
 *     (2.3e-4 to 0.33) by a factor of ten or more, but for the two to_k.bias
 *     tensors, whose gradient is zero in exact arithmetic (a key bias adds the
 *     same logit to every key of a query row; measured 3e-11). The pictures
 *     lie in [0.6, 1] and the decoder's conv_out is scaled down so that
 *     |x̂| < 0.3: no |x̂ − x| comes near L1's kink under the perturbations.
 *  3. Gradients accumulate (+=), and their bytes are the same with 1 and 2
 *     threads.
 *  4. decoder_only (the encoder frozen): the same loss, the decoder's
 *     gradients equal the whole step's byte for byte, and the encoder's
 *     buffers are left alone (NULL allowed), with and without quant convs.
 */
#include "od.h"
#include "model/vae_grad.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rs = 0x853c49e6748fea9bull;
static float frand(void) /* [0, 1) */
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rs >> 11) * 0x1p-53);
}

static json_t *config_json(const int *blocks, int n, int groups, int latent, int layers, int quant)
{
	json_t *bo = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(bo, json_integer(blocks[i]));
	json_t *down = json_array(), *upb = json_array();
	for (int i = 0; i < n; i++) {
		json_array_append_new(down, json_string("DownEncoderBlock2D"));
		json_array_append_new(upb, json_string("UpDecoderBlock2D"));
	}
	return json_pack("{s:s, s:i, s:i, s:i, s:o, s:o, s:o, s:i, s:i, s:s, s:b, s:b, s:b, s:f, s:f}", "_class_name",
			 "AutoencoderKL", "in_channels", 3, "out_channels", 3, "latent_channels", latent,
			 "block_out_channels", bo, "down_block_types", down, "up_block_types", upb, "layers_per_block",
			 layers, "norm_num_groups", groups, "act_fn", "silu", "mid_block_add_attention", 1, "use_quant_conv",
			 quant, "use_post_quant_conv", quant, "scaling_factor", 1.0, "shift_factor", 0.0);
}

static int same(const float *a, const float *b, size_t n, const char *what)
{
	return ok_close(a, b, n, 1e-6, 0, what);
}

/* 1: the training forward against vae.c on the same weights. */
static void check_forward(struct od_ctx *c, struct od_vae *v, const struct od_vae_params *p, int H, int W,
			  const char *label)
{
	const struct od_vae_config *cf = &p->cfg;
	const int L = cf->latent_channels, h = H / cf->downscale, w = W / cf->downscale;
	const size_t npix = (size_t)3 * H * W, nlat = (size_t)L * h * w;
	float *x = malloc(2 * npix * sizeof *x), *eps = malloc(2 * nlat * sizeof *eps);
	for (size_t i = 0; i < 2 * npix; i++)
		x[i] = 2 * frand() - 1;
	od_randn(7, 0, 2 * nlat, eps);
	float *mom = malloc(2 * 2 * nlat * sizeof *mom), *rec = malloc(2 * npix * sizeof *rec);
	float *m2 = malloc(2 * nlat * sizeof *m2), *z = malloc(nlat * sizeof *z), *dec = malloc(npix * sizeof *dec);
	struct od_vae_batch b = { 2, H, W, x, eps, mom, rec, 0 };
	struct od_vae_loss loss;
	float **g = calloc((size_t)p->n, sizeof *g);
	for (int i = 0; i < p->n; i++)
		g[i] = calloc((size_t)p->numel[i], sizeof(float));
	for (int pass = 0; pass < 2; pass++) {
		int rc = od_vae_loss_grad(c, p, &b, 1e-6, &loss, pass ? g : NULL);
		ok(!rc, "%s: training forward%s runs: %s", label, pass ? " (with the backward)" : "", rc ? od_errmsg() : "");
		for (int bi = 0; bi < 2; bi++) {
			char what[160];
			od_vae_encode(v, x + bi * npix, H, W, m2);
			snprintf(what, sizeof what, "%s, picture %d%s: moments = od_vae_encode's", label, bi,
				 pass ? " (with the backward)" : "");
			same(mom + bi * 2 * nlat, m2, 2 * nlat, what);
			float *m = mom + bi * 2 * nlat;
			for (size_t i = 0; i < nlat; i++) { /* z as od-encode samples it (pipeline/encode.c) */
				float lv = m[nlat + i] < -30 ? -30 : m[nlat + i] > 20 ? 20 : m[nlat + i];
				z[i] = m[i] + expf(0.5f * lv) * eps[bi * nlat + i];
			}
			od_vae_decode(v, z, h, w, dec);
			snprintf(what, sizeof what, "%s, picture %d%s: decoder output = od_vae_decode's", label, bi,
				 pass ? " (with the backward)" : "");
			same(rec + bi * npix, dec, npix, what);
		}
	}
	float *m3 = malloc(2 * nlat * sizeof *m3);
	ok(!od_vae_params_encode(c, p, x, H, W, m3) && !memcmp(m3, mom, 2 * nlat * sizeof *m3),
	   "%s: od_vae_params_encode gives the training forward's moments", label);
	for (int i = 0; i < p->n; i++)
		free(g[i]);
	free(g), free(x), free(eps), free(mom), free(rec), free(m2), free(z), free(dec), free(m3);
}

static void fresh_model(struct od_ctx *c, const char *tmp, int quant);

static void test_forward(struct od_ctx *c, const char *tmp)
{
	const char *model = getenv("OD_MODEL");
	struct od_vae v;
	if (!model || od_vae_open(&v, c, model)) {
		ok(0, "open the tiny model's VAE (OD_MODEL=%s): %s", model ? model : "(unset)", od_errmsg());
	} else {
		struct od_vae_params p;
		int rc = od_vae_params_init(&p, &v);
		ok(!rc, "float32 parameters from the tiny checkpoint (%d tensors)", rc ? 0 : p.n);
		check_forward(c, &v, &p, 32, 24, "tiny model");
		od_vae_params_free(&p);
		od_vae_close(&v);
	}
	/* fresh small models (three levels, layers_per_block 1; with and without quant_conv and
	 * post_quant_conv), saved and reopened */
	for (int quant = 0; quant < 2; quant++)
		fresh_model(c, tmp, quant);
}

static void fresh_model(struct od_ctx *c, const char *tmp, int quant)
{
	struct od_vae v;
	const int blocks[3] = { 16, 32, 32 };
	json_t *j = config_json(blocks, 3, 8, 4, 1, quant);
	struct od_vae_config cfg;
	int rc = od_vae_config_parse(j, &cfg, "test config");
	struct od_vae_params p;
	rc = rc ? rc : od_vae_params_init_random(&p, &cfg, 11);
	ok(!rc, "a fresh (16, 32, 32) model%s: %s", quant ? " with quant convs" : "", rc ? od_errmsg() : "");
	char dir[512], vdir[600];
	snprintf(dir, sizeof dir, "%s/test_vae_grad.%d", tmp, (int)getpid());
	snprintf(vdir, sizeof vdir, "%s/vae", dir);
	mkdir(dir, 0777);
	mkdir(vdir, 0777);
	rc = od_vae_params_save(&p, j, vdir);
	ok(!rc, "od_vae_params_save: %s", rc ? od_errmsg() : "");
	if (!rc && !(rc = od_vae_open(&v, c, dir))) {
		check_forward(c, &v, &p, 16, 32, quant ? "fresh saved model, quant convs" : "fresh saved model");
		od_vae_close(&v);
	} else {
		ok(0, "reopen the saved model: %s", od_errmsg());
	}
	/* the initialisation: GroupNorm 1 and 0, conv/linear within ±1/√fan_in */
	int good = 1;
	for (int i = 0; i < p.n; i++) {
		const char *nm = p.names[i];
		const struct od_tensor *t = &p.views[i];
		for (int64_t k = 0; k < p.numel[i]; k++) {
			float val = p.data[i][k];
			if (t->ndim >= 2 || (i > 0 && p.views[i - 1].ndim >= 2)) {
				const struct od_tensor *wt = t->ndim >= 2 ? t : &p.views[i - 1];
				double bound = 1 / sqrt((double)(od_tensor_numel(wt) / wt->shape[0]));
				good &= fabs(val) <= bound;
			} else {
				good &= val == (strstr(nm, "weight") ? 1.0f : 0.0f);
			}
		}
	}
	ok(good, "initialisation: GroupNorm weight 1 and bias 0, conv and linear within ±1/sqrt(fan_in)");
	char cmd[1300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	od_vae_params_free(&p);
	json_decref(j);
}

/* 2, 3: the loss gradient. */
static double eval_loss(struct od_ctx *c, const struct od_vae_params *p, const struct od_vae_batch *b, double beta)
{
	struct od_vae_loss l;
	if (od_vae_loss_grad(c, p, b, beta, &l, NULL))
		return NAN;
	return l.loss;
}

/* 4: decoder_only gives the decoder's gradients of the whole-VAE step g, byte
 * for byte, and the same loss; the encoder's buffers are not touched (NULL
 * ones, or ones that keep a sentinel). */
static void check_decoder_only(struct od_ctx *c, const struct od_vae_params *p, const struct od_vae_batch *b,
			       double beta, const struct od_vae_loss *whole, float *const *g, int quant)
{
	float **gn = calloc((size_t)p->n, sizeof *gn), **gs = calloc((size_t)p->n, sizeof *gs);
	int n_dec = 0, n_enc = 0;
	for (int i = 0; i < p->n; i++) {
		const int dec = od_vae_param_is_decoder(p->names[i]);
		n_dec += dec, n_enc += !dec;
		gn[i] = dec ? calloc((size_t)p->numel[i], sizeof(float)) : NULL;
		gs[i] = malloc((size_t)p->numel[i] * sizeof(float));
		for (int64_t k = 0; k < p->numel[i]; k++)
			gs[i][k] = dec ? 0.0f : 7.0f;
	}
	struct od_vae_batch bd = *b;
	bd.decoder_only = 1;
	struct od_vae_loss ln, ls;
	int rc = od_vae_loss_grad(c, p, &bd, beta, &ln, gn) | od_vae_loss_grad(c, p, &bd, beta, &ls, gs);
	int same_dec = 1, untouched = 1, halves = 1;
	for (int i = 0; i < p->n; i++) {
		const size_t nb = (size_t)p->numel[i] * sizeof(float);
		if (od_vae_param_is_decoder(p->names[i])) {
			same_dec &= !memcmp(gn[i], g[i], nb) && !memcmp(gs[i], g[i], nb);
			halves &= !strncmp(p->names[i], "decoder.", 8) || !strncmp(p->names[i], "post_quant_conv.", 16);
		} else {
			for (int64_t k = 0; k < p->numel[i]; k++)
				untouched &= gs[i][k] == 7.0f;
			halves &= !strncmp(p->names[i], "encoder.", 8) || !strncmp(p->names[i], "quant_conv.", 11);
		}
	}
	ok(!rc && halves && n_dec > 0 && n_enc > 0, "decoder_only%s: %d decoder and %d encoder tensors, split by name",
	   quant ? " (with quant convs)" : "", n_dec, n_enc);
	ok(!rc && ln.loss == whole->loss && ls.loss == whole->loss && ln.kl == whole->kl,
	   "decoder_only%s: the same loss (%.6f) as the whole VAE's step", quant ? " (with quant convs)" : "", ln.loss);
	ok(!rc && same_dec, "decoder_only%s: the decoder's gradients are the whole step's, byte for byte",
	   quant ? " (with quant convs)" : "");
	ok(!rc && untouched, "decoder_only%s: the encoder's gradient buffers are not touched (NULL ones are allowed)",
	   quant ? " (with quant convs)" : "");
	for (int i = 0; i < p->n; i++)
		free(gn[i]), free(gs[i]);
	free(gn), free(gs);
}

static void test_gradient(int quant)
{
	const int blocks[2] = { 8, 16 };
	json_t *j = config_json(blocks, 2, 4, 4, 1, quant);
	struct od_vae_config cfg;
	struct od_vae_params p;
	if (od_vae_config_parse(j, &cfg, "tiny") || od_vae_params_init_random(&p, &cfg, 5)) {
		ok(0, "tiny model: %s", od_errmsg());
		json_decref(j);
		return;
	}
	/* a small decoder output (|x̂| < 0.3 or so), so no |x̂ − x| comes near 0 for pictures in [0.6, 1] */
	for (int i = 0; i < p.n; i++)
		if (!strncmp(p.names[i], "decoder.conv_out.", 17))
			for (int64_t k = 0; k < p.numel[i]; k++)
				p.data[i][k] *= 0.25f;
	/* GroupNorm affine values away from 1 and 0, so their gradients are generic */
	for (int i = 0; i < p.n; i++)
		if (p.views[i].ndim == 1 && !(i > 0 && p.views[i - 1].ndim >= 2))
			for (int64_t k = 0; k < p.numel[i]; k++)
				p.data[i][k] += 0.3f * (2 * frand() - 1);
	const int B = 2, H = 16, W = 16, L = 4;
	const size_t npix = (size_t)3 * H * W, nlat = (size_t)L * (H / 2) * (W / 2);
	float *x = malloc(B * npix * sizeof *x), *eps = malloc(B * nlat * sizeof *eps), *rec = malloc(B * npix * sizeof *rec);
	for (size_t i = 0; i < B * npix; i++)
		x[i] = 0.6f + 0.4f * frand();
	od_randn(3, 0, B * nlat, eps);
	struct od_vae_batch b = { B, H, W, x, eps, NULL, rec, 0 };
	const double beta = 0.5;
	struct od_ctx *c1, *c2;
	od_ctx_create(&c1, OD_DEVICE_CPU, 1);
	float **g = calloc((size_t)p.n, sizeof *g), **g2 = calloc((size_t)p.n, sizeof *g2),
	      **g3 = calloc((size_t)p.n, sizeof *g3);
	for (int i = 0; i < p.n; i++) {
		g[i] = calloc((size_t)p.numel[i], sizeof(float));
		g2[i] = calloc((size_t)p.numel[i], sizeof(float));
		g3[i] = malloc((size_t)p.numel[i] * sizeof(float));
		for (int64_t k = 0; k < p.numel[i]; k++)
			g3[i][k] = 1.0f; /* accumulation: this run starts from ones */
	}
	struct od_vae_loss l1, l2, l3;
	int rc = od_vae_loss_grad(c1, &p, &b, beta, &l1, g);
	ok(!rc, "tiny model: loss and gradient: loss %.6f (recon %.6f, kl %.6f)", l1.loss, l1.recon, l1.kl);
	float gap = INFINITY;
	for (size_t i = 0; i < B * npix; i++)
		if (fabsf(rec[i] - x[i]) < gap)
			gap = fabsf(rec[i] - x[i]);
	ok(gap > 0.02f, "no reconstruction within 0.02 of L1's kink (closest %.3g)", gap);
	od_ctx_create(&c2, OD_DEVICE_CPU, 2);
	rc = od_vae_loss_grad(c2, &p, &b, beta, &l2, g2);
	rc |= od_vae_loss_grad(c2, &p, &b, beta, &l3, g3);
	int bits = l1.loss == l2.loss, acc = 1;
	for (int i = 0; i < p.n; i++) {
		bits &= !memcmp(g[i], g2[i], (size_t)p.numel[i] * sizeof(float));
		for (int64_t k = 0; k < p.numel[i]; k++)
			acc &= fabsf(g3[i][k] - 1.0f - g[i][k]) <= 1e-6f * (1 + fabsf(g[i][k]));
	}
	ok(!rc && acc, "gradients are accumulated (+=) into the caller's buffers");
	ok(!rc && bits, "1 and 2 threads give the same loss and gradient bytes");
	od_ctx_destroy(c2);
	check_decoder_only(c1, &p, &b, beta, &l1, g, quant);
	/* finite differences, three elements of every tensor */
	const double h = 2e-3;
	int bad = 0, checked = 0;
	double worst = 0;
	const char *worst_name = "";
	for (int i = 0; i < p.n; i++) {
		int64_t n = p.numel[i], pick[3] = { 0, n / 2, n - 1 };
		for (int64_t k = 0; k < n; k++)
			if (fabsf(g[i][k]) > fabsf(g[i][pick[0]]))
				pick[0] = k;
		for (int e = 0; e < 3; e++) {
			float *q = &p.data[i][pick[e]], keep = *q;
			*q = keep + (float)h;
			double lp = eval_loss(c1, &p, &b, beta);
			*q = keep - (float)h;
			double lm = eval_loss(c1, &p, &b, beta);
			*q = keep;
			double fd = (lp - lm) / ((double)(keep + (float)h) - (double)(keep - (float)h));
			double err = fabs(g[i][pick[e]] - fd), lim = 2e-5 + 1e-2 * fabs(fd);
			checked++;
			if (!(err <= lim)) {
				bad++;
				printf("# %s[%lld]: gradient %.8g, finite difference %.8g\n", p.names[i], (long long)pick[e],
				       g[i][pick[e]], fd);
			}
			if (err > worst)
				worst = err, worst_name = p.names[i];
		}
	}
	ok(!bad, "loss gradient%s = finite differences at %d elements (3 of each of %d tensors; worst |g - fd| %.3g at %s)",
	   quant ? " (with quant convs)" : "", checked, p.n, worst, worst_name);
	/* bad input */
	struct od_vae_batch bb = b;
	bb.H = 15;
	struct od_vae_loss lb;
	ok(od_vae_loss_grad(c1, &p, &bb, beta, &lb, NULL) == OD_EINVAL, "a 16x15 batch is refused: %s", od_errmsg());
	for (int i = 0; i < p.n; i++)
		free(g[i]), free(g2[i]), free(g3[i]);
	free(g), free(g2), free(g3), free(x), free(eps), free(rec);
	od_ctx_destroy(c1);
	od_vae_params_free(&p);
	json_decref(j);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct od_ctx *c;
	if (od_ctx_create(&c, OD_DEVICE_CPU, 0)) {
		ok(0, "cpu context: %s", od_errmsg());
		return tap_done();
	}
	test_forward(c, tmp && *tmp ? tmp : "/tmp");
	od_ctx_destroy(c);
	test_gradient(0);
	test_gradient(1);
	return tap_done();
}
