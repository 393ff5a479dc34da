/*
 * test_train_adamw: the optimiser against torch (tests/golden/README.md §11.4):
 *  - the step-1 and step-2 scalars equal the float32 constants the README lists;
 *  - two AdamW steps from the checkpoint weights, with case (a)'s gradients and
 *    then the stored step-2 gradients, give every stored step1./step2. weight
 *    and state{1,2}. moment bit for bit; the 9 large tensors the file does not
 *    store are checked against an independent element-by-element evaluation of
 *    the README's formula with its literal constants;
 *  - the thread count changes no byte (1 thread vs all);
 *  - gradient-norm clipping, the learning-rate schedule and the EMA.
 */
#include "od.h"
#include "train/adamw.h"
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 64

static float bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static float *copy_f32(const struct od_tensor *t)
{
	int64_t k = od_tensor_numel(t);
	float *v = malloc((size_t)k * sizeof *v);
	od_to_f32(v, t->data, t->dtype, (size_t)k);
	return v;
}

static int same(const float *a, const float *e, size_t n, size_t *first)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &e[i], sizeof(float)) && !bad++)
			*first = i;
	return bad > 0;
}

/* The README's formula with its literal float32 constants, element by element. */
static void reference_step(float *p, float *m, float *v, float g, int k)
{
	const float decay = bits(0x3f7fffac), b1 = bits(0x3f666666), omb1 = bits(0x3dcccccd);
	const float b2 = bits(0x3f7fbe77), omb2 = bits(0x3a83126f), eps = bits(0x322bcc77);
	const float neg_step = k == 1 ? bits(0xbba3d70a) : bits(0xbb2c7692);
	const float bc2 = k == 1 ? bits(0x3d0186e2) : bits(0x3d372205);
	volatile float pd = *p * decay; /* volatile: each operation rounded, whatever the compiler */
	volatile float m1 = *m * b1;
	float mn = fmaf(g, omb1, m1);
	volatile float gb = omb2 * g;
	volatile float v1 = *v * b2;
	float vn = fmaf(gb, g, v1);
	volatile float s = sqrtf(vn);
	volatile float q = s / bc2;
	volatile float d = q + eps;
	volatile float num = neg_step * mn;
	volatile float st = num / d;
	*p = pd + st;
	*m = mn;
	*v = vn;
}

