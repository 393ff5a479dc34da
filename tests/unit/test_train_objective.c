/*
 * test_train_objective: the training objective's noising against the golden
 * training cases (tests/golden/README.md §11.1, §11.3), bit for bit: given a
 * case's n and eps, od_train_noise must give its sigma, t, x_sigma and target
 * exactly; and the generator draws a step makes (train/objective.h) follow
 * torch's generator: the scalar path's cached normal carries over to the next
 * call, large draws are od_randn's, and the state survives export/import.
 */
#include "od.h"
#include "train/objective.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static float *tensor(const struct od_safetensors *st, const char *name, int64_t *n)
{
	const struct od_tensor *t = od_st_find(st, name);
	if (!t)
		return NULL;
	int64_t k = od_tensor_numel(t);
	float *v = malloc((size_t)k * sizeof *v);
	od_to_f32(v, t->data, t->dtype, (size_t)k);
	if (n)
		*n = k;
	return v;
}

/* Bit-for-bit comparison; prints the first differing element. */
static void same_bits(const float *a, const float *e, size_t n, const char *what)
{
	size_t bad = 0, first = 0;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &e[i], sizeof(float)) && !bad++)
			first = i;
	ok(!bad, "%s: bit for bit (%zu values)", what, n);
	if (bad)
		printf("# %zu differ; first at %zu: actual %a expected %a\n", bad, first, a[first], e[first]);
}

static void one_case(const char *golden, const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/cases/train/%s.safetensors", golden, name);
	struct od_safetensors st;
	if (od_st_open(&st, path)) {
		ok(0, "open %s: %s", path, od_errmsg());
		return;
	}
	int64_t nf, ne;
	float *n = tensor(&st, "n", &nf), *sigma = tensor(&st, "sigma", NULL), *x0 = tensor(&st, "x0", &ne);
	float *eps = tensor(&st, "eps", NULL), *xs = tensor(&st, "x_sigma", NULL), *t = tensor(&st, "t", NULL);
	float *target = tensor(&st, "target", NULL);
	if (!n || !sigma || !x0 || !eps || !xs || !t || !target) {
		ok(0, "%s: n, sigma, x0, eps, x_sigma, t and target present", name);
		return;
	}
	size_t fsz = (size_t)(ne / nf);
	float *my_sigma = malloc(nf * sizeof(float)), *my_t = malloc(nf * sizeof(float));
	float *my_xs = malloc(ne * sizeof(float)), *my_target = malloc(ne * sizeof(float));
	char what[256];

	/* from the normals: σ = sigmoid(n) too */
	od_train_noise((size_t)nf, fsz, n, my_sigma, my_t, x0, eps, my_xs, my_target);
	snprintf(what, sizeof what, "%s: sigma = sigmoid(n)", name);
	same_bits(my_sigma, sigma, (size_t)nf, what);
	snprintf(what, sizeof what, "%s: t = fp32(1000·sigma)", name);
	same_bits(my_t, t, (size_t)nf, what);
	snprintf(what, sizeof what, "%s: x_sigma = fp32(fp32((1 − σ)·x0) + fp32(σ·ε))", name);
	same_bits(my_xs, xs, (size_t)ne, what);
	snprintf(what, sizeof what, "%s: target = fp32(ε − x0)", name);
	same_bits(my_target, target, (size_t)ne, what);

	/* from the stored sigma (n = NULL) */
	memcpy(my_sigma, sigma, nf * sizeof(float));
	memset(my_xs, 0, ne * sizeof(float));
	od_train_noise((size_t)nf, fsz, NULL, my_sigma, my_t, x0, eps, my_xs, my_target);
	snprintf(what, sizeof what, "%s: x_sigma from the stored sigma", name);
	same_bits(my_xs, xs, (size_t)ne, what);

	/* The data tells a fused multiply-add apart: fma((1 − σ), x0, σ·ε)
	 * differs somewhere, so the bit-for-bit checks above would catch one. */
	size_t fused_differs = 0;
	for (int64_t f = 0; f < nf; f++)
		for (size_t i = 0; i < fsz; i++) {
			float q = sigma[f] * eps[f * fsz + i];
			float y = fmaf(1.0f - sigma[f], x0[f * fsz + i], q);
			fused_differs += memcmp(&y, &xs[f * fsz + i], sizeof y) != 0;
		}
	ok(fused_differs > 0, "%s: a fused multiply-add would differ in %zu values", name, fused_differs);

	free(my_sigma), free(my_t), free(my_xs), free(my_target);
	free(n), free(sigma), free(x0), free(eps), free(xs), free(t), free(target);
	od_st_close(&st);
}

