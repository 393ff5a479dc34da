/* od-denoise: condition + target frames -> generated frames, with the NextDiT
 * flow-matching sampler (od-denoise(1)). Jobs come from a frame stream
 * (lib/job.h); the weights are loaded once for all of them. */
#include "od.h"
#include "pipeline/job.h"
#include "model/nextdit.h"
#include "pipeline/sampler.h"
#include "pipeline/schedule.h"
#include "tool.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: od-denoise [OPTIONS] [FILE...]\n"
	       "Generate frames with OneDiffusion's NextDiT and its flow-matching sampler.\n"
	       "FILE... (default '-', stdin) is a frame stream of jobs: a prompt text frame (role\n"
	       "condition), optionally a negative text frame, then the job's latent/rays frames\n"
	       "(role condition: given; role target: to generate) and optional noise frames, up to\n"
	       "the next prompt. A job with only text frames is text-to-image. See od-denoise(1).\n"
	       "  -m, --model DIR       checkpoint folder (default $OD_MODEL)\n"
	       "  -o, --output OUT      write the frames to OUT (default '-', stdout)\n"
	       "  -n, --steps N         sampling steps (default 50)\n"
	       "  -g, --guidance G      classifier-free guidance scale, off when <= 1 (default 5.0)\n"
	       "  -s, --seed S          seed of the initial noise, drawn as upstream draws it (default 0)\n"
	       "      --mask M          frames to generate (1) and condition slots (0), e.g. 10, 001010;\n"
	       "                        the stream then holds only condition frames, placed in order\n"
	       "      --size WxH        text-to-image size in pixels, multiples of 16\n"
	       "                        (default: the model's input_size x 8; 768x768 for OneDiffusion)\n"
	       "  -a, --all             write every frame of the sequence, conditions too\n"
	       "      --no-softcap      self-attention without the soft-cap (upstream's fp32 path)\n"
	       "      --trace FILE      write every step's raw model outputs to FILE (frames)\n"
	       "      --device D        cpu or cuda (default $OD_DEVICE, else cpu)\n"
	       "  -j, --threads N       CPU threads (default: all)\n"
	       OD_PRECISION_HELP
	       "      --progress=MODE   auto (terminal only), none or machine (key=value lines)\n"
	       "  -h, --help            this help;  -V, --version  the version\n");
}

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

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-denoise");
	enum { O_MASK = 256, O_SIZE, O_NOCAP, O_TRACE, O_DEVICE, O_PROGRESS, O_PRECISION };
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' }, { "output", required_argument, 0, 'o' },
		{ "steps", required_argument, 0, 'n' }, { "guidance", required_argument, 0, 'g' },
		{ "seed", required_argument, 0, 's' }, { "mask", required_argument, 0, O_MASK },
		{ "size", required_argument, 0, O_SIZE }, { "all", no_argument, 0, 'a' },
		{ "no-softcap", no_argument, 0, O_NOCAP }, { "trace", required_argument, 0, O_TRACE },
		{ "device", required_argument, 0, O_DEVICE }, { "threads", required_argument, 0, 'j' },
		{ "progress", required_argument, 0, O_PROGRESS }, { "help", no_argument, 0, 'h' },
		{ "precision", required_argument, 0, O_PRECISION },
		{ "version", no_argument, 0, 'V' }, { 0 }
	};
	const char *model = getenv("OD_MODEL"), *out_path = "-", *mask = NULL, *trace_path = NULL;
	const char *device = getenv("OD_DEVICE");
	int precision = -1;
	int steps = 50, all = 0, nocap = 0, threads = 0, width = 0, height = 0, c;
	double guidance = 5.0;
	uint64_t seed = 0;
	enum od_progress_mode pmode = OD_PROGRESS_AUTO;
	while ((c = getopt_long(argc, argv, "m:o:n:g:s:aj:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'o': out_path = optarg; break;
		case 'n': steps = (int)od_opt_int("--steps", optarg, 1, 100000); break;
		case 'g': guidance = od_opt_num("--guidance", optarg, 0, 1e6); break;
		case 's': seed = (uint64_t)od_opt_int("--seed", optarg, 0, INT64_MAX); break;
		case O_MASK:
			for (const char *p = optarg; *p; p++)
				if (*p != '0' && *p != '1' && *p != ',')
					od_usage_error("--mask: '%s' is not a list of 0 and 1 like 10 or 001010", optarg);
			if (!strpbrk(optarg, "01"))
				od_usage_error("--mask: '%s' is empty", optarg);
			mask = optarg;
			break;
		case O_SIZE:
			od_opt_size("--size", optarg, &width, &height);
			if (width % 16 || height % 16)
				od_usage_error("--size: %dx%d is not a multiple of 16 on both sides", width, height);
			break;
		case 'a': all = 1; break;
		case O_NOCAP: nocap = 1; break;
		case O_TRACE: trace_path = optarg; break;
		case O_DEVICE: device = optarg; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case O_PRECISION: precision = (int)od_opt_precision(optarg); break;
		case O_PROGRESS: pmode = od_opt_progress(optarg); break;
		case 'h': usage(); return 0;
		case 'V': od_version();
		default: od_usage_error("unknown option");
		}
	}
	if (!model || !*model)
		od_usage_error("no model: give --model DIR or set OD_MODEL");
	enum od_device dev = od_opt_device(device);

	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, dev, threads);
	if (!rc && precision >= 0)
		ctx->precision = (enum od_precision)precision;
	if (rc)
		od_fail(rc);
	struct od_nextdit m;
	struct od_schedule_config sc;
	if ((rc = od_nextdit_open(&m, ctx, model)) || (rc = od_schedule_config_load(model, &sc)))
		od_fail(rc);
	m.softcap = nocap ? 0.0f : 30.0f;
	if (!width) { /* __call__: height = width = input_size·vae_scale_factor (pipe:471-472) */
		width = m.cfg.input_size[2] * 8;
		height = m.cfg.input_size[1] * 8;
	}
	struct od_job_opts jo = { .mask = mask, .width = width, .height = height, .channels = m.cfg.in_channels,
				  .text_dim = m.cfg.caption_channels, .vae_scale = 8 };
	char *dash[] = { "-" };
	struct od_job_reader jr;
	od_job_reader_init(&jr, optind < argc ? argv + optind : dash, optind < argc ? argc - optind : 1, &jo);
	struct od_out out, trace;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	if (trace_path && (rc = od_out_open(&trace, trace_path))) {
		od_out_abort(&out);
		od_fail(rc);
	}
	struct run run = { .trace = trace_path ? &trace : NULL };
	od_progress_begin(&run.prog, pmode, "denoise");
	const int cfg = guidance > 1.0;
	struct od_job job;
	while ((rc = od_job_next(&jr, &job)) > 0) {
		float *x = NULL, *emb = NULL;
		uint8_t *tmask = NULL;
		int S = 0;
		struct od_nextdit_text txt = { 0 };
		struct od_frame *fr = NULL;
		int n_fr = 0;
		char seed_str[32];
		snprintf(seed_str, sizeof seed_str, "%" PRIu64, seed);
		run.job = job.index;
		run.j = &job;
		if ((rc = od_nextdit_check_size(&m.cfg, job.F, job.h, job.w))) {
			od_error_prefix(rc, "%s: job %ld", job.where, job.index);
		} else if (!(x = malloc((size_t)job.F * job.C * job.h * job.w * sizeof *x))) {
			rc = od_error(OD_ENOMEM, "out of memory");
		} else if (!(rc = od_job_init_latents(&job, 1, seed, x)) && !(rc = od_job_text(&job, cfg, &emb, &tmask, &S)) &&
			   !(rc = od_nextdit_text_prepare(&m, &txt, cfg ? 2 : 1, S, emb, tmask))) {
			struct od_sampler_opts so = {
				.steps = steps, .text_to_image = job.text_to_image, .guidance = (float)guidance,
				.progress = on_progress, .progress_user = &run,
				.trace = trace_path ? on_trace : NULL, .trace_user = &run,
			};
			rc = od_sample(&m, &sc, &txt, job.F, job.h, job.w, job.denoise, x, &so);
			od_progress_end(&run.prog);
			if (!rc)
				rc = od_job_outputs(&job, x, all, job.noise ? NULL : seed_str, steps, (float)guidance, &fr, &n_fr);
			for (int i = 0; !rc && i < n_fr; i++)
				rc = od_frame_write(&out, &fr[i]);
		}
		for (int i = 0; i < n_fr; i++)
			od_frame_free(&fr[i]);
		free(fr);
		od_nextdit_text_free(&m, &txt);
		free(x);
		free(emb);
		free(tmask);
		od_job_free(&job);
		if (rc)
			break;
	}
	if (!rc)
		rc = od_out_commit(&out);
	if (!rc && trace_path)
		rc = od_out_commit(&trace);
	od_job_reader_close(&jr);
	if (rc) {
		od_out_abort(&out);
		if (trace_path)
			od_out_abort(&trace);
		od_fail(rc);
	}
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	return 0;
}
