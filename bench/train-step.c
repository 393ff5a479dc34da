/*
 * train-step: time training steps (forward + backward, od_nextdit_loss_grad)
 * of a NextDiT on random inputs, for bench/train.sh.
 *
 *   train-step --model DIR [--batch B] [--frames F] [--latent HxW] [--text S]
 *              [--steps N] [--recompute] [--threads T]
 *
 * The weights are drawn with od_nextdit_params_init_random and then perturbed
 * (so that no path is zero: the timing does not depend on it, but the loss is
 * not trivial). Prints one line of key=value: the median seconds of steps 2..N
 * (step 1 also pages in and allocates), the first step's, the loss, the peak
 * RSS of the process (MB) and the largest od_alloc total (MB).
 */
#include "od.h"
#include "model/nextdit_grad.h"
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static float urand(uint64_t *r)
{
	*r = *r * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(*r >> 11) * 0x1p-53 * 2 - 1);
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "train-step");
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' },	 { "batch", required_argument, 0, 'b' },
		{ "frames", required_argument, 0, 'f' }, { "latent", required_argument, 0, 'l' },
		{ "text", required_argument, 0, 's' },	 { "steps", required_argument, 0, 'n' },
		{ "recompute", no_argument, 0, 'r' },	 { "threads", required_argument, 0, 'j' },
		{ 0 }
	};
	const char *model = NULL;
	int B = 1, F = 1, h = 16, w = 16, S = 32, steps = 3, recompute = 0, threads = 0, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'b': B = (int)od_opt_int("--batch", optarg, 1, 4096); break;
		case 'f': F = (int)od_opt_int("--frames", optarg, 1, 128); break;
		case 'l': od_opt_size("--latent", optarg, &w, &h); break;
		case 's': S = (int)od_opt_int("--text", optarg, 1, 4096); break;
		case 'n': steps = (int)od_opt_int("--steps", optarg, 1, 1000); break;
		case 'r': recompute = 1; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		default: od_usage_error("unknown option");
		}
	}
	if (!model)
		od_usage_error("give --model DIR");
	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	if (rc)
		od_fail(rc);
	struct od_nextdit m;
	if ((rc = od_nextdit_open(&m, ctx, model)))
		od_fail(rc);
	struct od_nextdit_params p;
	if ((rc = od_nextdit_params_init(&p, &m)) || (rc = od_nextdit_params_init_random(&p, 1)))
		od_fail(rc);
	uint64_t r = 7;
	for (int i = 0; i < p.n; i++)
		for (int64_t k = 0; k < p.numel[i]; k++)
			p.data[i][k] += 0.02f * urand(&r);
	const int C = m.cfg.in_channels, Dc = m.cfg.caption_channels;
	const size_t nx = (size_t)B * F * C * h * w;
	float *x = malloc(nx * sizeof *x), *tg = malloc(nx * sizeof *tg), *t = malloc(sizeof(float) * B * F),
	      *text = malloc(sizeof(float) * B * S * Dc);
	uint8_t *mask = malloc((size_t)B * S);
	float **g = calloc((size_t)p.n, sizeof *g);
	double *times = malloc(sizeof(double) * steps);
	if (!x || !tg || !t || !text || !mask || !g || !times)
		od_die(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < nx; i++)
		x[i] = urand(&r), tg[i] = urand(&r);
	for (int i = 0; i < B * F; i++)
		t[i] = 500 + 490 * urand(&r);
	for (size_t i = 0; i < (size_t)B * S * Dc; i++)
		text[i] = urand(&r);
	for (int i = 0; i < B * S; i++)
		mask[i] = i % S < S - (i / S) % S / 2;
	for (int i = 0; i < p.n; i++)
		if (!(g[i] = calloc((size_t)p.numel[i], sizeof **g)))
			od_die(OD_ENOMEM, "out of memory");
	struct od_nextdit_batch b = { B, F, h, w, S, x, t, tg, text, mask };
	struct od_nextdit_grad_opts go = { .recompute = recompute };
	float loss = 0;
	for (int s = 0; s < steps; s++) {
		double t0 = od_now();
		if ((rc = od_nextdit_loss_grad_ex(&m, &b, &go, &loss, g, NULL)))
			od_fail(rc);
		times[s] = od_now() - t0;
	}
	double first = times[0], med = first;
	if (steps > 1) {
		qsort(times + 1, (size_t)steps - 1, sizeof *times, cmp_double);
		med = times[1 + (steps - 1) / 2];
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("step_s=%.4f first_s=%.4f loss=%.6f peak_rss_mb=%ld alloc_peak_mb=%zu tokens=%d threads=%d\n", med, first,
	       loss, ru.ru_maxrss / 1024, ctx->bytes_peak >> 20, B * F * (h / m.cfg.patch_h) * (w / m.cfg.patch_w),
	       od_threads());
	for (int i = 0; i < p.n; i++)
		free(g[i]);
	free(g), free(x), free(tg), free(t), free(text), free(mask), free(times);
	od_nextdit_params_free(&p, &m);
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	return 0;
}
