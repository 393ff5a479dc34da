/* sampler.c: flow-matching Euler sampling with guidance and condition frames (see sampler.h). */
#include "pipeline/sampler.h"
#include "base/error.h"
#include "base/tensor.h"

#include <stdlib.h>
#include <string.h>

void od_sampler_combine(float *v, const float *vu, const float *vc, size_t n, float g)
{
	for (size_t i = 0; i < n; i++) {
		float d = vc[i] - vu[i];
		float s = g * d;
		v[i] = vu[i] + s;
	}
}

double od_sampler_mu(const struct od_schedule_config *sc, int n_generated, int h, int w, int patch_area,
		     int text_to_image)
{
	/* img2img: seq = noise_scale · #(denoise_mask == 1) · h·w/4 (numerics.md §5.1), a
	 * float32 tensor; __call__: h·w/4 for its one frame, a Python number */
	double seq = (double)n_generated * ((double)h * w / patch_area);
	return text_to_image ? od_schedule_mu(sc, seq) : od_schedule_mu_f32(sc, seq);
}

int od_sample(struct od_nextdit *m, const struct od_schedule_config *sc, const struct od_nextdit_text *txt, int F,
	      int h, int w, const uint8_t *denoise, float *x, const struct od_sampler_opts *o)
{
	const int cfg = o->guidance > 1.0f;
	const int B = cfg ? 2 : 1;
	if (txt->batch != B)
		return od_error(OD_EINVAL, "sampler: %d text entries for a batch of %d", txt->batch, B);
	const int C = m->cfg.in_channels;
	const size_t fsz = (size_t)C * h * w, n = (size_t)F * fsz;
	int n_gen = 0;
	for (int f = 0; f < F; f++)
		n_gen += denoise[f] != 0;
	if (!n_gen)
		return od_error(OD_EFORMAT, "no frame to generate");
	int rc = od_nextdit_check_size(&m->cfg, F, h, w);
	if (rc)
		return rc;
	struct od_schedule s;
	double mu = od_sampler_mu(sc, n_gen, h, w, m->cfg.patch_h * m->cfg.patch_w, o->text_to_image);
	if ((rc = od_schedule_make(sc, o->steps, mu, &s)))
		return rc;
	float *clean = malloc(n * sizeof *clean), *xin = malloc((size_t)B * n * sizeof *xin),
	      *v = malloc((size_t)B * n * sizeof *v), *t = malloc((size_t)B * F * sizeof *t);
	if (!clean || !xin || !v || !t) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(clean, x, n * sizeof *x);
	const int N = s.steps;
	for (int i = 0; i < N; i++) {
		/* the batch [uncond; cond] duplicates every frame, conditions included (§5.3) */
		for (int b = 0; b < B; b++) {
			memcpy(xin + b * n, x, n * sizeof *x);
			for (int f = 0; f < F; f++)
				t[b * F + f] = denoise[f] ? s.timesteps[i] : s.timesteps[N - 1];
		}
		if ((rc = od_nextdit_forward(m, txt, F, h, w, xin, t, v, NULL)))
			goto out;
		if (o->trace && (rc = o->trace(o->trace_user, i, v, B)))
			goto out;
		if (cfg)
			od_sampler_combine(v, v, v + n, n, o->guidance);
		od_euler_step(x, v, n, s.sigmas[i], s.sigmas[i + 1]);
		for (int f = 0; f < F; f++) /* re-inject the clean condition frames */
			if (!denoise[f])
				memcpy(x + f * fsz, clean + f * fsz, fsz * sizeof *x);
		if (o->progress)
			o->progress(o->progress_user, i + 1, N);
	}
	int64_t bad = od_first_nonfinite(x, n);
	if (bad >= 0) /* README: non-finite values never leave a tool */
		rc = od_error(OD_EMODEL, "the sampler's output is not finite (NaN or infinity at element %lld of frame %lld): "
					 "are the transformer's weights and config intact?", (long long)(bad % (int64_t)fsz),
			      (long long)(bad / (int64_t)fsz));
out:
	od_schedule_free(&s);
	free(clean);
	free(xin);
	free(v);
	free(t);
	return rc;
}