static void draws(void)
{
	/* torch keeps the second normal of a scalar-path pair in the generator:
	 * randn(3) then randn(3) gives randn(6)'s values */
	struct od_train_rng a, b;
	float x[6], y[6];
	od_train_rng_seed(&a, 42);
	od_train_rng_seed(&b, 42);
	od_train_randn(&a, 3, x);
	od_train_randn(&a, 3, x + 3);
	od_train_randn(&b, 6, y);
	ok(!memcmp(x, y, sizeof x), "randn(3) + randn(3) = randn(6) (the cached normal carries over)");
	/* and the generator advances: a second randn(6) differs */
	od_train_randn(&b, 6, y);
	ok(memcmp(x, y, sizeof x) != 0, "the generator advances over scalar-path draws");

	/* large draws are od_randn's, from where the generator stands */
	float big[40], ref[40];
	od_train_rng_seed(&a, 7);
	od_train_randn(&a, 40, big);
	od_randn(7, 0, 40, ref);
	ok(!memcmp(big, ref, sizeof big), "randn(40) = od_randn(seed, 0, 40)");
	od_train_randn(&a, 40, big);
	od_randn(7, od_randn_words(40), 40, ref);
	ok(!memcmp(big, ref, sizeof big), "a second randn(40) continues the stream");

	/* export / import */
	int64_t s[OD_TRAIN_RNG_WORDS];
	od_train_rng_seed(&a, 3);
	od_train_randn(&a, 5, x); /* leaves a cached normal */
	od_train_rng_export(&a, s);
	ok(s[625] == 1, "export keeps the cached normal");
	ok(od_train_rng_import(&b, s) == 0, "import");
	od_train_randn(&a, 6, x);
	od_train_randn(&b, 6, y);
	ok(!memcmp(x, y, sizeof x), "an imported generator continues the same stream");
	s[624] = 625;
	ok(od_train_rng_import(&b, s) == OD_EFORMAT, "a position past 624 is refused: %s", od_errmsg());
	s[624] = 0;
	s[3] = -1;
	ok(od_train_rng_import(&b, s) == OD_EFORMAT, "a word that is not 32 bits is refused: %s", od_errmsg());

	/* rand_below is uniform on a small range and never out of it */
	od_train_rng_seed(&a, 1);
	int count[3] = { 0 };
	int out = 0;
	for (int i = 0; i < 30000; i++) {
		uint32_t k = od_train_rand_below(&a, 3);
		if (k < 3)
			count[k]++;
		else
			out++;
	}
	ok(!out && count[0] > 9500 && count[1] > 9500 && count[2] > 9500, "rand_below(3): %d %d %d", count[0],
	   count[1], count[2]);

	/* one step's draws: dropout uniforms, then n, then ε */
	enum { B = 2, F = 2, FS = 64 };
	float x0[B * F * FS], n[B * F], sg[B * F], t[B * F], e[B * F * FS], xs[B * F * FS], tg[B * F * FS];
	uint8_t drop[B];
	for (int i = 0; i < B * F * FS; i++)
		x0[i] = (float)(i % 7) - 3.0f;
	od_train_rng_seed(&a, 11);
	od_train_draw(&a, B, F, FS, 0.5, x0, drop, n, sg, t, e, xs, tg);
	od_train_rng_seed(&b, 11);
	float u0 = od_train_rand(&b), u1 = od_train_rand(&b), nn[B * F], ee[B * F * FS];
	od_train_randn(&b, B * F, nn);
	od_train_randn(&b, B * F * FS, ee);
	ok(drop[0] == (u0 < 0.5f) && drop[1] == (u1 < 0.5f) && !memcmp(n, nn, sizeof n) && !memcmp(e, ee, sizeof e),
	   "a step draws B uniforms, then randn(B·F), then randn(B·F·C·h·w)");
	od_train_rng_seed(&a, 11);
	od_train_draw(&a, B, F, FS, 0, x0, drop, n, sg, t, e, xs, tg);
	od_train_rng_seed(&b, 11);
	od_train_randn(&b, B * F, nn);
	ok(!drop[0] && !drop[1] && !memcmp(n, nn, sizeof n), "without caption dropout no uniform is drawn");
}

/* Clean conditions (objective.h od_train_clean): which frames, their values,
 * timesteps and loss marks, the draws' order, and nothing drawn when off. */