int main(void)
{
	const char *golden = getenv("OD_GOLDEN"), *model = getenv("OD_MODEL");
	if (!golden || !model) {
		ok(0, "OD_GOLDEN and OD_MODEL are set");
		return tap_done();
	}
	char path[1024];
	struct od_safetensors ck, ca, aw;
	snprintf(path, sizeof path, "%s/transformer/diffusion_pytorch_model.safetensors", model);
	int rc = od_st_open(&ck, path);
	snprintf(path, sizeof path, "%s/cases/train/a_b2_f2_8x8.safetensors", golden);
	rc = rc ? rc : od_st_open(&ca, path);
	snprintf(path, sizeof path, "%s/cases/train/adamw_2steps.safetensors", golden);
	rc = rc ? rc : od_st_open(&aw, path);
	if (!ok(!rc, "open the checkpoint, case (a) and adamw_2steps: %s", rc ? od_errmsg() : "ok"))
		return tap_done();

	/* the scalars */
	struct od_adamw_opts o = { .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01 };
	struct od_adamw_scalars s1, s2;
	od_adamw_scalars(&o, 1, 5e-4, &s1);
	od_adamw_scalars(&o, 2, 5e-4, &s2);
	ok(s1.decay == bits(0x3f7fffac) && s1.beta1 == bits(0x3f666666) && s1.one_minus_beta1 == bits(0x3dcccccd) &&
	   s1.beta2 == bits(0x3f7fbe77) && s1.one_minus_beta2 == bits(0x3a83126f) && s1.eps == bits(0x322bcc77),
	   "1 − lr·wd, β1, 1 − β1, β2, 1 − β2 and eps as float32");
	ok(s1.neg_step == bits(0xbba3d70a) && s1.bc2_sqrt == bits(0x3d0186e2), "step 1: −lr/(1 − β1) and sqrt(1 − β2)");
	ok(s2.neg_step == bits(0xbb2c7692) && s2.bc2_sqrt == bits(0x3d372205), "step 2: −lr/(1 − β1²) and sqrt(1 − β2²)");

	/* the parameters: every tensor of the checkpoint */
	int n = ck.n_tensors;
	if (!ok(n == 60 && n <= MAXT, "the checkpoint has 60 tensors (%d)", n))
		return tap_done();
	const char *names[MAXT];
	int64_t numel[MAXT];
	float *p[MAXT], *g[MAXT], *ref_p[MAXT], *ref_m[MAXT], *ref_v[MAXT];
	int missing = 0;
	for (int i = 0; i < n; i++) {
		const struct od_tensor *t = &ck.tensors[i];
		names[i] = t->name;
		numel[i] = od_tensor_numel(t);
		p[i] = copy_f32(t);
		ref_p[i] = copy_f32(t);
		ref_m[i] = calloc((size_t)numel[i], sizeof(float));
		ref_v[i] = calloc((size_t)numel[i], sizeof(float));
		char key[256];
		snprintf(key, sizeof key, "grad.%s", t->name);
		const struct od_tensor *gt = od_st_find(&ca, key);
		g[i] = gt ? copy_f32(gt) : NULL;
		missing += !gt;
	}
	if (!ok(!missing, "case (a) has a gradient for every tensor"))
		return tap_done();

	struct od_adamw a;
	ok(!od_adamw_init(&a, &o, n, numel), "init");
	od_set_threads(0);
	od_adamw_step(&a, p, (const float *const *)g, 5e-4);
	ok(a.step == 1, "one step taken");

	/* step 1 against the file, the formula where the file has no value */
	int stored = 0, bad_stored = 0, bad_ref = 0, checked_state = 0, bad_state = 0;
	for (int i = 0; i < n; i++) {
		char key[256];
		size_t first = 0;
		for (int64_t e = 0; e < numel[i]; e++)
			reference_step(&ref_p[i][e], &ref_m[i][e], &ref_v[i][e], g[i][e], 1);
		if (same(p[i], ref_p[i], (size_t)numel[i], &first) || same(a.m[i], ref_m[i], (size_t)numel[i], &first) ||
		    same(a.v[i], ref_v[i], (size_t)numel[i], &first)) {
			bad_ref++;
			printf("# step 1 %s: differs from the formula at %zu: %a vs %a\n", names[i], first, p[i][first],
			       ref_p[i][first]);
		}
		snprintf(key, sizeof key, "step1.%s", names[i]);
		const struct od_tensor *t = od_st_find(&aw, key);
		if (t) {
			stored++;
			float *e = copy_f32(t);
			if (same(p[i], e, (size_t)numel[i], &first)) {
				bad_stored++;
				printf("# step1.%s: first difference at %zu: %a vs %a\n", names[i], first, p[i][first], e[first]);
			}
			free(e);
		}
		for (int which = 0; which < 2; which++) {
			snprintf(key, sizeof key, "state1.%s.%s", which ? "exp_avg_sq" : "exp_avg", names[i]);
			if ((t = od_st_find(&aw, key))) {
				checked_state++;
				float *e = copy_f32(t);
				if (same(which ? a.v[i] : a.m[i], e, (size_t)numel[i], &first)) {
					bad_state++;
					printf("# %s differs at %zu\n", key, first);
				}
				free(e);
			}
		}
	}
	ok(stored == 51 && !bad_stored, "step 1: the %d stored tensors bit for bit (%d differ)", stored, bad_stored);
	ok(checked_state == 10 && !bad_state, "step 1: the %d stored moments bit for bit (%d differ)", checked_state,
	   bad_state);
	ok(!bad_ref, "step 1: all 60 tensors equal the README formula with its constants (%d differ)", bad_ref);

	/* step 2: the 51 tensors with a stored gradient; AdamW is elementwise, so
	 * a sub-set of the tensors is an optimiser of its own */
	struct od_adamw sub = a;
	float *sp[MAXT], *sg[MAXT], *sm[MAXT], *sv[MAXT];
	int64_t snum[MAXT];
	int idx[MAXT], k = 0;
	for (int i = 0; i < n; i++) {
		char key[256];
		snprintf(key, sizeof key, "step2_grad.%s", names[i]);
		const struct od_tensor *t = od_st_find(&aw, key);
		if (!t)
			continue;
		idx[k] = i;
		sp[k] = p[i], sm[k] = a.m[i], sv[k] = a.v[i], snum[k] = numel[i];
		sg[k] = copy_f32(t);
		for (int64_t e = 0; e < numel[i]; e++)
			reference_step(&ref_p[i][e], &ref_m[i][e], &ref_v[i][e], sg[k][e], 2);
		k++;
	}
	sub.n = k, sub.numel = snum, sub.m = sm, sub.v = sv;
	od_set_threads(1); /* and one thread this time: the bytes must not change */
	od_adamw_step(&sub, sp, (const float *const *)sg, 5e-4);
	od_set_threads(0);
	int bad2 = 0, bad2_state = 0, bad2_ref = 0, st2 = 0;
	for (int j = 0; j < k; j++) {
		int i = idx[j];
		char key[256];
		size_t first = 0;
		snprintf(key, sizeof key, "step2.%s", names[i]);
		const struct od_tensor *t = od_st_find(&aw, key);
		float *e = t ? copy_f32(t) : NULL;
		if (!e || same(p[i], e, (size_t)numel[i], &first)) {
			bad2++;
			if (e)
				printf("# step2.%s: first difference at %zu: %a vs %a\n", names[i], first, p[i][first], e[first]);
		}
		free(e);
		if (same(p[i], ref_p[i], (size_t)numel[i], &first))
			bad2_ref++;
		for (int which = 0; which < 2; which++) {
			snprintf(key, sizeof key, "state2.%s.%s", which ? "exp_avg_sq" : "exp_avg", names[i]);
			if ((t = od_st_find(&aw, key))) {
				st2++;
				float *ev = copy_f32(t);
				if (same(which ? sv[j] : sm[j], ev, (size_t)numel[i], &first))
					bad2_state++;
				free(ev);
			}
		}
	}
	ok(k == 51 && !bad2, "step 2: the %d stored tensors bit for bit (%d differ)", k, bad2);
	ok(st2 == 10 && !bad2_state, "step 2: the %d stored moments bit for bit (%d differ)", st2, bad2_state);
	ok(!bad2_ref, "step 2: the README formula agrees (%d differ)", bad2_ref);

	/* ---- clipping */
	double naive = 0;
	for (int i = 0; i < n; i++)
		for (int64_t e = 0; e < numel[i]; e++)
			naive += (double)g[i][e] * g[i][e];
	naive = sqrt(naive);
	double norm = od_grad_norm(n, numel, (const float *const *)g);
	ok(fabs(norm - naive) <= 1e-12 * naive, "gradient norm %.17g (plain double sum %.17g)", norm, naive);
	/* a large tensor takes the chunked, threaded path; its norm does not depend on the thread count */
	int64_t big_n = 3 * 65536 + 17;
	float *big = malloc((size_t)big_n * sizeof *big);
	for (int64_t e = 0; e < big_n; e++)
		big[e] = (float)((e * 7919) % 1000) * 1e-3f - 0.5f;
	const float *bigp[1] = { big };
	od_set_threads(1);
	double n1 = od_grad_norm(1, &big_n, bigp);
	od_set_threads(0);
	double n2 = od_grad_norm(1, &big_n, bigp);
	ok(n1 == n2, "a chunked norm is the same on 1 thread and on %d (%.17g)", od_threads(), n2);
	float f = od_grad_clip(1, &big_n, (float *const *)&big, n2, n2 / 4);
	double after = od_grad_norm(1, &big_n, bigp);
	ok(f < 1 && fabs(after - n2 / 4) < 1e-5 * n2, "clipping to a quarter: factor %g, norm %g -> %g", f, n2, after);
	ok(od_grad_clip(1, &big_n, (float *const *)&big, after, after * 2) == 1.0f, "a norm under the limit is kept");
	ok(od_grad_clip(1, &big_n, (float *const *)&big, after, 0) == 1.0f, "max_norm 0 never clips");

	/* ---- frozen tensors (NULL gradients): untouched, weight decay included, and out of the norm */
	{
		int64_t fn[2] = { 5, 3 };
		float w0[5] = { 1, -2, 3, -4, 5 }, w1[3] = { 0.5f, 0.25f, -1 }, g1[3] = { 0.1f, -0.2f, 0.3f };
		float k0[5], k1[3];
		memcpy(k0, w0, sizeof w0), memcpy(k1, w1, sizeof w1);
		struct od_adamw fa;
		const struct od_adamw_opts fo = { 0.9, 0.999, 1e-8, 0.01 };
		od_adamw_init(&fa, &fo, 2, fn);
		float *fp[2] = { w0, w1 };
		const float *fg[2] = { NULL, g1 };
		od_adamw_step(&fa, fp, fg, 1e-2);
		int frozen = !memcmp(w0, k0, sizeof w0), moved = 1, zero_m = 1;
		for (int e = 0; e < 3; e++) {
			float rp = k1[e], rm = 0, rv = 0;
			struct od_adamw_scalars sc;
			od_adamw_scalars(&fo, 1, 1e-2, &sc);
			od_adamw_element(&sc, &rp, &rm, &rv, g1[e]);
			moved &= w1[e] == rp;
		}
		for (int e = 0; e < 5; e++)
			zero_m &= fa.m[0][e] == 0 && fa.v[0][e] == 0;
		ok(frozen && zero_m && moved, "a NULL gradient freezes its tensor (weights and moments), the others step");
		double fnorm = od_grad_norm(2, fn, fg), g1n = sqrt(0.1 * 0.1 + 0.2 * 0.2 + 0.3 * 0.3);
		ok(fabs(fnorm - g1n) < 1e-7, "... and the norm counts the others alone (%.9g)", fnorm);
		od_adamw_free(&fa);
	}
	free(big);

	/* ---- schedule */
	struct od_lr_schedule ls = { .lr = 1e-3, .min_lr = 1e-4, .warmup = 10, .total = 110, .shape = OD_LR_COSINE };
	ok(od_lr_at(&ls, 1) == 1e-4 && od_lr_at(&ls, 5) == 5e-4 && od_lr_at(&ls, 10) == 1e-3,
	   "warm-up: lr·k/W (%g, %g, %g)", od_lr_at(&ls, 1), od_lr_at(&ls, 5), od_lr_at(&ls, 10));
	ok(fabs(od_lr_at(&ls, 60) - 5.5e-4) < 1e-15 && fabs(od_lr_at(&ls, 110) - 1e-4) < 1e-15,
	   "cosine: halfway %.17g, at the end %.17g", od_lr_at(&ls, 60), od_lr_at(&ls, 110));
	ok(od_lr_at(&ls, 11) < 1e-3 && od_lr_at(&ls, 11) > od_lr_at(&ls, 12), "cosine decreases after the warm-up");
	ls.shape = OD_LR_CONSTANT;
	ok(od_lr_at(&ls, 11) == 1e-3 && od_lr_at(&ls, 110) == 1e-3, "constant after the warm-up");
	ls.warmup = 0;
	ok(od_lr_at(&ls, 1) == 1e-3, "no warm-up");
	ok(od_lr_shape_parse("cosine") == OD_LR_COSINE && od_lr_shape_parse("constant") == OD_LR_CONSTANT &&
	   od_lr_shape_parse("linear") == -1, "schedule names");

	/* ---- EMA: e ← e − fp32(1 − d)·(e − p) */
	float e0[3] = { 0, 1, -2 }, p0[3] = { 1, 1, 2 };
	float *ep = e0;
	const float *pp = p0;
	int64_t three = 3;
	od_ema_update(1, &three, &ep, &pp, 0.9);
	volatile float c = (float)(1.0 - 0.9);
	volatile float d0 = 0.0f - 1.0f, d2 = -2.0f - 2.0f;
	volatile float q0 = c * d0, q2 = c * d2;
	ok(e0[0] == 0.0f - q0 && e0[1] == 1.0f && e0[2] == -2.0f - q2, "EMA update (%g %g %g)", e0[0], e0[1], e0[2]);

	for (int i = 0; i < n; i++)
		free(p[i]), free(g[i]), free(ref_p[i]), free(ref_m[i]), free(ref_v[i]);
	for (int j = 0; j < k; j++)
		free(sg[j]);
	od_adamw_free(&a);
	od_st_close(&ck);
	od_st_close(&ca);
	od_st_close(&aw);
	return tap_done();
}
