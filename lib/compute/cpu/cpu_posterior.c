/*
 * cpu_posterior.c: the AutoencoderKL posterior and its backward
 * (numerics.md §4.2; numerics.md §12.2, §12.3.5).
 *
 * diffusers' DiagonalGaussianDistribution, element by element in float32:
 *   mean, logvar = moments.chunk(2, dim=1);  lv = clamp(logvar, −30, 20)
 *   std = exp(0.5·lv);  var = exp(lv);  z = mean + std·ε
 *   kl = 0.5·(mean² + var − 1 − lv)        (summed by the caller)
 * z is formed as pipeline/encode.c's od_vae_posterior forms it (std·ε first,
 * then + mean), so a training forward samples the latent od-encode would.
 * Backward of Σ dz·z + κ·Σ kl (κ = kl_weight):
 *   ∂/∂mean   = dz + κ·mean
 *   ∂/∂logvar = [−30 ≤ logvar ≤ 20]·(dz·ε·0.5·std + κ·0.5·(var − 1))
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/parallel.h"

#include <math.h>

struct post_job {
	float *z, *kl, *dm;
	const float *m, *eps, *dz;
	int L;
	int64_t hw;
	float kw;
};

static inline float clamp_lv(float lv)
{
	return lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
}

static void post_images(void *p, int64_t n0, int64_t n1)
{
	const struct post_job *j = p;
	const int64_t nl = (int64_t)j->L * j->hw;
	for (int64_t n = n0; n < n1; n++) {
		const float *mean = j->m + n * 2 * nl, *logvar = mean + nl, *e = j->eps + n * nl;
		for (int64_t i = 0; i < nl; i++) {
			float lv = clamp_lv(logvar[i]), std = expf(0.5f * lv);
			float se = std * e[i];
			j->z[n * nl + i] = mean[i] + se;
			if (j->kl)
				j->kl[n * nl + i] = 0.5f * (mean[i] * mean[i] + expf(lv) - 1.0f - lv);
		}
	}
}

int od_cpu_posterior(struct od_ctx *c, float *z, float *kl, const float *moments, const float *eps, int N, int L,
		     int64_t hw)
{
	struct post_job j = { .z = z, .kl = kl, .m = moments, .eps = eps, .L = L, .hw = hw };
	od_parallel_for(N, post_images, &j);
	return 0;
}

static void postb_images(void *p, int64_t n0, int64_t n1)
{
	const struct post_job *j = p;
	const int64_t nl = (int64_t)j->L * j->hw;
	for (int64_t n = n0; n < n1; n++) {
		const float *mean = j->m + n * 2 * nl, *logvar = mean + nl, *e = j->eps + n * nl, *dz = j->dz + n * nl;
		float *dmean = j->dm + n * 2 * nl, *dlv = dmean + nl;
		for (int64_t i = 0; i < nl; i++) {
			float raw = logvar[i], lv = clamp_lv(raw), std = expf(0.5f * lv);
			dmean[i] = dz[i] + j->kw * mean[i];
			dlv[i] = raw >= -30.0f && raw <= 20.0f
					 ? dz[i] * e[i] * 0.5f * std + j->kw * 0.5f * (expf(lv) - 1.0f)
					 : 0.0f;
		}
	}
}

int od_cpu_posterior_backward(struct od_ctx *c, float *dmoments, const float *dz, const float *moments,
			      const float *eps, int N, int L, int64_t hw, float kl_weight)
{
	struct post_job j = { .dm = dmoments, .m = moments, .eps = eps, .dz = dz, .L = L, .hw = hw, .kw = kl_weight };
	od_parallel_for(N, postb_images, &j);
	return 0;
}
