/*
 * test_sampler: the flow-matching schedule, the Euler step and the sampler's
 * per-step arithmetic against the golden data, all bit for bit
 * (tests/golden/README.md §5, §8; tolerances numerics.md §10.1):
 *  - cases/scheduler/schedules_{dynamic,static_shift3}: σ and timesteps for 10 (N, seq) pairs, with
 *    dynamic shifting (the checkpoint's config) and with a static shift of 3;
 *  - cases/scheduler/steps_{...}: N Euler steps;
 *  - cases/pipeline: every step of the 8 pipeline runs replayed from the
 *    stored model outputs (guidance 4, Euler, condition re-injection), the
 *    schedule from the run's mu, and the per-frame timesteps (t_cond =
 *    timesteps[N-1]).
 */
#include "od.h"
#include "pipeline/sampler.h"
#include "pipeline/schedule.h"
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

static int same_bits(const float *a, const float *b, size_t n, size_t *bad_at)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof(float))) {
			*bad_at = i;
			return 0;
		}
	return 1;
}

static double f64(const struct od_safetensors *st, const char *name)
{
	const struct od_tensor *t = od_st_find(st, name);
	double v = 0;
	if (t && t->dtype == OD_F64)
		memcpy(&v, t->data, sizeof v);
	return v;
}

static void schedules(const char *golden, const char *file)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/cases/scheduler/%s.safetensors", golden, file);
	struct od_safetensors st;
	if (od_st_open(&st, path)) {
		ok(0, "open %s: %s", path, od_errmsg());
		return;
	}
	struct od_schedule_config sc;
	json_t *cfg = json_loads(od_st_meta(&st, "scheduler_config"), 0, NULL);
	json_t *pairs = json_loads(od_st_meta(&st, "pairs"), 0, NULL);
	ok(cfg && pairs && !od_schedule_config_parse(cfg, &sc, file), "%s: config and pairs", file);
	size_t i;
	json_t *p;
	json_array_foreach(pairs, i, p) {
		const char *key = json_string_value(json_object_get(p, "key"));
		int N = (int)json_integer_value(json_object_get(p, "N"));
		double seq = json_number_value(json_object_get(p, "seq"));
		char name[128];
		snprintf(name, sizeof name, "%s.mu", key);
		double mu = od_schedule_mu(&sc, seq), gmu = f64(&st, name);
		ok(mu == gmu, "%s %s: mu %.17g (golden %.17g)", file, key, mu, gmu);
		struct od_schedule s;
		if (od_schedule_make(&sc, N, mu, &s)) {
			ok(0, "%s %s: schedule: %s", file, key, od_errmsg());
			continue;
		}
		snprintf(name, sizeof name, "%s.sigmas", key);
		float *gs = tensor(&st, name, NULL);
		snprintf(name, sizeof name, "%s.timesteps", key);
		float *gt = tensor(&st, name, NULL);
		size_t at = 0;
		int oks = gs && same_bits(s.sigmas, gs, (size_t)N + 1, &at);
		ok(oks, "%s %s: %d+1 sigmas bit for bit", file, key, N);
		if (!oks && gs)
			printf("# sigma %zu: %.9g vs %.9g\n", at, s.sigmas[at], gs[at]);
		ok(gt && same_bits(s.timesteps, gt, (size_t)N, &at), "%s %s: %d timesteps bit for bit (t_cond %.9g)", file,
		   key, N, s.timesteps[N - 1]);
		free(gs);
		free(gt);
		od_schedule_free(&s);
	}
	json_decref(cfg);
	json_decref(pairs);
	od_st_close(&st);
}

static void steps(const char *golden, const char *file, const struct od_schedule_config *sc)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/cases/scheduler/%s.safetensors", golden, file);
	struct od_safetensors st;
	if (od_st_open(&st, path)) {
		ok(0, "open %s: %s", path, od_errmsg());
		return;
	}
	int N = atoi(od_st_meta(&st, "N")), seq = atoi(od_st_meta(&st, "seq"));
	struct od_schedule s;
	od_schedule_make(sc, N, od_schedule_mu(sc, seq), &s);
	float *gs = tensor(&st, "sigmas", NULL);
	size_t at;
	ok(gs && same_bits(s.sigmas, gs, (size_t)N + 1, &at), "%s: schedule bit for bit", file);
	int64_t n;
	float *x = tensor(&st, "x0", &n);
	int all = 1;
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof name, "v%d", i);
		float *v = tensor(&st, name, NULL);
		snprintf(name, sizeof name, "x%d", i + 1);
		float *e = tensor(&st, name, NULL);
		od_euler_step(x, v, (size_t)n, gs[i], gs[i + 1]);
		all &= same_bits(x, e, (size_t)n, &at);
		free(v);
		free(e);
	}
	ok(all, "%s: %d Euler steps bit for bit", file, N);
	free(x);
	free(gs);
	od_schedule_free(&s);
	od_st_close(&st);
}

