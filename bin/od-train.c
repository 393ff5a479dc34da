/* od-train: training the NextDiT and the VAE (od-train(1)). Each command is a
 * function with its own option table; main() only dispatches. The model's
 * rules (sizes, defaults, the soft-cap) come from the library. */
#include "od.h"
#include "model/nextdit_case.h"
#include "model/nextdit_grad.h"
#include "pipeline/job.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/log.h"
#include "train/preview.h"
#include "train/trainer.h"
#include "train/vae_train.h"
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* Training computes in float32 whatever $OD_PRECISION says: the backward
 * passes are derived for the float32 forward (doc/numerics.md §11) and the
 * golden gradients and the bit-for-bit resume hold for it alone. */
static int train_ctx_create(struct od_ctx **ctx, enum od_device dev, int threads)
{
	int rc = od_ctx_create(ctx, dev, threads);
	if (!rc)
		(*ctx)->precision = OD_PRECISION_FP32;
	return rc;
}

static const struct od_usage usage = {
	.description = "Train OneDiffusion's NextDiT and its VAE.\n",
	.footer = "Exit status: 0 ok, 1 failure (a run that diverged or was interrupted), 2 usage,\n"
		  "3 bad input, 4 model, 5 I/O, 6 no device. See od-train(1).\n",
};

/* The samples od-train train draws with --sample-every. */
#define SAMPLE_STEPS 20
#define SAMPLE_GUIDANCE 5.0

