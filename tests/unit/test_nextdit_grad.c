/*
 * test_nextdit_grad.c: the NextDiT's loss gradient (model/nextdit_grad.h) beyond
 * the golden comparisons of t0800:
 *  - the identities of tests/golden/README.md §11.3 on od's own gradients of
 *    case (a) (the final bias is the sum of the output gradient, the
 *    x_embedder's gradients are the block-0 input gradient summed and
 *    weighted by the patches, t_embedder.mlp.2.bias and y_embedder.1.bias both
 *    equal Σ dL.c), and dL.model_output = fl(fl(out − target)·fl(2/N));
 *  - the float32 parameters: the forward reads them (bytes unchanged from the
 *    float32 checkpoint; a change to a weight changes the output), they are
 *    released cleanly, and the random initialisation follows its rules;
 *  - gradients accumulate into the caller's buffers;
 *  - a model without q/k norms and with batch 2, 2 frames of 4×6 latents
 *    against central finite differences of the float32 loss (per weight
 *    tensor, at its largest-gradient element), and the same batch padded
 *    with masked text rows (the same loss and gradients; od-train's trim).
 */
#include "od.h"
#include "model/nextdit_case.h"
#include "model/nextdit_grad.h"
#include "train/data.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct kept {
	char name[48];
	float *data;
	int64_t n;
};
static struct kept kept[16];
static int n_kept;

static void keep(void *user, const char *name, const float *data, int ndim, const int64_t *shape)
{
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	if (n_kept == 16)
		return;
	struct kept *k = &kept[n_kept++];
	snprintf(k->name, sizeof k->name, "%s", name);
	k->data = malloc((size_t)n * sizeof *k->data);
	memcpy(k->data, data, (size_t)n * sizeof *k->data);
	k->n = n;
}
static const float *get(const char *name)
{
	for (int i = 0; i < n_kept; i++)
		if (!strcmp(kept[i].name, name))
			return kept[i].data;
	return NULL;
}
static int find(const struct od_nextdit_params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->names[i], name))
			return i;
	return -1;
}
static float **alloc_grads(const struct od_nextdit_params *p)
{
	float **g = calloc((size_t)p->n, sizeof *g);
	for (int i = 0; i < p->n; i++)
		g[i] = calloc((size_t)p->numel[i], sizeof **g);
	return g;
}
static void free_grads(const struct od_nextdit_params *p, float **g)
{
	for (int i = 0; i < p->n; i++)
		free(g[i]);
	free(g);
}

