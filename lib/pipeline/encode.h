/*
 * encode.h: pictures to latent frames, as the pipeline encodes its condition
 * images (numerics.md §4.2, §4.3, §5.5, §6.3).
 *
 *   x (3, H, W) in [-1, 1]  --encoder-->  moments (2L, h, w)
 *   mean = moments[0:L], logvar = clamp(moments[L:2L], -30, 20),
 *   std = exp(0.5·logvar), z = mean + std·ε   (or z = mean with mode set),
 *   z_model = fp32(scaling_factor)·z          (never shift_factor, §4.3)
 *
 * The posterior noise ε comes from a seed's torch.randn stream or from noise
 * frames. The seed mapping reproduces `img2img` (draws.h, numerics.md §5.5):
 * the generator first draws an unused randn(1, L, h, w) in prepare_latents,
 * then the ε of every condition image in order. So with --seed S, picture k of
 * one od-encode run (all of the run's pictures being one upstream call's
 * condition images) takes ε = randn after (1 + k)·L·h·w words of seed S's
 * stream (for equal sizes, L·h·w a multiple of 16, as it is for L = 16).
 * Noise frames are read as one flat sequence of values, L·h·w per picture.
 */
#ifndef OD_ENCODE_H
#define OD_ENCODE_H

#include "formats/frame.h"
#include "base/rng.h"
#include "model/vae.h"

#include <stdint.h>

/* The posterior sample in model space: z_model (L, hw) from moments (2L, hw),
 * with eps (L, hw), or the mean when eps is NULL. */
void od_vae_posterior(const float *moments, int L, int64_t hw, const float *eps, float scaling_factor,
		      float *z_model);

enum od_noise_source { OD_NOISE_NONE = 0, OD_NOISE_SEED = 1, OD_NOISE_FRAMES = 2 };

/* A run of encodes sharing one noise source. */
struct od_encoder {
	struct od_vae *vae;
	enum od_noise_source source; /* NONE: the posterior mean (--mode) */
	uint64_t seed;
	uint64_t skip;               /* words before the first picture's ε; UINT64_MAX: L·h·w of the first picture */
	struct od_mt19937 *gen;      /* the seed's stream, started at the first picture */
	struct od_reader *noise;     /* noise frames (not owned) */
	float *nbuf;                 /* the current noise frame's values */
	size_t nlen, npos;
	long count;                  /* pictures encoded */
};

void od_encoder_init(struct od_encoder *e, struct od_vae *vae);
void od_encoder_free(struct od_encoder *e);

/* Take ε from seed's stream, after skip words (UINT64_MAX: the default
 * img2img offset, L·h·w of the first picture). */
void od_encoder_use_seed(struct od_encoder *e, uint64_t seed, uint64_t skip);
/* Start the seed's stream again, with seed, at the next picture (after the
 * same skip): a picture that is a job of its own is encoded as its own
 * upstream call with that seed would encode it (od-encode: job J, seed S + J). */
void od_encoder_restart(struct od_encoder *e, uint64_t seed);
/* Take ε from a stream of noise frames (kind noise), in order. */
void od_encoder_use_noise(struct od_encoder *e, struct od_reader *r);

/* Encode x host (3, H, W) to f: a latent frame (L, H/ds, W/ds) of model-space
 * values with role, and metadata scaling_factor, height, width, posterior
 * (sample/mean), seed (when seeded). The caller adds source, task, ... */
int od_encoder_encode(struct od_encoder *e, const float *x, int H, int W, enum od_role role, struct od_frame *f);

#endif
