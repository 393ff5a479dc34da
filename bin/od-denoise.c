/* od-denoise: condition + target frames -> generated frames, with the NextDiT
 * flow-matching sampler (od-denoise(1)). Jobs come from a frame stream
 * (lib/pipeline/job.h); the weights are loaded once for all of them. */
#include "od.h"
#include "pipeline/job.h"
#include "model/nextdit.h"
#include "model/vae_config.h"
#include "pipeline/sampler.h"
#include "pipeline/schedule.h"
#include "tool.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static const struct od_usage usage = {
	.synopsis = "od-denoise [OPTIONS] [FILE...]",
	.description =
		"Generate frames with OneDiffusion's NextDiT and its flow-matching sampler.\n"
		"FILE... (default '-', stdin) is a frame stream of jobs: a prompt text frame\n"
		"(role condition), optionally a negative text frame, then the job's latent/rays\n"
		"frames (role condition: given; role target: to generate) and optional noise\n"
		"frames, up to the next prompt. A job with only text frames is text-to-image.\n",
	.footer = "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 4 model, 5 I/O, 6 no device.\n"
		  "See od-denoise(1).\n",
};

struct run {
	struct od_progress prog;
	long job;
	struct od_out *trace;
	const struct od_job *j;
};

static void on_progress(void *user, int done, int total)
{
	struct run *r = user;
	od_progress_step(&r->prog, r->job, done, total);
}

static int on_trace(void *user, int step, const float *v, int batch)
{
	struct run *r = user;
	const struct od_job *j = r->j;
	const size_t fsz = (size_t)j->C * j->h * j->w;
	const int64_t shape[3] = { j->C, j->h, j->w };
	int rc = OD_OK;
	for (int b = 0; b < batch && !rc; b++)
		for (int f = 0; f < j->F && !rc; f++) {
			struct od_frame fr;
			if ((rc = od_frame_init(&fr, j->kind[f], OD_ROLE_NONE, OD_F32, 3, shape, 0)))
				break;
			if (!(rc = od_frame_from_f32(&fr, v + ((size_t)b * j->F + f) * fsz)) &&
			    !(rc = od_frame_setf(&fr, "job", "%ld", j->index)) && !(rc = od_frame_setf(&fr, "step", "%d", step)) &&
			    !(rc = od_frame_set(&fr, "half", batch == 2 && b == 0 ? "uncond" : "cond")) &&
			    !(rc = od_frame_setf(&fr, "index", "%d", f)))
				rc = od_frame_write(r->trace, &fr);
			od_frame_free(&fr);
		}
	return rc;
}

/* --seed: a number, or -1 / random: draw one. */
struct seed_opt {
	int64_t value;
	int random;
};

static int seed_cb(const struct od_option *opt, const char *arg)
{
	struct seed_opt *s = opt->value;
	long long v;
	s->random = !strcmp(arg, "random") || !strcmp(arg, "-1");
	if (s->random)
		return OD_OK;
	if (od_parse_int("--seed", arg, 0, INT64_MAX, &v))
		return od_error(OD_EINVAL, "--seed: '%s' is not a seed (0 to %lld, or -1 or random)", arg,
				(long long)INT64_MAX);
	s->value = v;
	return OD_OK;
}

/* A seed drawn from the system's entropy, below 2^32 so that it is easy to
 * read and type back. */
static int64_t random_seed(void)
{
	uint32_t v;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint32_t)(od_now() * 1e9) ^ (uint32_t)getpid() << 16;
	return v;
}

/* The model's name for the frames' metadata: its folder's last component. */
static const char *model_name(const char *path, char *buf, size_t size)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && path[b - 1] != '/')
		b--;
	snprintf(buf, size, "%.*s", (int)(n - b), path + b);
	return buf;
}

/* What one run of a job needs besides the job. */
struct params {
	int steps, all, count;
	float guidance;
	uint64_t seed;
	const char *model_name;
	struct od_out *out;
};

