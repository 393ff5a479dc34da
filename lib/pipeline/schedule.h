/*
 * schedule.h: the flow-matching σ / timestep schedule (numerics.md §5.1) and the
 * Euler step (§5.2), as diffusers 0.30.3's FlowMatchEulerDiscreteScheduler
 * computes them when the pipeline passes sigmas = linspace(1, 1/N, N) and mu.
 *
 *   σ̂_i = linspace(1, 1/N, N)                      numpy float64, i = 0..N-1
 *   mu   = seq·m + (base_shift − m·base_seq),  m = (max_shift − base_shift)/(max_seq − base_seq)
 *   σ_i  = e^mu / (e^mu + (1/σ̂_i − 1))              use_dynamic_shifting
 *        = shift·σ̂_i / (1 + (shift − 1)·σ̂_i)         otherwise
 *   σ_i → float32;  timesteps_i = fl32(σ_i · 1000);  sigmas = [σ_0 .. σ_{N-1}, 0]
 *
 * Everything up to the rounding of σ is float64, so the result equals the golden
 * schedules bit for bit (tests/unit/test_sampler.c). The condition-frame
 * timestep of the pipeline is timesteps[N-1] (§5.4).
 */
#ifndef OD_SCHEDULE_H
#define OD_SCHEDULE_H

#include <jansson.h>

struct od_schedule_config {
	double num_train_timesteps; /* 1000 */
	double shift;               /* static shift (used when dynamic is off) */
	int dynamic;                /* use_dynamic_shifting */
	double base_shift, max_shift;
	double base_seq, max_seq;   /* base_image_seq_len, max_image_seq_len */
};

/* Parse scheduler_config.json (missing keys take diffusers' defaults:
 * 1000, shift 1, dynamic false, 0.5, 1.15, 256, 4096). label names it in errors. */
int od_schedule_config_parse(json_t *cfg, struct od_schedule_config *c, const char *label);
/* Read MODEL/scheduler/scheduler_config.json. */
int od_schedule_config_load(const char *model_dir, struct od_schedule_config *c);

/* The pipeline's calculate_shift(seq) on Python floats (float64), as __call__
 * (text-to-image) computes it. */
double od_schedule_mu(const struct od_schedule_config *c, double seq);
/* The same in float32, as img2img computes it: there seq is a float32 tensor,
 * so mu = fl32(fl32(seq·fl32(m)) + fl32(b)). It differs from the float64 value
 * in the last bits (for 64×64 images it moves σ_{N-1} by one ulp: golden
 * pipeline runs depth2image_mask10 and image2depth_mask01). */
double od_schedule_mu_f32(const struct od_schedule_config *c, double seq);

struct od_schedule {
	int steps;         /* N */
	double mu;
	float *sigmas;     /* N + 1 */
	float *timesteps;  /* N; timesteps[N-1] is the condition frames' t */
};

/* Build the schedule for N >= 1 steps and the given mu (ignored unless dynamic). */
int od_schedule_make(const struct od_schedule_config *c, int steps, double mu, struct od_schedule *s);
void od_schedule_free(struct od_schedule *s);

/* One Euler step in float32 on n values: x = fl32(x + fl32(fl32(σ_next − σ)·v))
 * (diffusers' step, §5.2; two roundings, never fused). */
void od_euler_step(float *x, const float *v, size_t n, float sigma, float sigma_next);

#endif