static void pipeline(const char *golden, const char *run, const struct od_schedule_config *sc)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/cases/pipeline/%s.safetensors", golden, run);
	struct od_safetensors st;
	if (od_st_open(&st, path)) {
		ok(0, "open %s: %s", path, od_errmsg());
		return;
	}
	const struct od_tensor *fl = od_st_find(&st, "final_latents");
	const int F = (int)fl->shape[1], C = (int)fl->shape[2], h = (int)fl->shape[3], w = (int)fl->shape[4];
	const int N = atoi(od_st_meta(&st, "num_inference_steps"));
	const float g = (float)atof(od_st_meta(&st, "guidance_scale"));
	uint8_t den[64];
	json_t *mask = json_loads(od_st_meta(&st, "denoise_mask"), JSON_DECODE_ANY, NULL);
	int n_gen = 0;
	for (int f = 0; f < F; f++) {
		den[f] = json_is_array(mask) ? (uint8_t)json_integer_value(json_array_get(mask, (size_t)f)) : 1;
		n_gen += den[f];
	}
	json_decref(mask);
	struct od_schedule s;
	const int call = !strcmp(od_st_meta(&st, "method"), "__call__");
	od_schedule_make(sc, N, od_sampler_mu(sc, n_gen, h, w, 4, call), &s);
	float *gs = tensor(&st, "sigmas", NULL), *gt = tensor(&st, "timesteps", NULL);
	size_t at, fsz = (size_t)C * h * w, n = (size_t)F * fsz;
	ok(same_bits(s.sigmas, gs, (size_t)N + 1, &at) && same_bits(s.timesteps, gt, (size_t)N, &at),
	   "%s: schedule for %d generated frames bit for bit (mu in float%d, as %s)", run, n_gen, call ? 64 : 32,
	   call ? "__call__" : "img2img");
	float *x = tensor(&st, "step0.model_in", NULL), *clean = malloc(n * sizeof *clean), *v = malloc(n * sizeof *v);
	memcpy(clean, x, n * sizeof *x);
	int all = 1, tok = 1;
	for (int i = 0; i < N; i++) {
		char name[64];
		snprintf(name, sizeof name, "step%d.model_out", i);
		float *mo = tensor(&st, name, NULL);
		snprintf(name, sizeof name, "step%d.latents_after", i);
		float *e = tensor(&st, name, NULL);
		snprintf(name, sizeof name, "step%d.t_in_per_frame", i);
		float *tin = tensor(&st, name, NULL);
		if (tin) /* img2img: targets at timesteps[i], conditions at timesteps[N-1] */
			for (int b = 0; b < 2; b++)
				for (int f = 0; f < F; f++)
					tok &= tin[b * F + f] == (den[f] ? s.timesteps[i] : s.timesteps[N - 1]);
		od_sampler_combine(v, mo, mo + n, n, g);
		od_euler_step(x, v, n, s.sigmas[i], s.sigmas[i + 1]);
		for (int f = 0; f < F; f++)
			if (!den[f])
				memcpy(x + f * fsz, clean + f * fsz, fsz * sizeof *x);
		all &= same_bits(x, e, n, &at);
		free(mo);
		free(e);
		free(tin);
	}
	ok(all, "%s: %d steps of guidance %g + Euler + re-injection bit for bit", run, N, g);
	ok(tok, "%s: per-frame timesteps (conditions at timesteps[N-1] = %.6g)", run, s.timesteps[N - 1]);
	free(x), free(clean), free(v), free(gs), free(gt);
	od_schedule_free(&s);
	od_st_close(&st);
}

int main(void)
{
	const char *model = getenv("OD_MODEL"), *golden = getenv("OD_GOLDEN");
	if (!model || !golden) {
		printf("1..0 # SKIP OD_MODEL/OD_GOLDEN not set (run through make check)\n");
		return 0;
	}
	struct od_schedule_config sc;
	int rc = od_schedule_config_load(model, &sc);
	ok(!rc && sc.dynamic && sc.base_shift == 0.5 && sc.max_shift == 1.15 && sc.base_seq == 256 && sc.max_seq == 4096,
	   "the tiny checkpoint's scheduler_config.json: dynamic shifting, FLUX constants");
	schedules(golden, "schedules_dynamic");
	schedules(golden, "schedules_static_shift3");
	steps(golden, "steps_dynamic_N4_seq16", &sc);
	steps(golden, "steps_dynamic_N3_seq32", &sc);
	struct od_schedule_config st3 = sc;
	st3.dynamic = 0, st3.shift = 3.0;
	steps(golden, "steps_static_shift3_N4_seq16", &st3);
	static const char *runs[] = { "t2i", "depth2image_mask10", "image2depth_mask01", "multiview_mask001010" };
	for (int i = 0; i < 4; i++)
		for (int cap = 0; cap < 2; cap++) {
			char name[128];
			snprintf(name, sizeof name, "%s_%s", runs[i], cap ? "softcap" : "nocap");
			pipeline(golden, name, &sc);
		}
	/* the worked values of numerics.md §5.1 */
	struct od_schedule s;
	od_schedule_make(&sc, 50, od_sampler_mu(&sc, 1, 64, 64, 4, 0), &s);
	ok(s.sigmas[0] == 1.0f && fabsf(s.sigmas[1] - 0.98925f) < 1e-5f && fabsf(s.timesteps[49] - 36.90f) < 0.01f,
	   "512², one target, N=50: σ_1 %.5f, t_cond %.2f (numerics.md §5.1: 0.98925, 36.90)", s.sigmas[1],
	   s.timesteps[49]);
	od_schedule_free(&s);
	json_t *bad = json_loads("{\"use_dynamic_shifting\": \"yes\"}", 0, NULL);
	ok(od_schedule_config_parse(bad, &sc, "bad.json") == OD_EMODEL, "a mistyped scheduler config is a model error");
	json_decref(bad);
	return tap_done();
}