/* Variation v of job: sample it and write its frames. */
static int run_job(struct od_nextdit *m, const struct od_schedule_config *sc, const struct params *p,
		   const struct od_job *job, int v, struct run *run)
{
	float *x = NULL, *emb = NULL;
	uint8_t *tmask = NULL;
	int S = 0, rc;
	struct od_nextdit_text txt = { 0 };
	struct od_frame *fr = NULL;
	int n_fr = 0;
	const int cfg = p->guidance > 1.0f;
	const uint64_t seed = od_job_seed(p->seed, job->batch_index, p->count, v);
	char seed_str[32];
	snprintf(seed_str, sizeof seed_str, "%" PRIu64, seed);
	run->job = job->batch_index;
	run->j = job;
	if (!job->noise)
		od_info("job %ld%s%.0d: seed %s", job->batch_index + 1, p->count > 1 ? ", variation " : "",
			p->count > 1 ? v + 1 : 0, seed_str);
	if ((rc = od_nextdit_check_size(&m->cfg, job->F, job->h, job->w))) {
		od_error_prefix(rc, "%s: job %ld", job->where, job->index);
	} else if (!(x = malloc((size_t)job->F * job->C * job->h * job->w * sizeof *x))) {
		rc = od_error(OD_ENOMEM, "out of memory");
	} else if (!(rc = od_job_init_latents(job, 1, seed, x)) && !(rc = od_job_text(job, cfg, &emb, &tmask, &S)) &&
		   !(rc = od_nextdit_text_prepare(m, &txt, cfg ? 2 : 1, S, emb, tmask))) {
		struct od_sampler_opts so = {
			.steps = p->steps, .text_to_image = job->text_to_image, .guidance = p->guidance,
			.progress = on_progress, .progress_user = run,
			.trace = run->trace ? on_trace : NULL, .trace_user = run,
		};
		if ((rc = od_sample(m, sc, &txt, job->F, job->h, job->w, job->denoise, x, &so)))
			od_error_prefix(rc, "%s: job %ld", job->where, job->index);
		od_progress_end(&run->prog);
		const struct od_job_record rec = {
			.seed = job->noise ? NULL : seed_str, .steps = p->steps, .guidance = p->guidance,
			.model = p->model_name, .count = p->count, .variation = v,
		};
		if (!rc)
			rc = od_job_outputs(job, x, p->all, &rec, &fr, &n_fr);
		for (int i = 0; !rc && i < n_fr; i++)
			rc = od_frame_write(p->out, &fr[i]);
	}
	for (int i = 0; i < n_fr; i++)
		od_frame_free(&fr[i]);
	free(fr);
	od_nextdit_text_free(m, &txt);
	free(x);
	free(emb);
	free(tmask);
	return rc;
}

