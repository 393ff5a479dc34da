/*
 * encode.c: the VAE posterior and the noise for it (see encode.h).
 */
#include "pipeline/encode.h"
#include "base/error.h"
#include "base/tensor.h"
#include "pipeline/draws.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void od_vae_posterior(const float *moments, int L, int64_t hw, const float *eps, float sf, float *z)
{
	/* diffusers DiagonalGaussianDistribution: logvar clamped to [-30, 20],
	 * std = exp(0.5·logvar), sample = mean + std·ε (float32, §4.2) */
	const int64_t n = (int64_t)L * hw;
	for (int64_t i = 0; i < n; i++) {
		float mean = moments[i], v = mean;
		if (eps) {
			float lv = moments[n + i];
			lv = lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
			float std = expf(0.5f * lv);
			float se = std * eps[i];
			v = mean + se;
		}
		z[i] = sf * v; /* fp32(scaling_factor)·z, §4.3 */
	}
}

void od_encoder_init(struct od_encoder *e, struct od_vae *vae)
{
	memset(e, 0, sizeof *e);
	e->vae = vae;
	e->skip = UINT64_MAX;
}

void od_encoder_free(struct od_encoder *e)
{
	free(e->gen);
	free(e->nbuf);
	memset(e, 0, sizeof *e);
}

void od_encoder_restart(struct od_encoder *e, uint64_t seed)
{
	e->seed = seed;
	free(e->gen);
	e->gen = NULL;
}

void od_encoder_use_seed(struct od_encoder *e, uint64_t seed, uint64_t skip)
{
	e->source = OD_NOISE_SEED;
	e->seed = seed;
	e->skip = skip;
}

void od_encoder_use_noise(struct od_encoder *e, struct od_reader *r)
{
	e->source = OD_NOISE_FRAMES;
	e->noise = r;
}

/* n values of the noise stream, across frame boundaries. */
static int take_noise(struct od_encoder *e, float *out, size_t n)
{
	while (n) {
		if (e->npos == e->nlen) {
			struct od_frame f;
			int rc = od_reader_next(e->noise, &f);
			if (rc < 0)
				return rc;
			if (rc == 0)
				return od_error(OD_EFORMAT, "'%s': the noise ran out at picture %ld (it needs %zu more values)",
						e->noise->label, e->count, n);
			if (f.kind != OD_KIND_NOISE || !f.data) {
				char d[128];
				rc = od_error(OD_EFORMAT, "'%s': frame %llu is %s, not noise", e->noise->label,
					      (unsigned long long)(e->noise->index - 1), od_frame_describe(&f, d, sizeof d));
				od_frame_free(&f);
				return rc;
			}
			size_t m = (size_t)od_frame_numel(&f);
			float *b = realloc(e->nbuf, (m ? m : 1) * sizeof *b);
			if (!b) {
				od_frame_free(&f);
				return od_error(OD_ENOMEM, "out of memory");
			}
			e->nbuf = b;
			rc = od_frame_to_f32(&f, b);
			od_frame_free(&f);
			if (rc)
				return rc;
			e->nlen = m;
			e->npos = 0;
			continue;
		}
		size_t k = e->nlen - e->npos < n ? e->nlen - e->npos : n;
		memcpy(out, e->nbuf + e->npos, k * sizeof *out);
		e->npos += k;
		out += k;
		n -= k;
	}
	return OD_OK;
}

int od_encoder_encode(struct od_encoder *e, const float *x, int H, int W, enum od_role role, struct od_frame *f)
{
	const struct od_vae_config *cf = &e->vae->cfg;
	const int ds = cf->downscale, L = cf->latent_channels, h = H / ds, w = W / ds;
	const size_t hw = (size_t)h * w;
	memset(f, 0, sizeof *f);
	if (H <= 0 || W <= 0 || H % ds || W % ds)
		return od_error(OD_EINVAL, "encode: %dx%d is not a multiple of %d", W, H, ds);
	float *mom = malloc(2 * L * hw * sizeof *mom), *eps = NULL;
	if (!mom)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = od_vae_encode(e->vae, x, H, W, mom);
	if (!rc && e->source != OD_NOISE_NONE) {
		if (!(eps = malloc(L * hw * sizeof *eps)))
			rc = od_error(OD_ENOMEM, "out of memory");
	}
	if (!rc && e->source == OD_NOISE_SEED) {
		if (!e->gen) {
			/* the ε start where img2img's posterior draw does (draws.h) */
			uint64_t skip = e->skip == UINT64_MAX ? od_draw_offset(OD_DRAW_POSTERIOR, 0, (size_t)L * hw, 0)
							     : e->skip;
			if (!(e->gen = malloc(sizeof *e->gen))) {
				rc = od_error(OD_ENOMEM, "out of memory");
			} else {
				od_mt_seed(e->gen, e->seed);
				for (uint64_t i = 0; i < skip; i++)
					od_mt_next(e->gen);
			}
		}
		if (!rc)
			od_randn_next(e->gen, (size_t)L * hw, eps);
	} else if (!rc && e->source == OD_NOISE_FRAMES) {
		rc = take_noise(e, eps, (size_t)L * hw);
	}
	int64_t shape[3] = { L, h, w };
	if (!rc)
		rc = od_frame_init(f, OD_KIND_LATENT, role, OD_F32, 3, shape, 1);
	if (!rc) {
		od_vae_posterior(mom, L, (int64_t)hw, eps, cf->scaling_factor, f->data);
		int64_t bad = od_first_nonfinite(f->data, (size_t)L * hw);
		if (bad >= 0) /* README: non-finite values never leave a tool */
			rc = od_error(OD_EMODEL, "the VAE encoder's output is not finite (NaN or infinity at element %lld): "
						 "are the VAE's weights and config intact?", (long long)bad);
		else if ((rc = od_frame_setf(f, "scaling_factor", "%.7g", (double)cf->scaling_factor)) ||
		    (rc = od_frame_setf(f, "height", "%d", H)) || (rc = od_frame_setf(f, "width", "%d", W)) ||
		    (rc = od_frame_set(f, "posterior", e->source == OD_NOISE_NONE ? "mean" : "sample")))
			;
		else if (e->source == OD_NOISE_SEED)
			rc = od_frame_setf(f, "seed", "%llu", (unsigned long long)e->seed);
	}
	if (rc)
		od_frame_free(f);
	else
		e->count++;
	free(mom);
	free(eps);
	return rc;
}
