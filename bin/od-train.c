/* od-train: training the NextDiT and the VAE (od-train(1)). Each sub-command is a function
 * of its own; main() only dispatches. */
#include "od.h"
#include "model/nextdit_case.h"
#include "model/nextdit_grad.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/log.h"
#include "train/preview.h"
#include "train/trainer.h"
#include "train/vae_train.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
	printf("Usage: od-train COMMAND [OPTIONS]\n"
	       "Train OneDiffusion's NextDiT and its VAE. Commands:\n"
	       "  train    train or fine-tune on frame streams of jobs; checkpoints, log, samples\n"
	       "  init     write a new model with random weights from a transformer config\n"
	       "  ema      write a checkpoint's EMA weights as a model\n"
	       "  step     AdamW steps on stored batches (checking the optimiser)\n"
	       "  grad     the loss and its gradient with respect to every weight, for one batch\n"
	       "  vae      train a VAE (AutoencoderKL) on pictures\n"
	       "  vae-scale  set a VAE's scaling_factor and shift_factor from its latents\n"
	       "'od-train COMMAND --help' describes a command. See od-train(1).\n");
}

/* --progress MODE and --device DEV, until the commands take the shared option table */
static enum od_progress_mode progress_mode(const char *s)
{
	if (!strcmp(s, "auto") || !strcmp(s, "none") || !strcmp(s, "machine"))
		return s[0] == 'a' ? OD_PROGRESS_AUTO : s[0] == 'n' ? OD_PROGRESS_NONE : OD_PROGRESS_MACHINE;
	od_usage_error("--progress: '%s' is not auto, none or machine", s);
}

static enum od_device device_of(const char *s)
{
	enum od_device d = OD_DEVICE_CPU;
	if (s && *s && od_device_parse(s, &d))
		od_usage_error("--device: '%s' is not cpu or cuda", s);
	return d;
}

/* ------------------------------------------------------------------ grad */

static void grad_usage(void)
{
	printf("Usage: od-train grad [OPTIONS] --case IN.safetensors -o GRADS.safetensors\n"
	       "The flow-matching loss of one batch (x_sigma, t, target, encoder_hidden_states,\n"
	       "encoder_attention_mask in IN) and its gradient with respect to every weight of the\n"
	       "NextDiT, written to GRADS as grad.<weight name>, with loss and model_output.\n"
	       "  -m, --model DIR       checkpoint folder (default $OD_MODEL)\n"
	       "  -c, --case IN         the batch (.safetensors)\n"
	       "  -o, --output OUT      the gradients (.safetensors; '-' for stdout)\n"
	       "      --no-softcap      self-attention without the soft-cap (upstream's fp32 path)\n"
	       "      --intermediates   also write dL.model_output, dL.block<i>_out, dL.x_embed and\n"
	       "                        dL.c per token (the adaLN runs per token then: slower)\n"
	       "      --recompute       keep only each block's input; recompute its internals in the\n"
	       "                        backward pass (less memory, one more forward)\n"
	       "      --device D        cpu or cuda (default $OD_DEVICE, else cpu)\n"
	       "  -j, --threads N       CPU threads (default: all)\n"
	       "  -h, --help            this help\n");
}

/* Copies of the traced intermediates, written after the gradients. */
struct kept {
	char name[48];
	int ndim;
	int64_t shape[5];
	float *data;
};
struct keep_list {
	struct kept *e;
	int n, cap, failed;
};

static void keep(void *user, const char *name, const float *data, int ndim, const int64_t *shape)
{
	struct keep_list *l = user;
	if (l->failed)
		return;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		struct kept *e = realloc(l->e, (size_t)cap * sizeof *e);
		if (!e) {
			l->failed = 1;
			return;
		}
		l->e = e, l->cap = cap;
	}
	struct kept *k = &l->e[l->n];
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= (k->shape[i] = shape[i]);
	snprintf(k->name, sizeof k->name, "%s", name);
	k->ndim = ndim;
	if (!(k->data = malloc((size_t)n * sizeof *k->data))) {
		l->failed = 1;
		return;
	}
	memcpy(k->data, data, (size_t)n * sizeof *k->data);
	l->n++;
}

