/*
 * test_rng: seeds to noise as upstream draws it (numerics.md §5.5). The golden
 * pipeline runs stored every torch.randn draw of a CPU generator seeded with
 * 1001..1004 (rand0 = prepare_latents, rand1 = the VAE posterior ε, rand2 =
 * the initial noise of img2img); od_randn with the skips od-denoise uses
 * (od_job_noise_skip) must give the same values, bit for bit (lib/base/rng.c
 * emulates torch's AVX2 log/sincos).
 */
#include "od.h"
#include "pipeline/job.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static float *tensor(const struct od_safetensors *st, const char *name, int64_t *n)
{
	const struct od_tensor *t = od_st_find(st, name);
	if (!t)
		return NULL;
	*n = od_tensor_numel(t);
	float *v = malloc((size_t)*n * sizeof *v);
	od_to_f32(v, t->data, t->dtype, (size_t)*n);
	return v;
}

/* Compare od_randn(seed, skip, n) with a stored draw; count exact values too. */
static void draw(const struct od_safetensors *st, const char *run, const char *name, uint64_t seed, uint64_t skip)
{
	int64_t n;
	float *e = tensor(st, name, &n);
	if (!e) {
		ok(0, "%s: no %s", run, name);
		return;
	}
	float *a = malloc((size_t)n * sizeof *a);
	od_randn(seed, skip, (size_t)n, a);
	size_t exact = 0;
	for (int64_t i = 0; i < n; i++)
		exact += !memcmp(&a[i], &e[i], sizeof(float));
	char what[200];
	snprintf(what, sizeof what, "%s: %s = randn(%lld) after %llu words of seed %llu", run, name, (long long)n,
		 (unsigned long long)skip, (unsigned long long)seed);
	ok_close(a, e, (size_t)n, 0, 0, what);
	ok(exact == (size_t)n, "... bit for bit (%zu of %lld)", exact, (long long)n);
	free(a);
	free(e);
}

int main(void)
{
	const char *golden = getenv("OD_GOLDEN");
	if (!golden) {
		printf("1..0 # SKIP OD_GOLDEN not set (run through make check)\n");
		return 0;
	}
	static const char *runs[] = { "t2i", "depth2image_mask10", "image2depth_mask01", "multiview_mask001010" };
	for (int i = 0; i < 4; i++) {
		char path[1024];
		snprintf(path, sizeof path, "%s/cases/pipeline/%s_softcap.safetensors", golden, runs[i]);
		struct od_safetensors st;
		if (od_st_open(&st, path)) {
			ok(0, "open %s: %s", path, od_errmsg());
			continue;
		}
		uint64_t seed = strtoull(od_st_meta(&st, "seed"), NULL, 10);
		const struct od_tensor *r1 = od_st_find(&st, "rand1.vae_posterior_eps");
		const struct od_tensor *fl = od_st_find(&st, "final_latents");
		/* the job od-denoise makes of this run, for its draw order */
		struct od_job job = { .C = 16, .h = 8, .w = 8, .F = (int)fl->shape[1], .text_to_image = !r1,
				      .n_cond_latents = r1 ? (int)r1->shape[0] : 0 };
		draw(&st, runs[i], "rand0.prepare_latents", seed, 0);
		if (r1) {
			draw(&st, runs[i], "rand1.vae_posterior_eps", seed, 1024);
			uint64_t skip = od_job_noise_skip(&job);
			ok(skip == 1024 + 1024 * (uint64_t)job.n_cond_latents, "%s: img2img noise starts after %llu words", runs[i],
			   (unsigned long long)skip);
			draw(&st, runs[i], "rand2.prepare_init_latents", seed, skip);
		} else {
			ok(od_job_noise_skip(&job) == 0, "%s: text-to-image noise is the first draw", runs[i]);
		}
		od_st_close(&st);
	}
	/* small counts take torch's scalar path; large ones redraw the last block of 16 */
	float a[40], b[40];
	od_randn(5, 0, 40, a);
	od_randn(5, 0, 40, b);
	ok(!memcmp(a, b, sizeof a), "the same seed gives the same noise");
	ok(od_randn_words(40) == 56 && od_randn_words(32) == 32 && od_randn_words(8) == 16 && od_randn_words(5) == 12,
	   "words consumed: 40 -> 56 (last block redrawn), 32 -> 32, 8 -> 16 and 5 -> 12 (scalar path, 4 a pair)");
	/* the scalar path advances the generator and caches the pair's second value
	 * there: randn(3) then randn(3) on one generator is randn(6) (torch's
	 * next_double_normal_sample) */
	{
		struct od_mt19937 g1, g2, g3;
		float x[6], y[6];
		od_mt_seed(&g1, 11);
		od_randn_next(&g1, 6, x);
		od_mt_seed(&g2, 11);
		od_randn_next(&g2, 3, y);
		od_randn_next(&g2, 3, y + 3);
		ok(!memcmp(x, y, sizeof x), "scalar path: randn(3), randn(3) = randn(6) on one generator");
		od_mt_seed(&g3, 11);
		for (int i = 0; i < 12; i++)
			od_mt_next(&g3);
		ok(g1.i == g3.i && !memcmp(g1.s, g3.s, sizeof g1.s), "scalar path: randn(6) consumes 12 words");
		od_randn_next(&g2, 2, y);
		od_randn_next(&g1, 2, x);
		ok(!memcmp(x, y, 2 * sizeof *x), "the generators stay in step afterwards");
	}
	return tap_done();
}
