/*
 * sampler.h: the multi-frame flow-matching sampler (numerics.md §5.2-§5.4, §5.7).
 *
 * A sequence of F frames (latent or ray frames, each C × h × w) is sampled
 * jointly: frames with denoise[f] = 1 are generated, the others are clean
 * condition frames. The caller puts the initial state in x: N(0,1) noise on
 * every frame, then the clean condition data over the condition frames (the
 * pipeline's prepare_init_latents + overwrite, §5.4). Then, for each of
 * the N steps of the schedule (schedule.h, mu from seq = #generated frames ·
 * h·w / (patch_h·patch_w), od_sampler_mu):
 *
 *   T[f] = timesteps[i]  for generated frames,  timesteps[N-1] for conditions  (§5.4: not 0)
 *   V    = NextDiT([x; x], [T; T], [negative; prompt])       batch 2 when guidance > 1
 *   v    = fl32(V_u + fl32(g · fl32(V_c − V_u)))            classifier-free guidance (§5.3)
 *   x    = fl32(x + fl32(fl32(σ_{i+1} − σ_i) · v))          Euler (§5.2), every frame
 *   x[condition frames] = their clean values                 re-injection (§5.4)
 *
 * Everything outside the transformer is float32 on the host, operation by
 * operation as torch does it, so replaying the golden model outputs through
 * od_sampler_combine + od_euler_step + re-injection reproduces every golden
 * latents_after bit for bit (tests/unit/test_sampler.c).
 */
#ifndef OD_SAMPLER_H
#define OD_SAMPLER_H

#include "model/nextdit.h"
#include "pipeline/schedule.h"

#include <stddef.h>
#include <stdint.h>

/* Upstream __call__'s defaults: num_inference_steps, guidance_scale. */
#define OD_SAMPLER_DEFAULT_STEPS 50
#define OD_SAMPLER_DEFAULT_GUIDANCE 5.0

struct od_sampler_opts {
	int steps;              /* N >= 1 (upstream default 50) */
	int text_to_image;      /* upstream __call__ (mu in float64) rather than img2img (mu in float32) */
	float guidance;         /* g; classifier-free guidance iff g > 1 (upstream default 5.0) */
	/* optional: called after every step with the steps done so far */
	void (*progress)(void *user, int done, int total);
	void *progress_user;
	/* optional: the raw model output of step i, host (B, F, C, h, w), B = 2 with
	 * guidance ([unconditional; conditional]) else 1 */
	int (*trace)(void *user, int step, const float *v, int batch);
	void *trace_user;
};

/* Run the sampler. txt must hold [negative; prompt] (batch 2) when
 * o->guidance > 1, else [prompt] (batch 1). x: host (F, C, h, w), in place. */
int od_sample(struct od_nextdit *m, const struct od_schedule_config *sc, const struct od_nextdit_text *txt, int F,
	      int h, int w, const uint8_t *denoise, float *x, const struct od_sampler_opts *o);

/* v[i] = vu[i] + g·(vc[i] − vu[i]) in float32, as upstream's CFG line (§5.3). */
void od_sampler_combine(float *v, const float *vu, const float *vc, size_t n, float g);

/* The mu the pipeline uses for n_generated frames of h × w latents: seq =
 * n_generated·h·w/patch_area, through calculate_shift in float64 (__call__,
 * text_to_image set) or in float32 (img2img; schedule.h). */
double od_sampler_mu(const struct od_schedule_config *sc, int n_generated, int h, int w, int patch_area,
		     int text_to_image);

#endif