static void test_identities(struct od_ctx *c, const char *model, const char *golden)
{
	struct od_nextdit m;
	char path[4096];
	snprintf(path, sizeof path, "%s/cases/train/a_b2_f2_8x8.safetensors", golden);
	struct od_nextdit_case cs;
	if (!ok(od_nextdit_open(&m, c, model) == OD_OK, "open the tiny model") ||
	    !ok(od_nextdit_case_read(&cs, path, &m.cfg) == OD_OK, "read case (a): %s", od_errmsg()))
		return;
	const struct od_nextdit_batch *b = &cs.b;
	const struct od_nextdit_config *cf = &m.cfg;
	const int64_t N = (int64_t)b->B * b->F * cf->out_channels * b->h * b->w;
	float *out0 = malloc((size_t)N * sizeof *out0), *out1 = malloc((size_t)N * sizeof *out1);
	/* the forward of the checkpoint, before the parameters are copied */
	struct od_nextdit_text txt;
	od_nextdit_text_prepare(&m, &txt, b->B, b->S, b->text, b->mask);
	od_nextdit_forward(&m, &txt, b->F, b->h, b->w, b->x, b->t, out0, NULL);

	struct od_nextdit_params p;
	ok(od_nextdit_params_init(&p, &m) == OD_OK && p.n == 60, "float32 parameters: 60 tensors");
	od_nextdit_forward(&m, &txt, b->F, b->h, b->w, b->x, b->t, out1, NULL);
	ok(!memcmp(out0, out1, (size_t)N * sizeof *out0), "the forward reads the float32 copies: the same bytes");
	int iw = find(&p, "final_layer.linear.bias");
	float save = p.data[iw][3];
	p.data[iw][3] += 0.5f;
	od_nextdit_forward(&m, &txt, b->F, b->h, b->w, b->x, b->t, out1, NULL);
	int changed = 0;
	for (int64_t i = 0; i < N; i++)
		changed += out1[i] != out0[i];
	ok(changed == N / 64, "a weight changed in place changes the output (%d of %lld values, one channel)", changed,
	   (long long)N);
	p.data[iw][3] = save;
	od_nextdit_text_free(&m, &txt);

	float **g = alloc_grads(&p), loss;
	struct od_nextdit_trace tr = { keep, NULL };
	struct od_nextdit_grad_opts o = { .per_token = 1, .trace = &tr };
	ok(od_nextdit_loss_grad_ex(&m, b, &o, &loss, g, out1) == OD_OK, "loss and gradients of case (a)");
	const float *dout = get("dL.model_output"), *dxe = get("dL.x_embed"), *dc = get("dL.c");
	if (!ok(dout && dxe && dc, "the intermediates are traced"))
		return;
	int exact = 1;
	const float k2n = (float)(2.0 / (double)N);
	for (int64_t i = 0; i < N; i++)
		exact &= dout[i] == (out1[i] - b->target[i]) * k2n;
	ok(exact, "dL.model_output = fl(fl(out - target)·fl(2/N)), bit for bit (torch's mse_loss backward)");
	/* Σ over tokens of the patchified output gradient = final_layer.linear.bias's gradient */
	const int P = cf->patch_dim, D = cf->hidden, A = cf->adaln, pH = cf->patch_h, pW = cf->patch_w, C = cf->in_channels;
	const int Wp = b->w / pW, T = (b->h / pH) * Wp;
	const int64_t M = (int64_t)b->B * b->F * T;
	float *tok = calloc((size_t)(M * P), sizeof *tok), *xtok = calloc((size_t)(M * P), sizeof *xtok);
	for (int64_t gq = 0; gq < (int64_t)b->B * b->F; gq++)
		for (int ch = 0; ch < C; ch++)
			for (int y = 0; y < b->h; y++)
				for (int x = 0; x < b->w; x++) {
					int64_t n = gq * T + (y / pH) * Wp + x / pW, src = ((gq * C + ch) * b->h + y) * b->w + x;
					int f = ((y % pH) * pW + x % pW) * C + ch;
					tok[n * P + f] = dout[src];
					xtok[n * P + f] = b->x[src];
				}
	float *e = calloc((size_t)(D * P), sizeof *e);
	for (int f = 0; f < P; f++) {
		double s = 0;
		for (int64_t n = 0; n < M; n++)
			s += tok[n * P + f];
		e[f] = (float)s;
	}
	ok_close(g[find(&p, "final_layer.linear.bias")], e, (size_t)P, 1e-9, 1e-5,
		 "grad final_layer.linear.bias = Σ patchify(dL.model_output)");
	for (int d = 0; d < D; d++) {
		double s = 0;
		for (int64_t n = 0; n < M; n++)
			s += dxe[n * D + d];
		e[d] = (float)s;
	}
	ok_close(g[find(&p, "x_embedder.bias")], e, (size_t)D, 1e-9, 1e-5, "grad x_embedder.bias = Σ dL.x_embed");
	for (int d = 0; d < D; d++)
		for (int f = 0; f < P; f++) {
			double s = 0;
			for (int64_t n = 0; n < M; n++)
				s += (double)dxe[n * D + d] * xtok[n * P + f];
			e[d * P + f] = (float)s;
		}
	ok_close(g[find(&p, "x_embedder.weight")], e, (size_t)(D * P), 1e-8, 1e-4,
		 "grad x_embedder.weight = Σ dL.x_embed ⊗ patchify(x_sigma)");
	for (int a = 0; a < A; a++) {
		double s = 0;
		for (int64_t n = 0; n < M; n++)
			s += dc[n * A + a];
		e[a] = (float)s;
	}
	ok_close(g[find(&p, "t_embedder.mlp.2.bias")], e, (size_t)A, 1e-9, 1e-5, "grad t_embedder.mlp.2.bias = Σ dL.c");
	ok_close(g[find(&p, "y_embedder.1.bias")], e, (size_t)A, 1e-9, 1e-5, "grad y_embedder.1.bias = Σ dL.c");

	/* accumulation: a second call adds the same gradient again (against one
	 * call with the same options: g above took the per-token path, whose sums
	 * match the default's bit for bit only where the linear layers run on od's
	 * own kernel, not on OpenBLAS) */
	float **g1 = alloc_grads(&p), **g2 = alloc_grads(&p), l2;
	od_nextdit_loss_grad(&m, b, &l2, g1, NULL);
	od_nextdit_loss_grad(&m, b, &l2, g2, NULL);
	float *twice = malloc((size_t)p.numel[0] * sizeof *twice);
	od_nextdit_loss_grad(&m, b, &l2, g2, NULL);
	for (int64_t i = 0; i < p.numel[0]; i++)
		twice[i] = 2 * g1[0][i];
	ok_close(g2[0], twice, (size_t)p.numel[0], 1e-9, 1e-6, "gradients accumulate: two calls give twice the gradient");
	ok(l2 == loss, "the per-frame and per-token adaLN give the same loss");
	free(twice);
	free_grads(&p, g1);
	free_grads(&p, g2);
	free_grads(&p, g);
	free(tok), free(xtok), free(e);
	for (int i = 0; i < n_kept; i++)
		free(kept[i].data);
	n_kept = 0;

	/* free: the mapped weights are back */
	od_nextdit_params_free(&p, &m);
	od_nextdit_text_prepare(&m, &txt, b->B, b->S, b->text, b->mask);
	od_nextdit_forward(&m, &txt, b->F, b->h, b->w, b->x, b->t, out1, NULL);
	ok(!memcmp(out0, out1, (size_t)N * sizeof *out0), "after params_free the model reads the checkpoint again");
	od_nextdit_text_free(&m, &txt);
	free(out0), free(out1);
	od_nextdit_case_free(&cs);
	od_nextdit_close(&m);
}

