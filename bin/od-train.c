/* od-train: training the NextDiT and the VAE (od-train(1)). Each sub-command is a function
 * of its own; main() only dispatches. */
#include "od.h"
#include "model/nextdit_case.h"
#include "model/nextdit_grad.h"
#include "train/vae_train.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
	printf("Usage: od-train COMMAND [OPTIONS]\n"
	       "Train OneDiffusion's NextDiT and its VAE. Commands:\n"
	       "  grad       the loss and its gradient with respect to every weight, for one batch\n"
	       "  vae        train a VAE (AutoencoderKL) on pictures\n"
	       "  vae-scale  set a VAE's scaling_factor and shift_factor from its latents\n"
	       "'od-train COMMAND --help' describes a command. See od-train(1).\n");
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
	enum od_device dev = od_opt_device(device);

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
		case O_PROGRESS: pm = od_opt_progress(optarg); break;
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
	{ "vae", cmd_vae },
	{ "vae-scale", cmd_vae_scale },
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-train");
	if (argc < 2)
		od_usage_error("give a command: grad, vae or vae-scale");
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