static void clean_conditions(void)
{
	enum { B = 400, F = 3, FS = 8 };
	static float x0[B * F * FS], sg[B * F], t[B * F], xs[B * F * FS], sg0[B * F], t0[B * F], xs0[B * F * FS];
	static uint8_t in[B * F];
	for (int i = 0; i < B * F * FS; i++)
		x0[i] = (float)(i % 11) * 0.25f - 1.0f, xs0[i] = 7.0f + (float)(i % 5);
	for (int i = 0; i < B * F; i++)
		sg0[i] = 0.5f + (float)(i % 3) * 0.125f, t0[i] = sg0[i] * 1000.0f;
	memcpy(sg, sg0, sizeof sg), memcpy(t, t0, sizeof t), memcpy(xs, xs0, sizeof xs);
	struct od_train_rng a, b;
	od_train_rng_seed(&a, 5);
	od_train_clean(&a, B, F, FS, 0.5, 100, x0, sg, t, xs, in);
	int jobs_clean = 0, bad = 0, subsets[8] = { 0 };
	for (int j = 0; j < B; j++) {
		int n_in = 0, mask = 0;
		for (int f = 0; f < F; f++) {
			const int i = j * F + f;
			n_in += in[i];
			if (in[i]) { /* untouched */
				bad += sg[i] != sg0[i] || t[i] != t0[i] || memcmp(xs + i * FS, xs0 + i * FS, sizeof(float) * FS);
			} else { /* clean: x0 itself, σ 0, t in [0, 100) */
				mask |= 1 << f;
				bad += sg[i] != 0 || !(t[i] >= 0 && t[i] < 100) ||
				       memcmp(xs + i * FS, x0 + i * FS, sizeof(float) * FS);
			}
		}
		bad += n_in == 0; /* at least one frame is learnt from */
		if (n_in < F)
			jobs_clean++, subsets[mask]++;
	}
	ok(!bad, "clean frames are x0 with σ 0 and t below 100, out of the loss; the others untouched; never all clean");
	ok(jobs_clean > 160 && jobs_clean < 240, "p 0.5: %d of %d jobs have clean conditions", jobs_clean, B);
	int all_seen = 1;
	for (int m = 1; m < 7; m++)
		all_seen &= subsets[m] > 15;
	ok(all_seen && !subsets[0] && !subsets[7], "all 6 non-empty proper subsets of 3 frames drawn (%d %d %d %d %d %d)",
	   subsets[1], subsets[2], subsets[3], subsets[4], subsets[5], subsets[6]);

	/* the draws, by hand: u per job; when u < p a coin per frame, again while all or none; a uniform per clean frame */
	od_train_rng_seed(&b, 5);
	int same = 1;
	for (int j = 0; j < B && same; j++) {
		if (od_train_rand(&b) >= 0.5f) {
			for (int f = 0; f < F; f++)
				same &= in[j * F + f] == 1;
			continue;
		}
		int c[F], n_c;
		do {
			n_c = 0;
			for (int f = 0; f < F; f++)
				n_c += c[f] = od_train_rand(&b) < 0.5f;
		} while (n_c == 0 || n_c == F);
		for (int f = 0; f < F; f++) {
			same &= in[j * F + f] == !c[f];
			if (c[f])
				same &= t[j * F + f] == (float)((double)od_train_rand(&b) * 100);
		}
	}
	ok(same && od_mt_next(&a.mt) == od_mt_next(&b.mt), "the documented draws, in their order");

	/* off, or a job of one frame: nothing drawn, every frame in the loss */
	od_train_rng_seed(&a, 5);
	od_train_rng_seed(&b, 5);
	memcpy(xs, xs0, sizeof xs);
	od_train_clean(&a, B, F, FS, 0, 100, x0, sg, t, xs, in);
	od_train_clean(&a, B * F, 1, FS, 1, 100, x0, sg, t, xs, in);
	int all_in = 1;
	for (int i = 0; i < B * F; i++)
		all_in &= in[i] == 1;
	ok(all_in && !memcmp(xs, xs0, sizeof xs) && od_mt_next(&a.mt) == od_mt_next(&b.mt),
	   "p 0 or one frame a job: no draw, no frame changed, every frame in the loss");
}

int main(void)
{
	const char *golden = getenv("OD_GOLDEN");
	if (!golden) {
		ok(0, "OD_GOLDEN is set");
		return tap_done();
	}
	one_case(golden, "a_b2_f2_8x8");
	one_case(golden, "b_b1_f4_mv_8x8");
	one_case(golden, "c_b2_f1_8x12");
	draws();
	clean_conditions();
	return tap_done();
}