/* A help text that names a default the library chose. */
static const char *with_default(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *with_default(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return buf;
}

/* --sample-size WxH */
static int size_cb(const struct od_option *opt, const char *arg)
{
	char name[64];
	int *wh = opt->value;
	od_opt_size(od_option_name(opt, name, sizeof name), arg, &wh[0], &wh[1]);
	return OD_OK;
}

/* --schedule constant|cosine (the names are the library's) */
static int schedule_cb(const struct od_option *opt, const char *arg)
{
	int k = od_lr_shape_parse(arg);
	if (k < 0)
		return od_error(OD_EINVAL, "--schedule: '%s' is not constant or cosine", arg);
	*(int *)opt->value = k;
	return OD_OK;
}

/* The optimiser's options, the same for train and step; NAN until given, so
 * that train knows which settings a resumed run must compare. */
struct optim_args {
	double lr, weight_decay, beta1, beta2, eps;
	char help[5][96];
};

static int optim_options(void *value, struct od_option *out, int room)
{
	struct optim_args *a = value;
	struct od_train_settings d;
	od_train_settings_default(&d);
	a->lr = a->weight_decay = a->beta1 = a->beta2 = a->eps = NAN;
	const size_t n = sizeof a->help[0];
	const struct od_option t[] = {
		OD_OPT_NUM(0, "lr", &a->lr, "LR", with_default(a->help[0], n, "the (peak) learning rate (default %g)", d.lr),
			   0, 1e30),
		OD_OPT_NUM(0, "weight-decay", &a->weight_decay, "WD",
			   with_default(a->help[1], n, "AdamW's decoupled weight decay (default %g)", d.adamw.weight_decay),
			   0, 1e30),
		OD_OPT_NUM(0, "beta1", &a->beta1, "B1",
			   with_default(a->help[2], n, "AdamW's beta1 (default %g)", d.adamw.beta1), 0, 0.999999999),
		OD_OPT_NUM(0, "beta2", &a->beta2, "B2",
			   with_default(a->help[3], n, "AdamW's beta2 (default %g)", d.adamw.beta2), 0, 0.999999999),
		OD_OPT_NUM(0, "adam-eps", &a->eps, "E",
			   with_default(a->help[4], n, "AdamW's epsilon (default %g)", d.adamw.eps), 1e-30, 1),
	};
	const int k = (int)(sizeof t / sizeof *t);
	if (k > room)
		return -1;
	memcpy(out, t, sizeof t);
	return k;
}

#define OPT_OPTIM(a) { .type = OD_OPT_T_INCLUDE, .value = OD_OPT_PTR(struct optim_args, a), .expand = optim_options }

/* Put the values given into s; returns their OD_TRAIN_GIVEN_* bits. */
static unsigned optim_apply(const struct optim_args *a, struct od_train_settings *s)
{
	unsigned given = 0;
	if (!isnan(a->lr))
		s->lr = a->lr, given |= OD_TRAIN_GIVEN_LR;
	if (!isnan(a->weight_decay))
		s->adamw.weight_decay = a->weight_decay, given |= OD_TRAIN_GIVEN_ADAMW;
	if (!isnan(a->beta1))
		s->adamw.beta1 = a->beta1, given |= OD_TRAIN_GIVEN_ADAMW;
	if (!isnan(a->beta2))
		s->adamw.beta2 = a->beta2, given |= OD_TRAIN_GIVEN_ADAMW;
	if (!isnan(a->eps))
		s->adamw.eps = a->eps, given |= OD_TRAIN_GIVEN_ADAMW;
	return given;
}

/* Non-finite values never leave the tool (README, Conventions): the first of
 * the n tensors data[i] (numel[i] values) holding one, with the element in
 * *at; -1 when all are finite. */
static int first_nonfinite_tensor(float *const *data, const int64_t *numel, int n, int64_t *at)
{
	for (int i = 0; i < n; i++)
		if ((*at = od_first_nonfinite(data[i], (size_t)numel[i])) >= 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------ grad */

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

static int cmd_grad(int argc, char **argv, const struct od_command *cmd)
{
	struct od_common_opts common;
	const char *case_path = NULL, *out_path = NULL;
	int nocap = 0, inter = 0, recompute = 0;
	const struct od_option opts[] = {
		OD_OPT_COMMON_SOME(&common, OD_COMMON_MODEL | OD_COMMON_DEVICE | OD_COMMON_THREADS),
		OD_OPT_STRING(0, "case", &case_path, "IN",
			      "the batch (.safetensors: x_sigma, t, target, encoder_hidden_states, encoder_attention_mask)"),
		OD_OPT_STRING('o', "output", &out_path, "OUT",
			      "the gradients grad.<weight name>, loss and model_output (.safetensors; '-' for stdout)"),
		OD_OPT_BOOL(0, "no-softcap", &nocap, "self-attention without the soft-cap (upstream's fp32 path)"),
		OD_OPT_BOOL(0, "intermediates", &inter,
			    "also write dL.model_output, dL.block<i>_out, dL.x_embed and dL.c per token (the adaLN runs "
			    "per token then: slower)"),
		OD_OPT_BOOL(0, "recompute", &recompute,
			    "keep only each block's input; recompute its internals in the backward pass (less memory, one "
			    "more forward)"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (first != argc)
		od_usage_error("unexpected argument '%s'", argv[first]);
	const char *model = od_common_model(&common);
	if (!case_path)
		od_usage_error("give the batch with --case IN.safetensors");
	if (!out_path)
		od_usage_error("give the output with -o GRADS.safetensors");

	struct od_ctx *ctx;
	int rc = train_ctx_create(&ctx, common.device, common.threads);
	if (rc)
		od_fail(rc);
	struct od_nextdit m;
	if ((rc = od_nextdit_open(&m, ctx, model)))
		od_fail(rc);
	if (nocap)
		m.softcap = 0; /* else the library's default: the released soft-cap */
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
	/* the case was checked when read: a NaN here is the model's. The buffers
	 * are freed before the message, so that nothing is left behind. */
	int64_t at;
	int bad;
	if (!isfinite(loss))
		rc = od_error(OD_EMODEL, "'%s': the loss is not finite", case_path);
	else if ((at = od_first_nonfinite(out, nout)) >= 0)
		rc = od_error(OD_EMODEL, "'%s': the model's output is not finite (element %lld)", case_path,
			      (long long)at);
	else if ((bad = first_nonfinite_tensor(grads, p.numel, p.n, &at)) >= 0)
		rc = od_error(OD_EMODEL, "'%s': the gradient of '%s' is not finite (element %lld)", case_path,
			      p.names[bad], (long long)at);
	for (int i = 0; !rc && i < kl.n; i++) {
		int64_t n = 1;
		for (int d = 0; d < kl.e[i].ndim; d++)
			n *= kl.e[i].shape[d];
		if ((at = od_first_nonfinite(kl.e[i].data, (size_t)n)) >= 0)
			rc = od_error(OD_EMODEL, "'%s': '%s' is not finite (element %lld)", case_path, kl.e[i].name,
				      (long long)at);
	}
	if (rc) {
		for (int i = 0; i < p.n; i++)
			free(grads[i]);
		free(grads);
		free(out);
		for (int i = 0; i < kl.n; i++)
			free(kl.e[i].data);
		free(kl.e);
		od_fail(rc);
	}

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
	char cap[32];
	snprintf(cap, sizeof cap, "%g", (double)m.softcap);
	if (!rc)
		rc = od_st_writer_meta(w, "softcap", cap);
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

/* Create dir unless it is there; returns 1 when this call created it. */
static int mkdir_p(const char *dir)
{
	int made = mkdir(dir, 0777) == 0;
	if (!made && errno != EEXIST)
		od_die(OD_EIO, "'%s': cannot create: %s", dir, strerror(errno));
	if (!od_is_dir(dir))
		od_die(OD_EIO, "'%s': not a folder", dir);
	return made;
}

/* What a new run made in its folder (the folder itself, or the log and
 * samples/ in a folder that was there), until its first checkpoint is in
 * place: registered (base/io.h od_tree_register), so that a run that fails or
 * is killed before it has saved anything leaves nothing behind, and one that
 * has saved a checkpoint keeps it, its log and its samples. */
static struct od_temp *unsaved[3];
static int n_unsaved;

static void unsaved_add(const char *path)
{
	if (!(unsaved[n_unsaved++] = od_tree_register(path)))
		od_die(OD_ENOMEM, "out of memory");
}

/* A checkpoint is in place: the run's folder stays, whatever happens next. */
static void unsaved_keep(void)
{
	while (n_unsaved > 0)
		od_tree_keep(unsaved[--n_unsaved]);
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

static int cmd_train(int argc, char **argv, const struct od_command *cmd)
{
	struct od_train_settings s;
	od_train_settings_default(&s);
	struct od_common_opts common;
	struct optim_args oa;
	const char *config = NULL, *outdir = NULL, *resume = NULL, *empty = NULL, *prompts = NULL;
	/* settings a resumed run compares: unset (NAN, -1, 0) until given */
	int64_t steps = 0, save_every = 0, keep_every = 0, until = 0, sample_every = 0, seed = -1, warmup = -1, sample_seed = 0;
	int keep = 1, batch = 0, schedule = -1, nocap = 0, sample_steps = SAMPLE_STEPS, sample_size[2] = { 0, 0 };
	double min_lr = NAN, clip = NAN, ema = NAN, dropout = NAN, clean = NAN, clean_t = NAN,
	       sample_guidance = SAMPLE_GUIDANCE;
	char h_batch[64], h_dropout[96], h_guidance[64];
	const struct od_option opts[] = {
		OD_OPT_COMMON_SOME(&common, OD_COMMON_MODEL | OD_COMMON_THREADS | OD_COMMON_PROGRESS),
		OD_OPT_STRING(0, "config", &config, "CONFIG",
			      "start from random weights of this transformer config.json (upstream's initialisation, from "
			      "--seed) instead of the model's; the model still gives the VAE, text encoder, tokenizer and "
			      "scheduler"),
		OD_OPT_STRING('o', "output", &outdir, "OUTDIR",
			      "checkpoints OUTDIR/step-NNNNNNN, OUTDIR/latest, log.csv, samples/"),
		OD_OPT_INT64('n', "steps", &steps, "N", "steps of the run (the schedule ends there)", 1, INT32_MAX),
		OD_OPT_INT(0, "batch", &batch, "B",
			   with_default(h_batch, sizeof h_batch, "jobs per step (default %d)", s.batch), 1, 65536),
		OD_OPT_INT64('s', "seed", &seed, "S", "seed of the noise (S) and of the data order (S + 1) (default 0)", 0,
			     INT64_MAX),
		OD_OPT_NUM(0, "cfg-dropout", &dropout, "P",
			   with_default(h_dropout, sizeof h_dropout,
					"replace a prompt by the empty one with probability P (default %g)", s.cfg_dropout),
			   0, 1),
		OD_OPT_NUM(0, "clean-frames", &clean, "P",
			   "with probability P keep a random part of a job's frames clean, as conditions, out of the loss "
			   "(default 0)",
			   0, 1),
		OD_OPT_NUM(0, "clean-t", &clean_t, "T", "the clean frames' timesteps, uniform below T (default 100)", 0,
			   1000),
		OD_OPT_STRING(0, "empty-text", &empty, "FILE",
			      "the empty prompt's frame (od-tag --raw ''); default: encoded with the model's text encoder"),
		OD_OPT_BOOL(0, "no-softcap", &nocap, "self-attention without the soft-cap"),
		OD_OPT_GROUP("Optimiser:"),
		OPT_OPTIM(&oa),
		OD_OPT_INT64(0, "warmup", &warmup, "W", "linear warm-up over the first W steps (default 0)", 0, INT32_MAX),
		OD_OPT_CALLBACK(0, "schedule", &schedule, "S", "constant (the default) or cosine (down to --min-lr at step N)",
				schedule_cb),
		OD_OPT_NUM(0, "min-lr", &min_lr, "LR", "the cosine's floor (default 0)", 0, 1e30),
		OD_OPT_NUM(0, "clip", &clip, "C", "clip the global gradient norm to C (default: no clipping)", 0, 1e30),
		OD_OPT_NUM(0, "ema", &ema, "DECAY", "keep an exponential moving average of the weights (e.g. 0.999)", 0,
			   0.999999999),
		OD_OPT_GROUP("Checkpoints:"),
		OD_OPT_INT64(0, "save-every", &save_every, "K", "a checkpoint every K steps (and always at the end)", 1,
			     INT32_MAX),
		OD_OPT_INT(0, "keep", &keep, "N", "checkpoints to keep (default 1; 0 keeps all)", 0, 1000000),
		OD_OPT_INT64(0, "keep-every", &keep_every, "K",
			     "also write and keep the checkpoint of every K-th step (milestones, besides --keep)", 1,
			     INT32_MAX),
		OD_OPT_INT64(0, "until", &until, "STEP", "stop after STEP (a checkpoint; resume later)", 1, INT32_MAX),
		OD_OPT_STRING(0, "resume", &resume, "PATH", "continue the run in PATH (OUTDIR or a checkpoint folder)"),
		OD_OPT_GROUP("Samples:"),
		OD_OPT_INT64(0, "sample-every", &sample_every, "K",
			     "every K steps, generate --sample-prompts into OUTDIR/samples/", 1, INT32_MAX),
		OD_OPT_STRING(0, "sample-prompts", &prompts, "FILE", "a frame stream of jobs, or one prompt per line"),
		OD_OPT_INT(0, "sample-steps", &sample_steps, "N", "sampling steps (default " OD_STR(SAMPLE_STEPS) ")", 1,
			   1000),
		OD_OPT_NUM(0, "sample-guidance", &sample_guidance, "G",
			   with_default(h_guidance, sizeof h_guidance, "guidance scale (default %g)", SAMPLE_GUIDANCE), 0, 1e6),
		OD_OPT_CALLBACK(0, "sample-size", sample_size, "WxH",
				"text-to-image size (default: the model's input size times the VAE's scale factor)",
				size_cb),
		OD_OPT_INT64(0, "sample-seed", &sample_seed, "S", "seed of the samples' noise (default 0)", 0, INT64_MAX),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	unsigned given = optim_apply(&oa, &s);
	if (batch)
		s.batch = batch, given |= OD_TRAIN_GIVEN_BATCH;
	if (warmup >= 0)
		s.warmup = warmup, given |= OD_TRAIN_GIVEN_WARMUP;
	if (schedule >= 0)
		s.schedule = (enum od_lr_shape)schedule, given |= OD_TRAIN_GIVEN_SCHEDULE;
	if (!isnan(min_lr))
		s.min_lr = min_lr, given |= OD_TRAIN_GIVEN_MIN_LR;
	if (!isnan(clip))
		s.clip = clip, given |= OD_TRAIN_GIVEN_CLIP;
	if (!isnan(ema))
		s.ema = ema, given |= OD_TRAIN_GIVEN_EMA;
	if (!isnan(dropout))
		s.cfg_dropout = dropout, given |= OD_TRAIN_GIVEN_DROPOUT;
	if (!isnan(clean))
		s.clean_frames = clean, given |= OD_TRAIN_GIVEN_CLEAN;
	if (!isnan(clean_t))
		s.clean_t = clean_t, given |= OD_TRAIN_GIVEN_CLEAN_T;
	if (seed >= 0)
		s.seed = (uint64_t)seed, given |= OD_TRAIN_GIVEN_SEED;
	if (nocap)
		s.softcap = 0, given |= OD_TRAIN_GIVEN_SOFTCAP;
	if (config)
		given |= OD_TRAIN_GIVEN_CONFIG;
	if (empty)
		given |= OD_TRAIN_GIVEN_EMPTY;
	/* a resumed run has its own base model: only one given here is compared */
	if (common.given.model)
		given |= OD_TRAIN_GIVEN_BASE;
	const char *model = resume && !common.given.model ? NULL : common.model;
	char **data = argv + first;
	int n_data = argc - first;
	if (!resume) {
		if (!outdir)
			od_usage_error("give the output folder with -o OUTDIR");
		if (!steps)
			od_usage_error("give the number of steps with --steps N");
		if (!n_data)
			od_usage_error("give the training data: DATA.odf[:WEIGHT]...");
		if (!model && !config)
			od_usage_error("no model: give --model BASE (or set OD_MODEL) or --config CONFIG.json");
	}
	if (sample_every && !prompts)
		od_usage_error("--sample-every needs --sample-prompts FILE");
	if (prompts && !sample_every)
		od_usage_error("--sample-prompts needs --sample-every K");
	if (until && steps && until > steps)
		od_usage_error("--until %lld is past --steps %lld", (long long)until, (long long)steps);
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
	int rc = train_ctx_create(&ctx, OD_DEVICE_CPU, common.threads);
	if (rc)
		od_fail(rc);
	struct od_trainer tr;
	char *ckpt = NULL, *outdir_alloc = NULL;
	int created = 0;
	char *log_path = NULL;
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
			od_usage_error("--until %lld is past the run's %lld steps", (long long)until,
				       (long long)tr.steps);
	} else {
		char *latest = od_path_join(outdir, "latest");
		struct stat lst;
		if (latest && lstat(latest, &lst) == 0)
			od_die(OD_EINVAL, "'%s': a run is there already: continue it with --resume %s, or choose another "
			       "folder", outdir, outdir);
		free(latest);
		/* what this run creates goes again if it ends before its first
		 * checkpoint (on exit or on a signal: unsaved_add) */
		created = mkdir_p(outdir);
		if (!(log_path = od_path_join(outdir, "log.csv")))
			od_die(OD_ENOMEM, "out of memory");
		unsaved_add(created ? outdir : log_path);
		if ((rc = od_trainer_open(&tr, ctx, model, &s, steps, data, n_data, outdir)))
			od_fail(rc);
	}
	const int64_t total = tr.steps, stop = until ? until : total;

	/* samples */
	struct od_train_preview pv;
	int have_pv = 0;
	char *sdir = od_path_join(outdir, "samples");
	if (!sdir)
		od_die(OD_ENOMEM, "out of memory");
	if (sample_every) {
		/* the text-to-image size: the model's own (input_size times the VAE's
		 * factor, as od-denoise), or the one given, checked against the model */
		struct od_job_opts jo = { 0 };
		char *jobs = NULL;
		rc = OD_OK;
		if (tr.s.base && !(rc = od_job_opts_for_model(&jo, &tr.m.cfg, tr.s.base)) && sample_size[0]) {
			jo.width = sample_size[0];
			jo.height = sample_size[1];
			if (od_job_size_check(&jo))
				od_usage_error("--sample-size: %s", od_errmsg());
		}
		if (!rc) {
			if (mkdir_p(sdir) && !resume && !created)
				unsaved_add(sdir);
			if (!(jobs = od_path_join(sdir, "prompts.odf")))
				rc = od_error(OD_ENOMEM, "out of memory");
			else
				rc = od_train_preview_open(&pv, ctx, tr.s.base, prompts, jobs, sample_steps,
							   (float)sample_guidance, (uint64_t)sample_seed, jo.width, jo.height);
		}
		free(jobs);
		if (rc)
			od_fail(rc);
		have_pv = 1;
	}

	struct od_train_log log;
	double clock0 = 0;
	if (!log_path)
		log_path = od_path_join(outdir, "log.csv");
	if (!log_path || (rc = od_train_log_open(&log, log_path, tr.step, &clock0)))
		od_fail(log_path ? rc : OD_ENOMEM);
	struct train_progress pr = { .mode = common.progress, .tty = isatty(STDERR_FILENO), .start = od_now(),
				     .first = tr.step };
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
		if (((save_every && tr.step % save_every == 0) || (keep_every && tr.step % keep_every == 0)) &&
		    tr.step < stop) {
			if ((rc = od_trainer_save(&tr, outdir, keep, keep_every, name, sizeof name)))
				train_fail(&tr, &log, &pr, rc);
			unsaved_keep();
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
		if ((rc = od_trainer_save(&tr, outdir, keep, keep_every, name, sizeof name)))
			train_fail(&tr, &log, &pr, rc);
	}
	unsaved_keep();
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


static int cmd_init(int argc, char **argv, const struct od_command *cmd)
{
	struct od_common_opts common;
	const char *config = NULL, *out = NULL;
	int64_t seed = 0;
	const struct od_option opts[] = {
		OD_OPT_STRING(0, "config", &config, "FILE", "a transformer config.json"),
		OD_OPT_COMMON_SOME(&common, OD_COMMON_MODEL | OD_COMMON_THREADS),
		OD_OPT_INT64('s', "seed", &seed, "S", "the initialisation's seed (default 0)", 0, INT64_MAX),
		OD_OPT_STRING('o', "output", &out, "OUT", "the new folder (must not exist)"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (first != argc)
		od_usage_error("unexpected argument '%s'", argv[first]);
	if (!config || !out)
		od_usage_error("give --config CONFIG.json and -o OUT");
	/* the model's other components are linked; without one, only transformer/ */
	const char *model = common.model;
	if (model && !od_is_dir(model))
		od_die(OD_EMODEL, "'%s': no such model folder", model);
	char *dir, *name;
	new_folder(out, &dir, &name);
	struct od_ctx *ctx;
	int rc = train_ctx_create(&ctx, OD_DEVICE_CPU, common.threads);
	if (!rc)
		rc = od_train_init_model(ctx, config, model, (uint64_t)seed, dir, name);
	if (rc)
		od_fail(rc);
	free(dir);
	free(name);
	od_ctx_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------------ step */

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


static int cmd_step(int argc, char **argv, const struct od_command *cmd)
{
	struct od_train_settings s;
	od_train_settings_default(&s);
	struct od_common_opts common;
	struct optim_args oa;
	const char *out = NULL;
	int nocap = 0;
	const struct od_option opts[] = {
		OD_OPT_COMMON_SOME(&common, OD_COMMON_MODEL | OD_COMMON_THREADS),
		OPT_OPTIM(&oa),
		OD_OPT_BOOL(0, "no-softcap", &nocap, "self-attention without the soft-cap"),
		OD_OPT_STRING('o', "output", &out, "OUT", "the new folder (must not exist)"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	optim_apply(&oa, &s);
	s.softcap = !nocap;
	const char *model = od_common_model(&common);
	if (!out)
		od_usage_error("give the output folder with -o OUT");
	if (first == argc)
		od_usage_error("give one or more CASE.safetensors");
	char *dir, *name;
	new_folder(out, &dir, &name);
	struct od_ctx *ctx;
	int rc = train_ctx_create(&ctx, OD_DEVICE_CPU, common.threads);
	if (rc)
		od_fail(rc);
	struct od_nextdit m;
	if ((rc = od_nextdit_open(&m, ctx, model)))
		od_fail(rc);
	if (nocap)
		m.softcap = 0; /* else the library's default: the released soft-cap */
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
	for (int k = first; k < argc; k++) {
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
	int64_t at;
	int bad = first_nonfinite_tensor(p.data, p.numel, p.n, &at);
	if (bad >= 0)
		od_die(OD_EFAIL, "the weight '%s' is not finite after the steps (element %lld): nothing written",
		       p.names[bad], (long long)at);
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
	for (int k = first; st.data && k < argc; k++)
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

static int cmd_ema(int argc, char **argv, const struct od_command *cmd)
{
	const char *out = NULL, *dtype_name = "f32";
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out, "OUT", "the new folder (must not exist)"),
		OD_OPT_STRING(0, "dtype", &dtype_name, "T", "the weights' type in the file: f32 (the default), bf16 or f16"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (first != argc - 1 || !out)
		od_usage_error("give CHECKPOINT and -o OUT");
	enum od_dtype dtype;
	if (od_float_dtype_parse(dtype_name, &dtype))
		od_usage_error("--dtype: '%s' is not f32, bf16 or f16", dtype_name);
	const char *ckpt = argv[first];
	char *dir, *name;
	new_folder(out, &dir, &name);
	struct od_ctx *ctx;
	int rc = train_ctx_create(&ctx, OD_DEVICE_CPU, 1);
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
	if ((rc = od_train_state_read(state, &t, &st)) ||
	    (rc = od_read_file(cfg_path, (size_t)16 << 20, &cfg_text, &cfg_len)))
		od_fail(rc);
	if (!st.ema)
		od_die(OD_EFORMAT, "'%s': the run kept no EMA (train with --ema DECAY)", state);
	struct od_train_model mo = { .base = ckpt, .config = cfg_text, .config_len = cfg_len, .t = t, .data = st.ema,
				     .dtype = dtype };
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

static int cmd_vae(int argc, char **argv, const struct od_command *cmd)
{
	struct od_vae_run_settings s;
	od_vae_run_settings_default(&s);
	struct od_common_opts common;
	const char *config = NULL, *model = NULL, *outdir = NULL, *resume = NULL;
	/* settings a resumed run compares: unset (0, NAN, -1) until given */
	int size = 0, batch = 0;
	double lr = NAN, beta = NAN, min_lr = NAN;
	int64_t steps = -1, save_every = 0, seed = -1, warmup = -1, until = 0;
	int schedule = -1, decoder_only = 0;
	char h_batch[64], h_lr[64], h_beta[64];
	const struct od_option opts[] = {
		OD_OPT_STRING(0, "config", &config, "FILE",
			      "a fresh model of this vae/config.json (diffusers AutoencoderKL)"),
		/* not the tools' --model: a run starts from a model only when told to */
		OD_OPT_STRING('m', "model", &model, "BASE", "start from BASE/vae's weights instead ($OD_MODEL is not used)"),
		OD_OPT_STRING('o', "output", &outdir, "OUTDIR", "the run's folder"),
		OD_OPT_STRING(0, "resume", &resume, "OUTDIR", "continue the run in OUTDIR from its latest checkpoint"),
		OD_OPT_INT('S', "size", &size, "S", "crop side in pixels, a multiple of the VAE's factor", 8, 65536),
		OD_OPT_INT64('n', "steps", &steps, "N", "the run's length, counting earlier sessions' steps (a cosine ends at the first session's N)", 1,
			     (int64_t)1 << 40),
		OD_OPT_INT(0, "batch", &batch, "B",
			   with_default(h_batch, sizeof h_batch, "pictures per step (default %d)", s.batch), 1, 65536),
		OD_OPT_NUM(0, "lr", &lr, "LR",
			   with_default(h_lr, sizeof h_lr, "AdamW (peak) learning rate (default %g)", s.lr.lr), 0, 1e3),
		OD_OPT_INT64(0, "warmup", &warmup, "W", "linear warm-up over the first W steps (default 0)", 0, INT32_MAX),
		OD_OPT_CALLBACK(0, "schedule", &schedule, "S",
				"constant (the default) or cosine (down to --min-lr at step N)",
				schedule_cb),
		OD_OPT_NUM(0, "min-lr", &min_lr, "LR", "the cosine's floor (default 0)", 0, 1e3),
		OD_OPT_NUM(0, "beta", &beta, "B",
			   with_default(h_beta, sizeof h_beta, "weight of the KL term (default %g)", s.beta), 0, 1e6),
		OD_OPT_INT64('s', "seed", &seed, "N", "initialisation, crops and noise (default 0)", 0, (int64_t)1 << 53),
		OD_OPT_BOOL(0, "decoder-only", &decoder_only,
			    "train the decoder alone: the encoder, so the latents, stay as they are (with --model)"),
		OD_OPT_INT64(0, "save-every", &save_every, "K", "a checkpoint every K steps (default: only at the end)", 1,
			     (int64_t)1 << 40),
		OD_OPT_INT64(0, "until", &until, "STEP", "stop after STEP (a checkpoint; resume later)", 1,
			     (int64_t)1 << 40),
		OD_OPT_COMMON_SOME(&common, OD_COMMON_THREADS | OD_COMMON_PROGRESS),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	unsigned given = 0;
	if (size)
		s.size = size, given |= OD_VAE_GIVEN_SIZE;
	if (batch)
		s.batch = batch, given |= OD_VAE_GIVEN_BATCH;
	if (!isnan(lr))
		s.lr.lr = lr, given |= OD_VAE_GIVEN_LR;
	if (!isnan(beta))
		s.beta = beta, given |= OD_VAE_GIVEN_BETA;
	if (seed >= 0)
		s.seed = (uint64_t)seed, given |= OD_VAE_GIVEN_SEED;
	if (warmup >= 0)
		s.lr.warmup = warmup, given |= OD_VAE_GIVEN_WARMUP;
	if (schedule >= 0)
		s.lr.shape = (enum od_lr_shape)schedule, given |= OD_VAE_GIVEN_SCHEDULE;
	if (!isnan(min_lr))
		s.lr.min_lr = min_lr, given |= OD_VAE_GIVEN_MIN_LR;
	if (decoder_only)
		s.decoder_only = 1, given |= OD_VAE_GIVEN_DECODER_ONLY;
	/* a cosine's end is part of the run; a constant rate has none, so a run
	 * continued past its first --steps is the run made in one go */
	s.lr.total = s.lr.shape == OD_LR_COSINE ? steps : 0;
	char *const *inputs = argv + first;
	const int n_inputs = argc - first;
	if (steps < 0)
		od_usage_error("give the number of steps with --steps N");
	if (until > steps)
		od_usage_error("--until %lld is past --steps %lld", (long long)until, (long long)steps);
	if (resume) {
		if (config || model)
			od_usage_error("--resume continues a run: no --config or --model");
		if (outdir && strcmp(outdir, resume))
			od_usage_error("--resume writes into the run's own folder: no other -o");
		outdir = resume;
	} else {
		if (!config == !model)
			od_usage_error("give one of --config CONFIG.json or --model BASE");
		if (decoder_only && !model)
			od_usage_error("--decoder-only trains a model's decoder: give --model BASE");
		if (!outdir)
			od_usage_error("give the output folder with -o OUTDIR");
		if (!n_inputs)
			od_usage_error("give the pictures (files, folders or .txt lists)");
		if (!(given & OD_VAE_GIVEN_SIZE))
			od_usage_error("give the crop size with --size S");
	}
	struct od_ctx *ctx;
	int rc = train_ctx_create(&ctx, OD_DEVICE_CPU, common.threads);
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
		/* nothing of a run that ends before its first checkpoint stays */
		int created = mkdir_p(outdir);
		char *lp = od_path_join(outdir, "train.csv");
		if (!lp)
			od_die(OD_ENOMEM, "out of memory");
		unsaved_add(created ? outdir : lp);
		free(lp);
		rc = od_vae_run_open(&r, ctx, cfg, model, &s, inputs, n_inputs);
	}
	if (rc)
		od_fail(rc);
	/* the cosine ends where the run's first session said; a later session may
	 * stop sooner but not train past it */
	if (r.s.lr.shape == OD_LR_COSINE && steps > r.s.lr.total)
		od_die(OD_EINVAL, "'%s': --steps %lld is past the run's cosine, which ends at step %lld", outdir,
		       (long long)steps, (long long)r.s.lr.total);
	char *logpath = od_path_join(outdir, "train.csv");
	FILE *log;
	if (!logpath)
		od_die(OD_ENOMEM, "out of memory");
	if ((rc = od_vae_log_open(&log, logpath, r.step)))
		od_fail(rc);
	struct od_progress pr;
	od_progress_begin(&pr, common.progress, "vae");
	const int64_t step0 = r.step;
	int64_t saved = r.step > 0 ? r.step : -1;
	const int64_t stop = until ? until : steps;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (r.step < stop && !interrupted) {
		struct od_vae_step_info info;
		if ((rc = od_vae_run_step(&r, &info)) || (rc = od_vae_log_row(log, logpath, &info, od_lr_at(&r.s.lr, r.step))))
			break;
		od_progress_step(&pr, 0, (int)(r.step - step0), (int)(stop - step0));
		if (save_every && r.step % save_every == 0) {
			if ((rc = od_vae_run_save(&r, outdir)))
				break;
			unsaved_keep();
			saved = r.step;
		}
	}
	od_progress_end(&pr);
	if (!rc && saved != r.step)
		rc = od_vae_run_save(&r, outdir);
	if (!rc)
		unsaved_keep();
	if (fclose(log) != 0 && !rc)
		rc = od_error(OD_EIO, "'%s': cannot write: %s", logpath, strerror(errno));
	if (rc)
		od_fail(rc);
	if (interrupted)
		od_die(OD_EFAIL, "interrupted at step %lld; the checkpoint of that step is saved (continue with --resume %s)",
		       (long long)r.step, outdir);
	free(logpath);
	od_vae_run_close(&r);
	od_ctx_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------------ vae-scale */

static int cmd_vae_scale(int argc, char **argv, const struct od_command *cmd)
{
	struct od_common_opts common;
	const char *model = NULL;
	int size = 0, dry = 0;
	int64_t seed = 0;
	const struct od_option opts[] = {
		/* not the tools' --model: the folder is rewritten, so it is never taken from $OD_MODEL */
		OD_OPT_STRING('m', "model", &model, "MODEL",
			      "the model folder whose vae/config.json is rewritten (an od-train vae OUTDIR works); "
			      "$OD_MODEL is not used"),
		OD_OPT_INT('S', "size", &size, "S", "crop side (a multiple of the VAE's factor)", 8, 65536),
		OD_OPT_INT64('s', "seed", &seed, "N", "the posterior noise (default 0)", 0, (int64_t)1 << 53),
		OD_OPT_BOOL(0, "dry-run", &dry, "print the values, change nothing"),
		OD_OPT_COMMON_SOME(&common, OD_COMMON_THREADS),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (!model)
		od_usage_error("give the model with -m MODEL");
	if (!size)
		od_usage_error("give the crop size with --size S");
	if (first == argc)
		od_usage_error("give the pictures (files, folders or .txt lists)");
	struct od_ctx *ctx;
	int rc = train_ctx_create(&ctx, OD_DEVICE_CPU, common.threads);
	if (rc)
		od_fail(rc);
	struct od_vae v;
	struct od_vae_params p;
	if ((rc = od_vae_open(&v, ctx, model)))
		od_fail(rc);
	if ((rc = od_vae_params_init(&p, &v)))
		od_fail(rc);
	if (size % p.cfg.downscale)
		od_usage_error("--size %d is not a multiple of the VAE's factor %d", size, p.cfg.downscale);
	char *vdir = strdup(v.comp.dir);
	od_vae_close(&v);
	struct od_vae_pictures d;
	double mean, std;
	if ((rc = od_vae_pictures_load(&d, argv + first, argc - first, size)) ||
	    (rc = od_vae_latent_stats(ctx, &p, &d, size, (uint64_t)seed, &mean, &std)))
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

static const struct od_command commands[] = {
	{ "train", cmd_train, "train or fine-tune the NextDiT on frame streams of jobs",
	  "od-train train [OPTIONS] -o OUTDIR --steps N DATA.odf[:WEIGHT]...\n"
	  "od-train train --resume OUTDIR [--steps N] [OPTIONS]" },
	{ "init", cmd_init, "write a new model with random weights from a transformer config",
	  "od-train init --config CONFIG.json [--model BASE] [--seed S] -o OUT" },
	{ "ema", cmd_ema, "write a checkpoint's EMA weights as a model", "od-train ema [--dtype T] CHECKPOINT -o OUT" },
	{ "step", cmd_step, "AdamW steps on stored batches (checking the optimiser)",
	  "od-train step [OPTIONS] -o OUT CASE.safetensors[:PREFIX]..." },
	{ "grad", cmd_grad, "one batch's loss and its gradient with respect to every weight",
	  "od-train grad [OPTIONS] --case IN.safetensors -o GRADS.safetensors" },
	{ "vae", cmd_vae, "train a VAE (AutoencoderKL) on pictures",
	  "od-train vae (--config CONFIG.json | --model BASE) -o OUTDIR --size S\n"
	  "         --steps N [OPTIONS] PICTURES...\n"
	  "od-train vae --resume OUTDIR --steps N [OPTIONS] [PICTURES...]" },
	{ "vae-scale", cmd_vae_scale, "set a VAE's scaling_factor and shift_factor from its latents",
	  "od-train vae-scale -m MODEL --size S [--seed N] [--dry-run] PICTURES..." },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-train");
	return od_run_command(argc, argv, commands, &usage);
}
