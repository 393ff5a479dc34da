/* od-train: training the NextDiT (od-train(1)). Each sub-command is a function
 * of its own; main() only dispatches. */
#include "od.h"
#include "model/nextdit_case.h"
#include "model/nextdit_grad.h"
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: od-train COMMAND [OPTIONS]\n"
	       "Train OneDiffusion's NextDiT. Commands:\n"
	       "  grad     the loss and its gradient with respect to every weight, for one batch\n"
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

/* ------------------------------------------------------------------ dispatch */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "grad", cmd_grad },
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-train");
	if (argc < 2)
		od_usage_error("give a command: grad");
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