static int cmd_grad(int argc, char **argv)
{
	enum { O_NOCAP = 256, O_INTER, O_RECOMP, O_DEVICE };
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' }, { "case", required_argument, 0, 'c' },
		{ "output", required_argument, 0, 'o' }, { "no-softcap", no_argument, 0, O_NOCAP },
		{ "intermediates", no_argument, 0, O_INTER }, { "recompute", no_argument, 0, O_RECOMP },
		{ "device", required_argument, 0, O_DEVICE }, { "threads", required_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' }, { 0 }
	};
	const char *model = getenv("OD_MODEL"), *case_path = NULL, *out_path = NULL, *device = getenv("OD_DEVICE");
	int nocap = 0, inter = 0, recompute = 0, threads = 0, c;
	while ((c = getopt_long(argc, argv, "m:c:o:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'c': case_path = optarg; break;
		case 'o': out_path = optarg; break;
		case O_NOCAP: nocap = 1; break;
		case O_INTER: inter = 1; break;
		case O_RECOMP: recompute = 1; break;
		case O_DEVICE: device = optarg; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case 'h': grad_usage(); return 0;
		default: od_usage_error("grad: unknown option");
		}
	}
	if (optind != argc)
		od_usage_error("grad: unexpected argument '%s'", argv[optind]);
	if (!model || !*model)
		od_usage_error("grad: no model: give --model DIR or set OD_MODEL");
	if (!case_path)
		od_usage_error("grad: give the batch with --case IN.safetensors");
	if (!out_path)
		od_usage_error("grad: give the output with -o GRADS.safetensors");
	enum od_device dev = device_of(device);

	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, dev, threads);
	if (rc)
		od_fail(rc);
	struct od_nextdit m;
	if ((rc = od_nextdit_open(&m, ctx, model)))
		od_fail(rc);
	m.softcap = nocap ? 0.0f : 30.0f;
	struct od_nextdit_case cs;
	if ((rc = od_nextdit_case_read(&cs, case_path, &m.cfg)))
		od_fail(rc);
	struct od_nextdit_params p;
	if ((rc = od_nextdit_params_init(&p, &m)))
		od_fail(rc);
	float **grads = calloc((size_t)p.n, sizeof *grads);
	const struct od_nextdit_batch *b = &cs.b;
	const size_t nout = (size_t)b->B * b->F * m.cfg.out_channels * b->h * b->w;
	float *out = malloc(nout * sizeof *out);
	if (!grads || !out)
		od_die(OD_ENOMEM, "out of memory");
	for (int i = 0; i < p.n; i++)
		if (!(grads[i] = calloc((size_t)p.numel[i], sizeof **grads)))
			od_die(OD_ENOMEM, "out of memory for the gradients");
	struct keep_list kl = { 0 };
	struct od_nextdit_trace tr = { keep, &kl };
	struct od_nextdit_grad_opts go = { .recompute = recompute, .per_token = inter, .trace = inter ? &tr : NULL };
	float loss;
	if ((rc = od_nextdit_loss_grad_ex(&m, b, &go, &loss, grads, out)))
		od_fail(rc);
	if (kl.failed)
		od_die(OD_ENOMEM, "out of memory for the intermediates");

	struct od_st_writer *w = od_st_writer_new();
	char **names = calloc((size_t)p.n, sizeof *names);
	if (!w || !names)
		od_die(OD_ENOMEM, "out of memory");
	int64_t one = 1, so[5] = { b->B, b->F, m.cfg.out_channels, b->h, b->w };
	for (int i = 0; !rc && i < p.n; i++) {
		size_t len = strlen(p.names[i]) + 6;
		if (!(names[i] = malloc(len)))
			od_die(OD_ENOMEM, "out of memory");
		snprintf(names[i], len, "grad.%s", p.names[i]);
		rc = od_st_writer_add(w, names[i], OD_F32, p.views[i].ndim, p.views[i].shape, grads[i]);
	}
	if (!rc)
		rc = od_st_writer_add(w, "loss", OD_F32, 1, &one, &loss);
	if (!rc)
		rc = od_st_writer_add(w, "model_output", OD_F32, 5, so, out);
	for (int i = 0; !rc && i < kl.n; i++)
		rc = od_st_writer_add(w, kl.e[i].name, OD_F32, kl.e[i].ndim, kl.e[i].shape, kl.e[i].data);
	if (!rc)
		rc = od_st_writer_meta(w, "softcap", nocap ? "0" : "30");
	struct od_out o;
	if (!rc && !(rc = od_out_open(&o, out_path))) {
		if ((rc = od_st_writer_write(w, &o, NULL, NULL)) || (rc = od_out_commit(&o)))
			od_out_abort(&o);
	}
	if (rc)
		od_fail(rc);
	od_st_writer_free(w);
	for (int i = 0; i < p.n; i++)
		free(names[i]), free(grads[i]);
	for (int i = 0; i < kl.n; i++)
		free(kl.e[i].data);
	free(kl.e);
	free(names);
	free(grads);
	free(out);
	od_nextdit_params_free(&p, &m);
	od_nextdit_case_free(&cs);
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------------ train */

static void train_usage(void)
{
	printf("Usage: od-train train [OPTIONS] -o OUTDIR --steps N DATA.odf[:WEIGHT]...\n"
	       "       od-train train --resume OUTDIR [--steps N] [OPTIONS]\n"
	       "Train (or fine-tune) the NextDiT with the flow-matching objective on frame streams of\n"
	       "jobs (od-tag | od-encode output: a prompt text frame, then latent/rays frames, at least\n"
	       "one of role target). Every frame of a job is noised, conditions included. Files are\n"
	       "sampled by WEIGHT (default 1 each); a batch holds jobs of one shape.\n"
	       "  -m, --model BASE        the model to start from; its VAE, text encoder, tokenizer and\n"
	       "                          scheduler go with every checkpoint (default $OD_MODEL)\n"
	       "      --config CONFIG     start from random weights of this transformer config.json\n"
	       "                          (upstream's initialisation, from --seed) instead of BASE's\n"
	       "  -o, --output OUTDIR     checkpoints OUTDIR/step-NNNNNNN, OUTDIR/latest, log.csv, samples/\n"
	       "  -n, --steps N           steps of the run (the schedule ends there)\n"
	       "  -b, --batch B           jobs per step (default 1)\n"
	       "      --lr LR             peak learning rate (default 1e-4)\n"
	       "      --warmup W          linear warm-up over the first W steps (default 0)\n"
	       "      --schedule S        constant (default) or cosine (down to --min-lr at step N)\n"
	       "      --min-lr LR         the cosine's floor (default 0)\n"
	       "      --weight-decay WD   AdamW's decoupled weight decay (default 0.01)\n"
	       "      --beta1 B1, --beta2 B2, --adam-eps E   AdamW (default 0.9, 0.999, 1e-8)\n"
	       "      --clip C            clip the global gradient norm to C (default: no clipping)\n"
	       "      --ema DECAY         keep an exponential moving average of the weights (e.g. 0.999)\n"
	       "      --cfg-dropout P     replace a prompt by the empty one with probability P (0.1)\n"
	       "      --empty-text FILE   the empty prompt's frame (od-tag --raw ''); default: encoded\n"
	       "                          with BASE's text encoder\n"
	       "  -s, --seed S            seed of the noise (S) and of the data order (S + 1) (default 0)\n"
	       "      --save-every K      a checkpoint every K steps (and always at the end)\n"
	       "      --keep N            checkpoints to keep (default 1; 0 keeps all)\n"
	       "      --until STEP        stop after STEP (a checkpoint; resume later)\n"
	       "      --resume PATH       continue the run in PATH (OUTDIR or a checkpoint folder)\n"
	       "      --sample-every K    every K steps, generate --sample-prompts into OUTDIR/samples/\n"
	       "      --sample-prompts F  a frame stream of jobs, or one prompt per line\n"
	       "      --sample-steps N    sampling steps (default 20)\n"
	       "      --sample-guidance G guidance scale (default 5)\n"
	       "      --sample-size WxH   text-to-image size (default: the model's input size x 8)\n"
	       "      --sample-seed S     seed of the samples' noise (default 0)\n"
	       "      --no-softcap        self-attention without the soft-cap\n"
	       "  -j, --threads N         CPU threads (default: all)\n"
	       "      --progress=MODE     auto (terminal only), none or machine (key=value lines)\n"
	       "  -h, --help              this help\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct train_progress {
	enum od_progress_mode mode;
	int tty, shown;
	double start;
	int64_t first;
};

static void show_progress(struct train_progress *p, const struct od_train_step_info *in, int64_t total)
{
	double el = od_now() - p->start;
	int64_t done = in->step - p->first;
	double rate = el > 0 ? done / el : 0, eta = rate > 0 ? (total - in->step) / rate : 0;
	if (p->mode == OD_PROGRESS_MACHINE) {
		fprintf(stderr, "progress=train step=%" PRId64 " total=%" PRId64 " loss=%.6g lr=%.6g grad_norm=%.6g "
			"steps_per_s=%.3f elapsed=%.3f eta=%.3f\n", in->step, total, (double)in->loss, in->lr, in->grad_norm,
			rate, el, eta);
		fflush(stderr);
		return;
	}
	if (p->mode != OD_PROGRESS_AUTO || !p->tty)
		return;
	if (!p->shown && el < 0.5 && in->step < total)
		return;
	char e[32];
	if (eta >= 3600)
		snprintf(e, sizeof e, "%dh%02dm", (int)(eta / 3600), (int)(eta / 60) % 60);
	else
		snprintf(e, sizeof e, "%dm%02ds", (int)(eta / 60), (int)eta % 60);
	fprintf(stderr, "\r%s: step %" PRId64 "/%" PRId64 ", loss %.4f, %.2f steps/s, ETA %s\033[K", od_prog, in->step,
		total, (double)in->loss, rate, e);
	p->shown = 1;
}

static void end_progress(struct train_progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
	p->shown = 0;
}

static char *resolved(const char *path)
{
	char *r = realpath(path, NULL);
	if (!r)
		od_die(OD_EIO, "'%s': %s", path, strerror(errno));
	return r;
}

static void mkdir_p(const char *dir)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		od_die(OD_EIO, "'%s': cannot create: %s", dir, strerror(errno));
	if (!od_is_dir(dir))
		od_die(OD_EIO, "'%s': not a folder", dir);
}

/* Fail after a step: the run stops; what was saved stays. */
static noreturn void train_fail(struct od_trainer *tr, struct od_train_log *log, struct train_progress *pr, int rc)
{
	end_progress(pr);
	char msg[2048];
	snprintf(msg, sizeof msg, "%s", od_errmsg());
	od_train_log_close(log);
	od_error(rc, "%s", msg);
	(void)tr;
	od_fail(rc);
}

static int cmd_train(int argc, char **argv)
{
	enum {
		O_CONFIG = 256, O_LR, O_WARMUP, O_SCHEDULE, O_MINLR, O_WD, O_BETA1, O_BETA2, O_AEPS, O_CLIP, O_EMA,
		O_DROPOUT, O_EMPTY, O_SAVE, O_KEEP, O_UNTIL, O_RESUME, O_SEVERY, O_SPROMPTS, O_SSTEPS, O_SGUID, O_SSIZE,
		O_SSEED, O_NOCAP, O_PROGRESS
	};
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' }, { "config", required_argument, 0, O_CONFIG },
		{ "output", required_argument, 0, 'o' }, { "steps", required_argument, 0, 'n' },
		{ "batch", required_argument, 0, 'b' }, { "lr", required_argument, 0, O_LR },
		{ "warmup", required_argument, 0, O_WARMUP }, { "schedule", required_argument, 0, O_SCHEDULE },
		{ "min-lr", required_argument, 0, O_MINLR }, { "weight-decay", required_argument, 0, O_WD },
		{ "beta1", required_argument, 0, O_BETA1 }, { "beta2", required_argument, 0, O_BETA2 },
		{ "adam-eps", required_argument, 0, O_AEPS }, { "clip", required_argument, 0, O_CLIP },
		{ "ema", required_argument, 0, O_EMA }, { "cfg-dropout", required_argument, 0, O_DROPOUT },
		{ "empty-text", required_argument, 0, O_EMPTY }, { "seed", required_argument, 0, 's' },
		{ "save-every", required_argument, 0, O_SAVE }, { "keep", required_argument, 0, O_KEEP },
		{ "until", required_argument, 0, O_UNTIL }, { "resume", required_argument, 0, O_RESUME },
		{ "sample-every", required_argument, 0, O_SEVERY }, { "sample-prompts", required_argument, 0, O_SPROMPTS },
		{ "sample-steps", required_argument, 0, O_SSTEPS }, { "sample-guidance", required_argument, 0, O_SGUID },
		{ "sample-size", required_argument, 0, O_SSIZE }, { "sample-seed", required_argument, 0, O_SSEED },
		{ "no-softcap", no_argument, 0, O_NOCAP }, { "threads", required_argument, 0, 'j' },
		{ "progress", required_argument, 0, O_PROGRESS }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	struct od_train_settings s;
	od_train_settings_default(&s);
	unsigned given = 0;
	const char *model = NULL, *config = NULL, *outdir = NULL, *resume = NULL, *empty = NULL, *prompts = NULL;
	int64_t steps = 0, save_every = 0, until = 0, sample_every = 0;
	int keep = 1, threads = 0, sample_steps = 20, sw = 0, sh = 0, c;
	double sample_guidance = 5.0;
	uint64_t sample_seed = 0;
	enum od_progress_mode pmode = OD_PROGRESS_AUTO;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:o:n:b:s:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; given |= OD_TRAIN_GIVEN_BASE; break;
		case O_CONFIG: config = optarg; given |= OD_TRAIN_GIVEN_CONFIG; break;
		case 'o': outdir = optarg; break;
		case 'n': steps = od_opt_int("--steps", optarg, 1, INT32_MAX); break;
		case 'b': s.batch = (int)od_opt_int("--batch", optarg, 1, 65536); given |= OD_TRAIN_GIVEN_BATCH; break;
		case O_LR: s.lr = od_opt_num("--lr", optarg, 0, 1e30); given |= OD_TRAIN_GIVEN_LR; break;
		case O_WARMUP: s.warmup = od_opt_int("--warmup", optarg, 0, INT32_MAX); given |= OD_TRAIN_GIVEN_WARMUP; break;
		case O_SCHEDULE: {
			int k = od_lr_shape_parse(optarg);
			if (k < 0)
				od_usage_error("--schedule: '%s' is not constant or cosine", optarg);
			s.schedule = (enum od_lr_shape)k;
			given |= OD_TRAIN_GIVEN_SCHEDULE;
			break;
		}
		case O_MINLR: s.min_lr = od_opt_num("--min-lr", optarg, 0, 1e30); given |= OD_TRAIN_GIVEN_MIN_LR; break;
		case O_WD: s.adamw.weight_decay = od_opt_num("--weight-decay", optarg, 0, 1e30); given |= OD_TRAIN_GIVEN_ADAMW; break;
		case O_BETA1: s.adamw.beta1 = od_opt_num("--beta1", optarg, 0, 0.999999999); given |= OD_TRAIN_GIVEN_ADAMW; break;
		case O_BETA2: s.adamw.beta2 = od_opt_num("--beta2", optarg, 0, 0.999999999); given |= OD_TRAIN_GIVEN_ADAMW; break;
		case O_AEPS: s.adamw.eps = od_opt_num("--adam-eps", optarg, 1e-30, 1); given |= OD_TRAIN_GIVEN_ADAMW; break;
		case O_CLIP: s.clip = od_opt_num("--clip", optarg, 0, 1e30); given |= OD_TRAIN_GIVEN_CLIP; break;
		case O_EMA: s.ema = od_opt_num("--ema", optarg, 0, 0.999999999); given |= OD_TRAIN_GIVEN_EMA; break;
		case O_DROPOUT: s.cfg_dropout = od_opt_num("--cfg-dropout", optarg, 0, 1); given |= OD_TRAIN_GIVEN_DROPOUT; break;
		case O_EMPTY: empty = optarg; given |= OD_TRAIN_GIVEN_EMPTY; break;
		case 's': s.seed = (uint64_t)od_opt_int("--seed", optarg, 0, INT64_MAX); given |= OD_TRAIN_GIVEN_SEED; break;
		case O_SAVE: save_every = od_opt_int("--save-every", optarg, 1, INT32_MAX); break;
		case O_KEEP: keep = (int)od_opt_int("--keep", optarg, 0, 1000000); break;
		case O_UNTIL: until = od_opt_int("--until", optarg, 1, INT32_MAX); break;
		case O_RESUME: resume = optarg; break;
		case O_SEVERY: sample_every = od_opt_int("--sample-every", optarg, 1, INT32_MAX); break;
		case O_SPROMPTS: prompts = optarg; break;
		case O_SSTEPS: sample_steps = (int)od_opt_int("--sample-steps", optarg, 1, 1000); break;
		case O_SGUID: sample_guidance = od_opt_num("--sample-guidance", optarg, 0, 1e6); break;
		case O_SSIZE:
			od_opt_size("--sample-size", optarg, &sw, &sh);
			if (sw % 16 || sh % 16)
				od_usage_error("--sample-size: %dx%d is not a multiple of 16 on both sides", sw, sh);
			break;
		case O_SSEED: sample_seed = (uint64_t)od_opt_int("--sample-seed", optarg, 0, INT64_MAX); break;
		case O_NOCAP: s.softcap = 0; given |= OD_TRAIN_GIVEN_SOFTCAP; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case O_PROGRESS: pmode = progress_mode(optarg); break;
		case 'h': train_usage(); return 0;
		case ':': od_usage_error("train: option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("train: unknown option '%s'", argv[optind - 1]);
		}
	}
	char **data = argv + optind;
	int n_data = argc - optind;
	if (!resume) {
		if (!outdir)
			od_usage_error("train: give the output folder with -o OUTDIR");
		if (!steps)
			od_usage_error("train: give the number of steps with --steps N");
		if (!n_data)
			od_usage_error("train: give the training data: DATA.odf[:WEIGHT]...");
		if (!model && !(given & OD_TRAIN_GIVEN_BASE)) {
			model = getenv("OD_MODEL");
			if (model && !*model)
				model = NULL;
		}
		if (!model && !config)
			od_usage_error("train: no model: give --model BASE (or set OD_MODEL) or --config CONFIG.json");
	}
	if (sample_every && !prompts)
		od_usage_error("train: --sample-every needs --sample-prompts FILE");
	if (prompts && !sample_every)
		od_usage_error("train: --sample-prompts needs --sample-every K");
	if (until && steps && until > steps)
		od_usage_error("train: --until %lld is past --steps %lld", (long long)until, (long long)steps);
	/* paths the run records are absolute, so it resumes from any folder */
	if (model) {
		if (!od_is_dir(model))
			od_die(OD_EMODEL, "'%s': no such model folder", model);
		s.base = resolved(model);
	}
	if (config) {
		if (!od_is_file(config))
			od_die(OD_EIO, "'%s': no such file", config);
		s.config = resolved(config);
	}
	if (empty) {
		if (!od_is_file(empty))
			od_die(OD_EIO, "'%s': no such file", empty);
		s.empty_text = resolved(empty);
	}

	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	if (rc)
		od_fail(rc);
	struct od_trainer tr;
	char *ckpt = NULL, *outdir_alloc = NULL;
	int created = 0;
	if (resume) {
		if ((rc = od_train_resume_find(resume, &ckpt)))
			od_fail(rc);
		if (!outdir) {
			/* OUTDIR itself, or the folder a checkpoint folder lies in */
			char *st = od_path_join(resume, OD_TRAIN_STATE_FILE);
			int is_ckpt = st && od_is_file(st);
			free(st);
			if (is_ckpt) {
				char *r = resolved(resume), *slash = strrchr(r, '/');
				if (slash && slash != r)
					*slash = 0;
				outdir = outdir_alloc = r;
			} else {
				outdir = resume;
			}
		}
		rc = od_trainer_resume(&tr, ctx, ckpt, &s, given, steps, data, n_data);
		od_train_settings_free(&s);
		if (rc)
			od_fail(rc);
		if (until && until > tr.steps)
			od_usage_error("train: --until %lld is past the run's %lld steps", (long long)until,
				       (long long)tr.steps);
	} else {
		char *latest = od_path_join(outdir, "latest");
		struct stat lst;
		if (latest && lstat(latest, &lst) == 0)
			od_die(OD_EINVAL, "'%s': a run is there already: continue it with --resume %s, or choose another "
			       "folder", outdir, outdir);
		free(latest);
		/* a folder this run creates goes again if the run cannot start */
		created = mkdir(outdir, 0777) == 0;
		mkdir_p(outdir);
		if ((rc = od_trainer_open(&tr, ctx, model, &s, steps, data, n_data, outdir))) {
			if (created)
				od_train_remove_tree(outdir);
			od_fail(rc);
		}
	}
	const int64_t total = tr.steps, stop = until ? until : total;

	/* samples */
	struct od_train_preview pv;
	int have_pv = 0;
	char *sdir = od_path_join(outdir, "samples");
	if (!sdir)
		od_die(OD_ENOMEM, "out of memory");
	if (sample_every) {
		mkdir_p(sdir);
		char *jobs = od_path_join(sdir, "prompts.odf");
		if (!sw) {
			sw = tr.m.cfg.input_size[2] * 8;
			sh = tr.m.cfg.input_size[1] * 8;
		}
		if (!jobs || (rc = od_train_preview_open(&pv, ctx, tr.s.base, prompts, jobs, sample_steps,
							 (float)sample_guidance, sample_seed, sw, sh))) {
			if (created)
				od_train_remove_tree(outdir);
			od_fail(jobs ? rc : OD_ENOMEM);
		}
		free(jobs);
		have_pv = 1;
	}

	struct od_train_log log;
	double clock0 = 0;
	char *log_path = od_path_join(outdir, "log.csv");
	if (!log_path || (rc = od_train_log_open(&log, log_path, tr.step, &clock0)))
		od_fail(log_path ? rc : OD_ENOMEM);
	struct train_progress pr = { .mode = pmode, .tty = isatty(STDERR_FILENO), .start = od_now(), .first = tr.step };
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	char png[4096], name[64];
	if (have_pv && tr.step == 0) {
		snprintf(png, sizeof png, "%s/step-0000000.png", sdir);
		od_trainer_swap_ema(&tr);
		rc = od_train_preview_run(&pv, &tr.m, png, NULL);
		od_trainer_swap_ema(&tr);
		if (rc)
			train_fail(&tr, &log, &pr, rc);
	}
	int64_t saved = tr.step;
	while (tr.step < stop && !interrupted) {
		struct od_train_step_info in;
		if ((rc = od_trainer_step(&tr, &in)))
			train_fail(&tr, &log, &pr, rc);
		double seconds = clock0 + (od_now() - pr.start);
		if ((rc = od_train_log_row(&log, in.step, in.loss, in.lr, in.grad_norm, seconds)))
			train_fail(&tr, &log, &pr, rc);
		show_progress(&pr, &in, total);
		if (save_every && tr.step % save_every == 0 && tr.step < stop) {
			if ((rc = od_trainer_save(&tr, outdir, keep, name, sizeof name)))
				train_fail(&tr, &log, &pr, rc);
			saved = tr.step;
		}
		if (have_pv && (tr.step % sample_every == 0 || tr.step == stop)) {
			od_train_step_name(tr.step, name, sizeof name);
			snprintf(png, sizeof png, "%s/%s.png", sdir, name);
			od_trainer_swap_ema(&tr);
			rc = od_train_preview_run(&pv, &tr.m, png, NULL);
			od_trainer_swap_ema(&tr);
			if (rc)
				train_fail(&tr, &log, &pr, rc);
		}
	}
	end_progress(&pr);
	if (tr.step != saved || tr.step == 0) {
		if ((rc = od_trainer_save(&tr, outdir, keep, name, sizeof name)))
			train_fail(&tr, &log, &pr, rc);
	}
	if ((rc = od_train_log_close(&log)))
		od_fail(rc);
	if (interrupted)
		od_die(OD_EFAIL, "interrupted at step %lld; the checkpoint of that step is saved (continue with --resume %s)",
		       (long long)tr.step, outdir);
	if (have_pv)
		od_train_preview_close(&pv);
	free(sdir);
	free(log_path);
	free(ckpt);
	free(outdir_alloc);
	od_trainer_close(&tr);
	od_ctx_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------------ init */

static void init_usage(void)
{
	printf("Usage: od-train init --config CONFIG.json [--model BASE] [--seed S] -o OUT\n"
	       "Write a new model folder OUT whose transformer has the configuration CONFIG.json and\n"
	       "random weights initialised as upstream's modules initialise them, from seed S\n"
	       "(default 0); BASE's VAE, text encoder, tokenizer and scheduler are linked into it.\n"
	       "  -m, --model BASE     the other components (default $OD_MODEL; none without it)\n"
	       "      --config FILE    a transformer config.json\n"
	       "  -s, --seed S         the initialisation's seed\n"
	       "  -o, --output OUT     the new folder (must not exist)\n"
	       "  -j, --threads N      CPU threads\n"
	       "  -h, --help           this help\n");
}

/* OUT must not exist; splits it into its folder and name. */
static void new_folder(const char *out, char **dir, char **name)
{
	struct stat st;
	if (lstat(out, &st) == 0)
		od_die(OD_EINVAL, "'%s' exists already: give a new folder", out);
	char *copy = strdup(out);
	if (!copy)
		od_die(OD_ENOMEM, "out of memory");
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = 0;
	char *slash = strrchr(copy, '/');
	if (slash) {
		*slash = 0;
		*dir = strdup(slash == copy ? "/" : copy);
		*name = strdup(slash + 1);
	} else {
		*dir = strdup(".");
		*name = strdup(copy);
	}
	free(copy);
	if (!*dir || !*name)
		od_die(OD_ENOMEM, "out of memory");
	if (!od_is_dir(*dir))
		od_die(OD_EIO, "'%s': no such folder", *dir);
}

static int cmd_init(int argc, char **argv)
{
	enum { O_CONFIG = 256 };
	static const struct option opts[] = {
		{ "config", required_argument, 0, O_CONFIG }, { "model", required_argument, 0, 'm' },
		{ "seed", required_argument, 0, 's' }, { "output", required_argument, 0, 'o' },
		{ "threads", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	const char *config = NULL, *model = getenv("OD_MODEL"), *out = NULL;
	uint64_t seed = 0;
	int threads = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:s:o:j:h", opts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: config = optarg; break;
		case 'm': model = optarg; break;
		case 's': seed = (uint64_t)od_opt_int("--seed", optarg, 0, INT64_MAX); break;
		case 'o': out = optarg; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case 'h': init_usage(); return 0;
		case ':': od_usage_error("init: option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("init: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		od_usage_error("init: unexpected argument '%s'", argv[optind]);
	if (!config || !out)
		od_usage_error("init: give --config CONFIG.json and -o OUT");
	if (model && !*model)
		model = NULL;
	if (model && !od_is_dir(model))
		od_die(OD_EMODEL, "'%s': no such model folder", model);
	char *dir, *name;
	new_folder(out, &dir, &name);
	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	if (!rc)
		rc = od_train_init_model(ctx, config, model, seed, dir, name);
	if (rc)
		od_fail(rc);
	free(dir);
	free(name);
	od_ctx_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------------ step */

static void step_usage(void)
{
	printf("Usage: od-train step [OPTIONS] -o OUT CASE.safetensors[:PREFIX]...\n"
	       "One AdamW step per CASE, in order, from BASE's weights: the gradient of the case's loss\n"
	       "(its stored x_sigma, t, target, encoder_hidden_states and encoder_attention_mask, as\n"
	       "'od-train grad' reads them) at the current weights, then the update. With :PREFIX\n"
	       "(ending in '.'), the gradients the file stores as PREFIX<weight name> instead; weights\n"
	       "it has none for sit that step out. OUT gets the weights (a model folder) and the\n"
	       "optimiser state, as a checkpoint. For checking the optimiser against a reference.\n"
	       "  -m, --model BASE      the starting weights (default $OD_MODEL)\n"
	       "      --lr LR           learning rate (default 1e-4)\n"
	       "      --weight-decay WD, --beta1 B1, --beta2 B2, --adam-eps E   AdamW (0.01, 0.9, 0.999, 1e-8)\n"
	       "      --no-softcap      self-attention without the soft-cap\n"
	       "  -o, --output OUT      the new folder (must not exist)\n"
	       "  -j, --threads N       CPU threads\n"
	       "  -h, --help            this help\n");
}

/* One step with the gradients a file stores as PREFIX<name>; weights without
 * one are left out of it (their weights and moments stay as they are). */
static int stored_step(struct od_adamw *opt, struct od_nextdit_params *p, const char *path, const char *prefix,
		       double lr)
{
	struct od_safetensors st;
	int rc = od_st_open(&st, path);
	if (rc)
		return rc;
	float **g = calloc((size_t)p->n, sizeof *g), **w = calloc((size_t)p->n, sizeof *w);
	float **m = calloc((size_t)p->n, sizeof *m), **v = calloc((size_t)p->n, sizeof *v);
	int64_t *numel = calloc((size_t)p->n, sizeof *numel);
	int k = 0;
	if (!g || !w || !m || !v || !numel)
		rc = od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; !rc && i < p->n; i++) {
		char name[512];
		snprintf(name, sizeof name, "%s%s", prefix, p->names[i]);
		const struct od_tensor *t = od_st_find(&st, name);
		if (!t)
			continue;
		if (od_tensor_numel(t) != p->numel[i] || !od_dtype_is_float(t->dtype)) {
			rc = od_error(OD_EFORMAT, "'%s': '%s' is not a gradient of %lld values", path, name,
				      (long long)p->numel[i]);
			break;
		}
		if (!(g[k] = malloc((size_t)p->numel[i] * sizeof(float)))) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		od_to_f32(g[k], t->data, t->dtype, (size_t)p->numel[i]);
		w[k] = p->data[i], m[k] = opt->m[i], v[k] = opt->v[i], numel[k] = p->numel[i];
		k++;
	}
	if (!rc && !k)
		rc = od_error(OD_EFORMAT, "'%s': no tensor named %s<weight>", path, prefix);
	if (!rc) {
		/* AdamW is elementwise: the stepped tensors are an optimiser of their own */
		struct od_adamw sub = *opt;
		sub.n = k, sub.numel = numel, sub.m = m, sub.v = v;
		od_adamw_step(&sub, w, (const float *const *)g, lr);
		opt->step = sub.step;
	}
	for (int i = 0; g && i < k; i++)
		free(g[i]);
	free(g), free(w), free(m), free(v), free(numel);
	od_st_close(&st);
	return rc;
}

static int cmd_step(int argc, char **argv)
{
	enum { O_LR = 256, O_WD, O_BETA1, O_BETA2, O_AEPS, O_NOCAP };
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' }, { "lr", required_argument, 0, O_LR },
		{ "weight-decay", required_argument, 0, O_WD }, { "beta1", required_argument, 0, O_BETA1 },
		{ "beta2", required_argument, 0, O_BETA2 }, { "adam-eps", required_argument, 0, O_AEPS },
		{ "no-softcap", no_argument, 0, O_NOCAP }, { "output", required_argument, 0, 'o' },
		{ "threads", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	struct od_train_settings s;
	od_train_settings_default(&s);
	const char *model = getenv("OD_MODEL"), *out = NULL;
	int threads = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:o:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case O_LR: s.lr = od_opt_num("--lr", optarg, 0, 1e30); break;
		case O_WD: s.adamw.weight_decay = od_opt_num("--weight-decay", optarg, 0, 1e30); break;
		case O_BETA1: s.adamw.beta1 = od_opt_num("--beta1", optarg, 0, 0.999999999); break;
		case O_BETA2: s.adamw.beta2 = od_opt_num("--beta2", optarg, 0, 0.999999999); break;
		case O_AEPS: s.adamw.eps = od_opt_num("--adam-eps", optarg, 1e-30, 1); break;
		case O_NOCAP: s.softcap = 0; break;
		case 'o': out = optarg; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case 'h': step_usage(); return 0;
		case ':': od_usage_error("step: option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("step: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!model || !*model)
		od_usage_error("step: no model: give --model BASE or set OD_MODEL");
	if (!out)
		od_usage_error("step: give the output folder with -o OUT");
	if (optind == argc)
		od_usage_error("step: give one or more CASE.safetensors");
	char *dir, *name;
	new_folder(out, &dir, &name);
	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	if (rc)
		od_fail(rc);
	struct od_nextdit m;
	if ((rc = od_nextdit_open(&m, ctx, model)))
		od_fail(rc);
	m.softcap = s.softcap ? 30.0f : 0.0f;
	struct od_nextdit_params p;
	if ((rc = od_nextdit_params_init(&p, &m)))
		od_fail(rc);
	float **grads = calloc((size_t)p.n, sizeof *grads);
	if (!grads)
		od_die(OD_ENOMEM, "out of memory");
	for (int i = 0; i < p.n; i++)
		if (!(grads[i] = calloc((size_t)p.numel[i], sizeof **grads)))
			od_die(OD_ENOMEM, "out of memory for the gradients");
	struct od_adamw opt;
	if ((rc = od_adamw_init(&opt, &s.adamw, p.n, p.numel)))
		od_fail(rc);
	for (int k = optind; k < argc; k++) {
		/* FILE:PREFIX (PREFIX ends with '.'): the stored gradients PREFIX<name> */
		char *path = strdup(argv[k]), *colon = path ? strrchr(path, ':') : NULL;
		if (!path)
			od_die(OD_ENOMEM, "out of memory");
		if (colon && colon[1] && colon[strlen(colon) - 1] == '.')
			*colon++ = 0;
		else
			colon = NULL;
		if (colon) {
			if ((rc = stored_step(&opt, &p, path, colon, s.lr)))
				od_fail(rc);
			free(path);
			continue;
		}
		struct od_nextdit_case cs;
		if ((rc = od_nextdit_case_read(&cs, path, &m.cfg)))
			od_fail(rc);
		for (int i = 0; i < p.n; i++)
			memset(grads[i], 0, (size_t)p.numel[i] * sizeof **grads);
		float loss;
		if ((rc = od_nextdit_loss_grad(&m, &cs.b, &loss, grads, NULL)))
			od_fail(rc);
		od_nextdit_case_free(&cs);
		if (!isfinite(loss))
			od_die(OD_EFAIL, "'%s': the loss is not finite", path);
		od_adamw_step(&opt, p.data, (const float *const *)grads, s.lr);
		free(path);
	}
	/* the checkpoint: weights and moments (the settings name what was run) */
	struct od_tensor *shapes = calloc((size_t)p.n, sizeof *shapes);
	char *cfg_path = od_path_join(model, "transformer/config.json"), *cfg_text = NULL;
	size_t cfg_len = 0;
	if (!shapes || !cfg_path)
		od_die(OD_ENOMEM, "out of memory");
	if ((rc = od_read_file(cfg_path, (size_t)16 << 20, &cfg_text, &cfg_len)))
		od_fail(rc);
	for (int i = 0; i < p.n; i++)
		shapes[i] = p.views[i];
	struct od_train_state st = { .step = opt.step, .m = opt.m, .v = opt.v };
	st.settings = od_train_settings_json(&s);
	st.data = json_array();
	for (int k = optind; st.data && k < argc; k++)
		json_array_append_new(st.data, json_pack("{s:s}", "case", argv[k]));
	struct od_train_rng g;
	od_train_rng_seed(&g, 0);
	od_train_rng_export(&g, st.rng_noise);
	od_train_rng_export(&g, st.rng_data);
	struct od_train_model mo = { .base = model, .config = cfg_text, .config_len = cfg_len,
				     .t = { .n = p.n, .names = p.names, .shapes = shapes }, .data = p.data, .state = &st };
	if ((rc = od_train_model_write(dir, name, &mo)))
		od_fail(rc);
	json_decref(st.settings);
	json_decref(st.data);
	free(cfg_text);
	free(cfg_path);
	free(shapes);
	for (int i = 0; i < p.n; i++)
		free(grads[i]);
	free(grads);
	od_adamw_free(&opt);
	od_nextdit_params_free(&p, &m);
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	free(dir);
	free(name);
	return 0;
}

/* ------------------------------------------------------------------ ema */

static void ema_usage(void)
{
	printf("Usage: od-train ema CHECKPOINT -o OUT\n"
	       "Write a new model folder OUT with the exponential moving average of the weights that\n"
	       "CHECKPOINT's training state holds (a run with --ema), CHECKPOINT's other components linked.\n"
	       "  -o, --output OUT     the new folder (must not exist)\n"
	       "  -h, --help           this help\n");
}

static int cmd_ema(int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' },
					      { 0 } };
	const char *out = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': ema_usage(); return 0;
		case ':': od_usage_error("ema: option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("ema: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1 || !out)
		od_usage_error("ema: give CHECKPOINT and -o OUT");
	const char *ckpt = argv[optind];
	char *dir, *name;
	new_folder(out, &dir, &name);
	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, 1);
	if (rc)
		od_fail(rc);
	struct od_nextdit m;
	if ((rc = od_nextdit_open(&m, ctx, ckpt)))
		od_fail(rc);
	struct od_nextdit_params p;
	if ((rc = od_nextdit_params_init(&p, &m)))
		od_fail(rc);
	struct od_tensor *shapes = calloc((size_t)p.n, sizeof *shapes);
	char *state = od_path_join(ckpt, OD_TRAIN_STATE_FILE), *cfg_path = od_path_join(ckpt, "transformer/config.json");
	char *cfg_text = NULL;
	size_t cfg_len = 0;
	if (!shapes || !state || !cfg_path)
		od_die(OD_ENOMEM, "out of memory");
	for (int i = 0; i < p.n; i++)
		shapes[i] = p.views[i];
	struct od_train_tensors t = { .n = p.n, .names = p.names, .shapes = shapes };
	struct od_train_state st;
	if ((rc = od_train_state_read(state, &t, &st)) || (rc = od_read_file(cfg_path, (size_t)16 << 20, &cfg_text, &cfg_len)))
		od_fail(rc);
	if (!st.ema)
		od_die(OD_EFORMAT, "'%s': the run kept no EMA (train with --ema DECAY)", state);
	struct od_train_model mo = { .base = ckpt, .config = cfg_text, .config_len = cfg_len, .t = t, .data = st.ema };
	if ((rc = od_train_model_write(dir, name, &mo)))
		od_fail(rc);
	od_train_state_free(&st, p.n);
	free(cfg_text);
	free(cfg_path);
	free(state);
	free(shapes);
	od_nextdit_params_free(&p, &m);
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	free(dir);
	free(name);
	return 0;
}

/* ------------------------------------------------------------------ vae */

static void vae_usage(void)
{
	printf("Usage: od-train vae (--config CONFIG.json | --model BASE) -o OUTDIR --size S --steps N\n"
	       "                    [--batch B] [--lr LR] [--beta B] [--seed N] [--save-every K] IMAGES...\n"
	       "       od-train vae --resume OUTDIR --steps N [IMAGES...]\n"
	       "Train a VAE (AutoencoderKL, SD3 architecture) to reconstruct S x S crops of the pictures\n"
	       "(PNG/JPEG files, folders of them, or .txt lists): L1 reconstruction + beta * KL, AdamW.\n"
	       "OUTDIR gets step-N/ checkpoints, latest -> step-N, vae -> latest/vae (od-encode --model\n"
	       "OUTDIR loads it) and train.csv (step,loss,recon,kl,lr,grad_norm).\n"
	       "  -c, --config FILE     a fresh model of this vae/config.json (diffusers AutoencoderKL)\n"
	       "  -m, --model BASE      start from BASE/vae's weights instead\n"
	       "  -o, --output OUTDIR   the run's folder\n"
	       "      --resume OUTDIR   continue the run in OUTDIR from its latest checkpoint\n"
	       "  -s, --size S          crop side in pixels, a multiple of the VAE's factor (8)\n"
	       "  -n, --steps N         train until step N (counting the steps of earlier sessions)\n"
	       "  -b, --batch B         pictures per step (default 8)\n"
	       "      --lr LR           AdamW learning rate (default 1e-4)\n"
	       "      --beta B          weight of the KL term (default 1e-6)\n"
	       "      --seed N          initialisation, crops and noise (default 0)\n"
	       "      --save-every K    a checkpoint every K steps (default: only at the end)\n"
	       "  -j, --threads N       CPU threads (default: all)\n"
	       "      --progress=MODE   auto, none or machine\n"
	       "  -h, --help            this help\n");
}

static int cmd_vae(int argc, char **argv)
{
	enum { O_RESUME = 256, O_LR, O_BETA, O_SEED, O_SAVE, O_PROGRESS };
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "model", required_argument, 0, 'm' },
		{ "output", required_argument, 0, 'o' }, { "resume", required_argument, 0, O_RESUME },
		{ "size", required_argument, 0, 's' },	 { "steps", required_argument, 0, 'n' },
		{ "batch", required_argument, 0, 'b' },	 { "lr", required_argument, 0, O_LR },
		{ "beta", required_argument, 0, O_BETA }, { "seed", required_argument, 0, O_SEED },
		{ "save-every", required_argument, 0, O_SAVE }, { "threads", required_argument, 0, 'j' },
		{ "progress", required_argument, 0, O_PROGRESS }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	const char *config = NULL, *model = NULL, *outdir = NULL, *resume = NULL;
	struct od_vae_run_settings s;
	od_vae_run_settings_default(&s);
	unsigned given = 0;
	long long steps = -1, save_every = 0;
	int threads = 0, c;
	enum od_progress_mode pm = OD_PROGRESS_AUTO;
	opterr = 0; /* one line of our own for a bad option */
	while ((c = getopt_long(argc, argv, ":c:m:o:s:n:b:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'm': model = optarg; break;
		case 'o': outdir = optarg; break;
		case O_RESUME: resume = optarg; break;
		case 's': s.size = (int)od_opt_int("--size", optarg, 8, 65536), given |= OD_VAE_GIVEN_SIZE; break;
		case 'n': steps = od_opt_int("--steps", optarg, 1, (long long)1 << 40); break;
		case 'b': s.batch = (int)od_opt_int("--batch", optarg, 1, 65536), given |= OD_VAE_GIVEN_BATCH; break;
		case O_LR: s.lr = od_opt_num("--lr", optarg, 0, 1e3), given |= OD_VAE_GIVEN_LR; break;
		case O_BETA: s.beta = od_opt_num("--beta", optarg, 0, 1e6), given |= OD_VAE_GIVEN_BETA; break;
		case O_SEED:
			s.seed = (uint64_t)od_opt_int("--seed", optarg, 0, (long long)1 << 53), given |= OD_VAE_GIVEN_SEED;
			break;
		case O_SAVE: save_every = od_opt_int("--save-every", optarg, 1, (long long)1 << 40); break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case O_PROGRESS: pm = progress_mode(optarg); break;
		case 'h': vae_usage(); return 0;
		case ':': od_usage_error("vae: %s needs a value", argv[optind - 1]);
		default: od_usage_error("vae: unknown option '%s'", argv[optind - 1]);
		}
	}
	char *const *inputs = argv + optind;
	const int n_inputs = argc - optind;
	if (steps < 0)
		od_usage_error("vae: give the number of steps with --steps N");
	if (resume) {
		if (config || model)
			od_usage_error("vae: --resume continues a run: no --config or --model");
		if (outdir && strcmp(outdir, resume))
			od_usage_error("vae: --resume writes into the run's own folder: no other -o");
		outdir = resume;
	} else {
		if (!config == !model)
			od_usage_error("vae: give one of --config CONFIG.json or --model BASE");
		if (!outdir)
			od_usage_error("vae: give the output folder with -o OUTDIR");
		if (!n_inputs)
			od_usage_error("vae: give the pictures (files, folders or .txt lists)");
		if (!(given & OD_VAE_GIVEN_SIZE))
			od_usage_error("vae: give the crop size with --size S");
	}
	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	if (rc)
		od_fail(rc);
	struct od_vae_run r;
	if (resume) {
		rc = od_vae_run_resume(&r, ctx, resume, &s, given, inputs, n_inputs);
	} else {
		char *latest = od_path_join(outdir, "latest");
		struct stat sb;
		if (latest && lstat(latest, &sb) == 0)
			od_die(OD_EINVAL, "'%s': already holds a run (continue it with --resume)", outdir);
		free(latest);
		json_t *cfg = NULL;
		if (config && (rc = od_json_load(config, &cfg)))
			od_fail(OD_EMODEL); /* a missing or broken config is a model problem, as for every tool */
		int created = mkdir(outdir, 0777) == 0;
		if (!created && errno != EEXIST)
			od_die(OD_EIO, "'%s': cannot create: %s", outdir, strerror(errno));
		if ((rc = od_vae_run_open(&r, ctx, cfg, model, &s, inputs, n_inputs)) && created)
			rmdir(outdir); /* nothing of a run that never started */
	}
	if (rc)
		od_fail(rc);
	char *logpath = od_path_join(outdir, "train.csv");
	FILE *log;
	if (!logpath)
		od_die(OD_ENOMEM, "out of memory");
	if ((rc = od_vae_log_open(&log, logpath, r.step)))
		od_fail(rc);
	struct od_progress pr;
	od_progress_begin(&pr, pm, "vae");
	const int64_t first = r.step;
	int64_t saved = r.step > 0 ? r.step : -1;
	while (r.step < steps) {
		struct od_vae_step_info info;
		if ((rc = od_vae_run_step(&r, &info)) || (rc = od_vae_log_row(log, logpath, &info, r.s.lr)))
			break;
		od_progress_step(&pr, 0, (int)(r.step - first), (int)(steps - first));
		if (save_every && r.step % save_every == 0) {
			if ((rc = od_vae_run_save(&r, outdir)))
				break;
			saved = r.step;
		}
	}
	od_progress_end(&pr);
	if (!rc && saved != r.step)
		rc = od_vae_run_save(&r, outdir);
	if (fclose(log) != 0 && !rc)
		rc = od_error(OD_EIO, "'%s': cannot write: %s", logpath, strerror(errno));
	if (rc)
		od_fail(rc);
	free(logpath);
	od_vae_run_close(&r);
	od_ctx_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------------ vae-scale */

static void vae_scale_usage(void)
{
	printf("Usage: od-train vae-scale -m MODEL --size S [--seed N] [--dry-run] IMAGES...\n"
	       "Encode the S x S centre crop of every picture with MODEL/vae, sample the posterior, and set\n"
	       "MODEL/vae/config.json's scaling_factor to 1/std and shift_factor to the mean of the latents\n"
	       "(as LDM and SD3 chose theirs). Prints scaling_factor=... shift_factor=... mean=... std=...\n"
	       "  -m, --model MODEL     the model folder (an od-train vae OUTDIR works)\n"
	       "  -s, --size S          crop side (a multiple of the VAE's factor)\n"
	       "      --seed N          the posterior noise (default 0)\n"
	       "      --dry-run         print the values, change nothing\n"
	       "  -j, --threads N       CPU threads (default: all)\n"
	       "  -h, --help            this help\n");
}

static int cmd_vae_scale(int argc, char **argv)
{
	enum { O_SEED = 256, O_DRY };
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' }, { "size", required_argument, 0, 's' },
		{ "seed", required_argument, 0, O_SEED }, { "dry-run", no_argument, 0, O_DRY },
		{ "threads", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	const char *model = NULL;
	int size = 0, dry = 0, threads = 0, c;
	uint64_t seed = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:s:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 's': size = (int)od_opt_int("--size", optarg, 8, 65536); break;
		case O_SEED: seed = (uint64_t)od_opt_int("--seed", optarg, 0, (long long)1 << 53); break;
		case O_DRY: dry = 1; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case 'h': vae_scale_usage(); return 0;
		case ':': od_usage_error("vae-scale: %s needs a value", argv[optind - 1]);
		default: od_usage_error("vae-scale: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!model)
		od_usage_error("vae-scale: give the model with -m MODEL");
	if (!size)
		od_usage_error("vae-scale: give the crop size with --size S");
	if (optind == argc)
		od_usage_error("vae-scale: give the pictures (files, folders or .txt lists)");
	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	if (rc)
		od_fail(rc);
	struct od_vae v;
	struct od_vae_params p;
	if ((rc = od_vae_open(&v, ctx, model)))
		od_fail(rc);
	if ((rc = od_vae_params_init(&p, &v)))
		od_fail(rc);
	if (size % p.cfg.downscale)
		od_usage_error("vae-scale: --size %d is not a multiple of the VAE's factor %d", size, p.cfg.downscale);
	char *vdir = strdup(v.comp.dir);
	od_vae_close(&v);
	struct od_vae_pictures d;
	double mean, std;
	if ((rc = od_vae_pictures_load(&d, argv + optind, argc - optind, size)) ||
	    (rc = od_vae_latent_stats(ctx, &p, &d, size, seed, &mean, &std)))
		od_fail(rc);
	if (!dry && (rc = od_vae_set_scale(vdir, 1.0 / std, mean)))
		od_fail(rc);
	printf("scaling_factor=%.9g shift_factor=%.9g mean=%.9g std=%.9g pictures=%d\n", 1.0 / std, mean, mean, std, d.n);
	if (fflush(stdout) != 0)
		od_die(OD_EIO, "<stdout>: cannot write");
	free(vdir);
	od_vae_pictures_free(&d);
	od_vae_params_free(&p);
	od_ctx_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------------ dispatch */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "grad", cmd_grad },
	{ "train", cmd_train },
	{ "init", cmd_init },
	{ "step", cmd_step },
	{ "ema", cmd_ema },
	{ "vae", cmd_vae },
	{ "vae-scale", cmd_vae_scale },
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-train");
	if (argc < 2)
		od_usage_error("give a command: train, init, ema, step, grad, vae or vae-scale");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage();
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version"))
		od_version();
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(cmd, commands[i].name)) {
			argv[1] = argv[0];
			return commands[i].run(argc - 1, argv + 1);
		}
	od_usage_error("unknown command '%s'", cmd);
}