/* ---- a small model without q/k norms, against finite differences of the float32 loss */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_fd(struct od_ctx *c, const char *tmp)
{
	char cfgdir[4096], tdir[4096], path[4096], model[4096];
	snprintf(cfgdir, sizeof cfgdir, "%s/gradcfg", tmp);
	snprintf(tdir, sizeof tdir, "%s/transformer", cfgdir);
	snprintf(path, sizeof path, "%s/config.json", tdir);
	snprintf(model, sizeof model, "%s/gradmodel", tmp);
	mkdir(cfgdir, 0777);
	mkdir(tdir, 0777);
	write_file(path, "{\"hidden_size\": 48, \"num_heads\": 4, \"num_kv_heads\": 2, \"depth\": 2, \"multiple_of\": 16,"
			 " \"caption_channels\": 20, \"qk_norm\": false, \"in_channels\": 4, \"patch_size\": [1, 2, 2],"
			 " \"rotary_max_length\": 16, \"input_size\": [1, 4, 4], \"norm_eps\": 1e-5}\n");
	if (!ok(od_model_write_random(cfgdir, model, OD_F32, 5) == OD_OK, "a small model without q/k norms: %s",
		od_errmsg()))
		return;
	struct od_nextdit m;
	if (!ok(od_nextdit_open(&m, c, model) == OD_OK, "open it"))
		return;
	struct od_nextdit_params p;
	od_nextdit_params_init(&p, &m);
	/* the documented initialisation: zeros where upstream zeroes, ones for norm gains, bounded uniforms */
	ok(od_nextdit_params_init_random(&p, 11) == OD_OK, "random initialisation");
	int zero_ok = 1, one_ok = 1, xav_ok = 1;
	for (int i = 0; i < p.n; i++) {
		const char *nm = p.names[i];
		int want_zero = strstr(nm, "adaLN_modulation") || strstr(nm, "final_layer.linear") || strstr(nm, ".gate") ||
				!strcmp(nm, "x_embedder.bias") || strstr(nm, "t_embedder.mlp.0.bias") ||
				strstr(nm, "t_embedder.mlp.2.bias") || !strcmp(nm, "y_embedder.0.bias");
		int want_one = strstr(nm, "norm1.weight") || strstr(nm, "norm2.weight") || strstr(nm, "y_norm.weight") ||
			       !strcmp(nm, "y_embedder.0.weight");
		double mx = 0;
		for (int64_t k = 0; k < p.numel[i]; k++)
			mx = fabs(p.data[i][k]) > mx ? fabs(p.data[i][k]) : mx;
		if (want_zero)
			zero_ok &= mx == 0;
		else if (want_one)
			for (int64_t k = 0; k < p.numel[i]; k++)
				one_ok &= p.data[i][k] == 1.0f;
		if (strstr(nm, "attention.wq.weight"))
			xav_ok &= mx > 0 && mx <= sqrt(6.0 / (48 + 48)) && mx > 0.9 * sqrt(6.0 / 96);
	}
	ok(zero_ok, "init: adaLN, final layer, gates and embedder biases are zero");
	ok(one_ok, "init: norm gains are one");
	ok(xav_ok, "init: wq is Xavier-uniform (bound sqrt(6/(fan_in + fan_out)))");
	struct od_nextdit_params p2;
	float first = p.data[find(&p, "layers.1.feed_forward.w2.weight")][7];
	od_nextdit_params_free(&p, &m);
	od_nextdit_params_init(&p2, &m);
	od_nextdit_params_init_random(&p2, 11);
	ok(p2.data[find(&p2, "layers.1.feed_forward.w2.weight")][7] == first, "init: the same seed, the same weights");
	/* every weight made non-trivial, so that every path carries gradient */
	uint64_t r = 99;
	for (int i = 0; i < p2.n; i++)
		for (int64_t k = 0; k < p2.numel[i]; k++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			float u = (float)((double)(r >> 11) * 0x1p-53 * 2 - 1);
			p2.data[i][k] += (p2.views[i].ndim == 2 ? 0.3f / sqrtf((float)p2.views[i].shape[1]) : 0.3f) * u;
		}
	const int B = 2, F = 2, h = 4, w = 6, S = 5, Cn = 4, Dc = 20;
	const size_t nx = (size_t)B * F * Cn * h * w;
	float *x = malloc(nx * sizeof *x), *tg = malloc(nx * sizeof *tg), *text = malloc(sizeof(float) * B * S * Dc);
	float t[4] = { 700, 36.9f, 250, 999 };
	uint8_t mask[10] = { 1, 1, 1, 0, 0, 1, 1, 1, 1, 1 };
	for (size_t i = 0; i < nx; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		x[i] = (float)((double)(r >> 11) * 0x1p-53 * 4 - 2);
		tg[i] = (float)(((r >> 7) & 1023) / 256.0 - 2);
	}
	for (int i = 0; i < B * S * Dc; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		text[i] = (float)((double)(r >> 11) * 0x1p-53 * 4 - 2);
	}
	struct od_nextdit_batch b = { B, F, h, w, S, x, t, tg, text, mask, NULL };
	float **g = alloc_grads(&p2), loss;
	ok(od_nextdit_loss_grad(&m, &b, &loss, g, NULL) == OD_OK, "loss and gradients of the small model");
	/* per tensor, its largest-gradient element against (L(θ+h) − L(θ−h))/2h */
	float *a = malloc(sizeof(float) * p2.n), *e = malloc(sizeof(float) * p2.n);
	int n = 0;
	double worst = 0;
	const char *worst_name = "";
	for (int i = 0; i < p2.n; i++) {
		int64_t best = 0;
		for (int64_t k = 0; k < p2.numel[i]; k++)
			if (fabsf(g[i][k]) > fabsf(g[i][best]))
				best = k;
		if (strstr(p2.names[i], "ky_norm.bias"))
			continue; /* identically zero (golden README §11.3) */
		if (fabsf(g[i][best]) < 1e-4f) {
			ok(0, "%s: largest gradient %g, too small to difference", p2.names[i], g[i][best]);
			continue;
		}
		float *th = &p2.data[i][best], save = *th, hh = 1e-2f * (fabsf(save) > 1 ? fabsf(save) : 1), lp, lm;
		float **gz = alloc_grads(&p2);
		*th = save + hh;
		od_nextdit_loss_grad(&m, &b, &lp, gz, NULL);
		*th = save - hh;
		od_nextdit_loss_grad(&m, &b, &lm, gz, NULL);
		*th = save;
		free_grads(&p2, gz);
		/* the loss is float32: difference the exact float values of the two points */
		double fd = ((double)lp - lm) / ((double)(save + hh) - (double)(save - hh));
		a[n] = g[i][best], e[n] = (float)fd;
		double rel = fabs(a[n] - fd) / fabs(fd);
		if (rel > worst)
			worst = rel, worst_name = p2.names[i];
		n++;
	}
	ok(n == p2.n - 2, "%d weight tensors (all but the two ky_norm.bias) checked", n);
	ok_close(a, e, (size_t)n, 0, 2e-2, "every tensor's largest gradient against float32 central differences");
	printf("# worst relative difference %.3g (%s)\n", worst, worst_name);

	/* masked text rows are inert: the batch padded with 4 masked rows of
	 * garbage has the same loss and gradients, and od-train's trim
	 * (od_train_batch_trim_text) cuts it back to the 5 rows (numerics.md §11.16) */
	const int Sp = 9;
	float *tp = malloc(sizeof(float) * B * Sp * Dc);
	uint8_t mp[18] = { 0 };
	for (int k = 0; k < B; k++)
		for (int s = 0; s < Sp; s++) {
			mp[k * Sp + s] = s < S ? mask[k * S + s] : 0;
			for (int j = 0; j < Dc; j++)
				tp[((size_t)k * Sp + s) * Dc + j] = s < S ? text[((size_t)k * S + s) * Dc + j] : 7.5f - s - j;
		}
	struct od_nextdit_batch bp = { B, F, h, w, Sp, x, t, tg, tp, mp, NULL };
	float **gp = alloc_grads(&p2), lossp = NAN;
	int rcp = od_nextdit_loss_grad(&m, &bp, &lossp, gp, NULL);
	ok(rcp == OD_OK && lossp == loss,
	   "padded with masked rows: the same loss (%.9g, %.9g)", lossp, loss);
	int64_t total = 0;
	for (int i = 0; i < p2.n; i++)
		total += p2.numel[i];
	float *ga = malloc(sizeof(float) * total), *gb = malloc(sizeof(float) * total);
	for (int i = 0, at = 0; i < p2.n; at += (int)p2.numel[i], i++) {
		memcpy(ga + at, gp[i], sizeof(float) * p2.numel[i]);
		memcpy(gb + at, g[i], sizeof(float) * p2.numel[i]);
	}
	ok_close(ga, gb, (size_t)total, 1e-7, 1e-5, "padded with masked rows: the same gradients");
	struct od_train_batch tb = { .B = B, .S = Sp, .D = Dc, .text = tp, .mask = mp };
	od_train_batch_trim_text(&tb);
	ok(tb.S == S && !memcmp(tp, text, sizeof(float) * B * S * Dc) && !memcmp(mp, mask, (size_t)B * S),
	   "the trim gives back the 5-row texts and masks (S %d)", tb.S);

	/* frames out of the loss (clean conditions, numerics.md §11.1a): the loss and gradients are those of the
	 * whole batch with those frames' targets set to the model's output (their error 0), scaled by the
	 * elements over the elements still in the loss; every frame in: the plain loss, bit for bit */
	const uint8_t in_loss[4] = { 1, 0, 0, 1 }, all_in[4] = { 1, 1, 1, 1 }, none_in[4] = { 0 };
	float *o = malloc(nx * sizeof *o), *tg2 = malloc(nx * sizeof *tg2), lz, lmask, lall;
	float **gz = alloc_grads(&p2), **gm = alloc_grads(&p2), **gall = alloc_grads(&p2);
	od_nextdit_loss_grad(&m, &b, &lz, gz, o);
	const size_t per_frame = nx / (size_t)(B * F);
	for (size_t i = 0; i < nx; i++)
		tg2[i] = in_loss[i / per_frame] ? tg[i] : o[i];
	free_grads(&p2, gz);
	gz = alloc_grads(&p2);
	struct od_nextdit_batch bz = { B, F, h, w, S, x, t, tg2, text, mask, NULL };
	struct od_nextdit_batch bm = { B, F, h, w, S, x, t, tg, text, mask, in_loss };
	struct od_nextdit_batch ball = { B, F, h, w, S, x, t, tg, text, mask, all_in };
	struct od_nextdit_batch bnone = { B, F, h, w, S, x, t, tg, text, mask, none_in };
	ok(od_nextdit_loss_grad(&m, &bz, &lz, gz, NULL) == OD_OK && od_nextdit_loss_grad(&m, &bm, &lmask, gm, NULL) == OD_OK,
	   "loss and gradients with two of four frames out of the loss");
	ok(fabsf(lmask - 2 * lz) <= 1e-6f * lmask, "its loss is the mean over the two frames' elements (%.9g, 2 x %.9g)",
	   lmask, lz);
	for (int i = 0, at = 0; i < p2.n; at += (int)p2.numel[i], i++)
		for (int64_t k = 0; k < p2.numel[i]; k++)
			ga[at + k] = gm[i][k], gb[at + k] = 2 * gz[i][k];
	ok_close(ga, gb, (size_t)total, 1e-7, 1e-5, "its gradients: twice those of the batch with the others' error 0");
	int rc_all = od_nextdit_loss_grad(&m, &ball, &lall, gall, NULL);
	ok(rc_all == OD_OK && lall == loss, "every frame marked in: the plain loss (%.9g, %.9g)", lall, loss);
	int same = 1;
	for (int i = 0; i < p2.n; i++)
		same &= !memcmp(gall[i], g[i], sizeof(float) * p2.numel[i]);
	ok(same, "every frame marked in: the plain gradients, bit for bit");
	ok(od_nextdit_loss_grad(&m, &bnone, &lall, gall, NULL) == OD_EINVAL, "no frame in the loss is refused: %s",
	   od_errmsg());
	free_grads(&p2, gz), free_grads(&p2, gm), free_grads(&p2, gall);
	free(o), free(tg2);
	free(ga), free(gb), free(tp);
	free_grads(&p2, gp);
	free(a), free(e), free(x), free(tg), free(text);
	free_grads(&p2, g);
	od_nextdit_params_free(&p2, &m);
	od_nextdit_close(&m);
}

int main(void)
{
	const char *model = getenv("OD_MODEL"), *golden = getenv("OD_GOLDEN"), *tmp = getenv("TMPDIR");
	if (!model || !golden) {
		printf("1..0 # SKIP OD_MODEL and OD_GOLDEN not set (run through make check)\n");
		return 0;
	}
	struct od_ctx *c;
	if (od_ctx_create(&c, OD_DEVICE_CPU, 0)) {
		ok(0, "create a CPU context: %s", od_errmsg());
		return tap_done();
	}
	test_identities(c, model, golden);
	test_fd(c, tmp ? tmp : "/tmp");
	od_ctx_destroy(c);
	return tap_done();
}
