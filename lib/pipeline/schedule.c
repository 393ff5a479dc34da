/* schedule.c: flow-matching schedule and Euler step (see schedule.h; numerics.md §5.1-§5.2). */
#include "pipeline/schedule.h"
#include "formats/checkpoint.h"
#include "base/error.h"
#include "base/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int od_schedule_config_parse(json_t *cfg, struct od_schedule_config *c, const char *label)
{
	int rc;
	memset(c, 0, sizeof *c);
	/* Every field is bounded (a config is outside input); the schedule made
	 * from them is checked again for each size (od_schedule_make). */
	if ((rc = od_cfg_num_in(cfg, "num_train_timesteps", 1000, 0, 1, 1e9, &c->num_train_timesteps, label)) ||
	    (rc = od_cfg_num_in(cfg, "shift", 1.0, 0, 1e-6, 1e6, &c->shift, label)) ||
	    (rc = od_cfg_bool(cfg, "use_dynamic_shifting", 0, 0, &c->dynamic, label)) ||
	    (rc = od_cfg_num_in(cfg, "base_shift", 0.5, 0, -100, 100, &c->base_shift, label)) ||
	    (rc = od_cfg_num_in(cfg, "max_shift", 1.15, 0, -100, 100, &c->max_shift, label)) ||
	    (rc = od_cfg_num_in(cfg, "base_image_seq_len", 256, 0, 1, 1e9, &c->base_seq, label)) ||
	    (rc = od_cfg_num_in(cfg, "max_image_seq_len", 4096, 0, 1, 1e9, &c->max_seq, label)))
		return rc;
	if (c->dynamic && !(fabs(c->max_seq - c->base_seq) >= 1))
		return od_error(OD_EMODEL, "'%s': dynamic shifting needs max_image_seq_len and base_image_seq_len at "
					   "least 1 apart", label);
	return OD_OK;
}

int od_schedule_config_load(const char *model_dir, struct od_schedule_config *c)
{
	char *path = od_path_join(model_dir, "scheduler/scheduler_config.json");
	if (!path)
		return od_error(OD_ENOMEM, "out of memory");
	json_t *j;
	int rc = od_json_load(path, &j);
	if (!rc) {
		rc = od_schedule_config_parse(j, c, path);
		json_decref(j);
	}
	free(path);
	return rc;
}

double od_schedule_mu(const struct od_schedule_config *c, double seq)
{
	/* calculate_shift (numerics.md §5.1): no clipping */
	double m = (c->max_shift - c->base_shift) / (c->max_seq - c->base_seq);
	double b = c->base_shift - m * c->base_seq;
	return seq * m + b;
}

double od_schedule_mu_f32(const struct od_schedule_config *c, double seq)
{
	double m = (c->max_shift - c->base_shift) / (c->max_seq - c->base_seq);
	double b = c->base_shift - m * c->base_seq;
	float p = (float)seq * (float)m;
	return (double)(p + (float)b);
}

int od_schedule_make(const struct od_schedule_config *c, int N, double mu, struct od_schedule *s)
{
	memset(s, 0, sizeof *s);
	if (N < 1)
		return od_error(OD_EINVAL, "the number of steps must be at least 1");
	s->sigmas = malloc(((size_t)N + 1) * sizeof *s->sigmas);
	s->timesteps = malloc((size_t)N * sizeof *s->timesteps);
	if (!s->sigmas || !s->timesteps) {
		od_schedule_free(s);
		return od_error(OD_ENOMEM, "out of memory");
	}
	s->steps = N;
	s->mu = mu;
	/* numpy.linspace(1.0, 1/N, N): y_i = i·step + start, the last one set to stop */
	const double start = 1.0, stop = 1.0 / N;
	const double step = N > 1 ? (stop - start) / (N - 1) : 0;
	const double emu = exp(mu);
	for (int i = 0; i < N; i++) {
		double sh = N > 1 ? (double)i * step + start : start;
		if (N > 1 && i == N - 1)
			sh = stop;
		double sig;
		if (c->dynamic)
			sig = emu / (emu + (1.0 / sh - 1.0)); /* time_shift(mu, 1.0, σ̂): (·)**1.0 is exact */
		else
			sig = c->shift * sh / (1.0 + (c->shift - 1.0) * sh);
		s->sigmas[i] = (float)sig;
		s->timesteps[i] = s->sigmas[i] * (float)c->num_train_timesteps;
		if (!isfinite(s->sigmas[i]) || !isfinite(s->timesteps[i])) {
			od_schedule_free(s);
			return od_error(OD_EMODEL, "the schedule's sigma at step %d is not finite (mu = %g: the scheduler's "
						   "shift settings do not suit this size)", i, mu);
		}
	}
	s->sigmas[N] = 0.0f;
	return OD_OK;
}

void od_schedule_free(struct od_schedule *s)
{
	free(s->sigmas);
	free(s->timesteps);
	memset(s, 0, sizeof *s);
}

void od_euler_step(float *x, const float *v, size_t n, float sigma, float sigma_next)
{
	const float dt = sigma_next - sigma;
	for (size_t i = 0; i < n; i++) {
		float d = dt * v[i];
		x[i] = x[i] + d;
	}
}