static int size_cb(const struct od_option *opt, const char *arg)
{
	int *wh = opt->value;
	od_opt_size("--size", arg, &wh[0], &wh[1]);
	return OD_OK;
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-denoise");
	struct od_common_opts common;
	const char *out_path = "-", *mask = NULL, *trace_path = NULL;
	int steps = OD_SAMPLER_DEFAULT_STEPS, all = 0, nocap = 0, size[2] = { 0, 0 }, count = 1;
	double guidance = OD_SAMPLER_DEFAULT_GUIDANCE;
	struct seed_opt seed = { 0, 0 };
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "OUT", "write the frames to OUT (default '-', stdout)"),
		OD_OPT_INT('n', "steps", &steps, "N", "sampling steps (default " OD_STR(OD_SAMPLER_DEFAULT_STEPS) ")", 1,
			   100000),
		OD_OPT_NUM('g', "guidance", &guidance, "G",
			   "classifier-free guidance scale, off when <= 1 (default " OD_STR(OD_SAMPLER_DEFAULT_GUIDANCE) ")",
			   0, 1e6),
		OD_OPT_CALLBACK('s', "seed", &seed, "S",
				"the base seed (default 0): job J of the batch uses S+J, drawn as upstream draws it; -1 "
				"or 'random': draw one (recorded in the frames)", seed_cb),
		OD_OPT_INT(0, "count", &count, "N",
			   "make N variations of every job, each with its own seed (default 1)", 1, 100000),
		OD_OPT_STRING(0, "mask", &mask, "M",
			      "frames to generate (1) and condition slots (0), e.g. 10, 001010; the stream then holds "
			      "only condition frames, placed in order"),
		OD_OPT_CALLBACK('S', "size", size, "WxH",
				"text-to-image size in pixels, multiples of 16 (default: the model's input_size times "
				"the VAE's scale factor; 768x768 for OneDiffusion)", size_cb),
		OD_OPT_BOOL(0, "all", &all, "write every frame of the sequence, conditions too"),
		OD_OPT_BOOL(0, "no-softcap", &nocap, "self-attention without the soft-cap (upstream's fp32 path)"),
		OD_OPT_STRING(0, "trace", &trace_path, "FILE", "write every step's raw model outputs to FILE (frames)"),
		OD_OPT_COMMON(&common),
		OD_OPT_END(),
	};
	int first = od_parse_options(argc, argv, opts, &usage);
	int rc;
	od_refuse_terminal_output(out_path, "frames");
	if (trace_path)
		od_refuse_terminal_output(trace_path, "frames");
	od_refuse_terminal_input(argv + first, argc - first, "frames");
	if (mask && (rc = od_job_mask_check(mask)))
		od_usage_error("--mask: %s", od_errmsg());
	const char *model = od_common_model(&common);
	if (seed.random) {
		seed.value = random_seed();
		od_info("seed %" PRId64, seed.value);
	}
	char name[256];
	model_name(model, name, sizeof name);

	struct od_ctx *ctx;
	if ((rc = od_common_ctx_create(&common, &ctx)))
		od_fail(rc);
	struct od_nextdit m;
	struct od_schedule_config sc;
	struct od_job_opts jo = { .mask = mask };
	if ((rc = od_nextdit_open(&m, ctx, model)) || (rc = od_schedule_config_load(model, &sc)) ||
	    (rc = od_job_opts_for_model(&jo, &m.cfg, model)))
		od_fail(rc);
	if (nocap)
		m.softcap = 0;
	if (size[0]) {
		jo.width = size[0];
		jo.height = size[1];
		if ((rc = od_job_size_check(&jo)))
			od_usage_error("--size: %s", od_errmsg());
	}
	char *dash[] = { "-" };
	struct od_job_reader jr;
	od_job_reader_init(&jr, first < argc ? argv + first : dash, first < argc ? argc - first : 1, &jo);
	/* the frames and the trace: both or neither */
	struct od_out_group outs;
	struct od_out *out, *trace = NULL;
	od_group_init(&outs);
	if ((rc = od_group_open(&outs, out_path, &out)) || (trace_path && (rc = od_group_open(&outs, trace_path, &trace)))) {
		od_group_abort(&outs);
		od_fail(rc);
	}
	struct run run = { .trace = trace };
	od_progress_begin(&run.prog, common.progress, "denoise");
	const struct params p = { .steps = steps, .all = all, .count = count, .guidance = (float)guidance,
				  .seed = (uint64_t)seed.value, .model_name = name, .out = out };
	struct od_job job;
	long n_jobs = 0;
	while ((rc = od_job_next(&jr, &job)) > 0) {
		n_jobs++;
		rc = OD_OK;
		for (int v = 0; !rc && v < count; v++)
			rc = run_job(&m, &sc, &p, &job, v, &run);
		od_job_free(&job);
		if (rc)
			break;
	}
	if (!rc && !n_jobs)
		rc = od_empty_input("frames");
	if (!rc)
		rc = od_group_commit(&outs);
	od_job_reader_close(&jr);
	if (rc) {
		od_group_abort(&outs);
		od_fail(rc);
	}
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	return 0;
}
