/*
 * dit-step: one guided sampling step of the NextDiT on the CPU (one forward
 * with batch 2: the unconditional and the conditional rows), timed, for
 * bench/step.sh, which runs it beside the same forward in PyTorch
 * (bench/step_torch.py).
 *
 *   dit-step [--precision fp32|bf16] [--threads N] [--reps R] [--dump FILE] MODEL SIZE
 *
 * SIZE is the picture's side in pixels (256: 512 tokens, 512: 2048 tokens).
 * Inputs are synthetic and deterministic, as in tests/gpu/nextdit_step.c:
 * latents uniform in [-2, 2), t = 500, T5 states uniform in [-1, 1) with 40 of
 * 300 positions unmasked. Prints one line of key=value pairs: the median
 * seconds per step over R steps after one untimed step (which also pages the
 * weights in), GFLOP/s by the FLOP count below, the process's peak RSS, the
 * share of the thread pool's time its threads spent waiting for each other
 * over the timed steps (pool_idle_pct, od_parallel_usage), and the precision
 * and ISA level used. --dump writes the inputs and the output
 * to a safetensors file (emb, mask, x, t, out) for the PyTorch check.
 *
 * FLOPs per step (multiply-adds count 2), M = B·L token rows, D hidden, KV =
 * kv_heads·head_dim, FF the SwiGLU width, S = 300 text positions:
 *   depth · [2·M·(2·D² + 2·D·KV + 3·D·FF) + 4·B·L²·D + 4·B·L·S·D] + 2·M·(64·D + D·64)
 * (adaLN, timestep and text projections are per frame or per job: < 0.1%).
 */
#include "od.h"
#include "tool.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define S_TEXT 300

static uint64_t rng = 0x2545f4914f6cdd1dull;

static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int dump(const char *path, const struct od_nextdit_config *cf, int B, int h, const float *emb,
		const uint8_t *mask, const float *x, const float *t, const float *out)
{
	struct od_st_writer *w = od_st_writer_new();
	int64_t se[3] = { B, S_TEXT, cf->caption_channels }, sm[2] = { B, S_TEXT }, sx[5] = { B, 1, cf->in_channels, h, h },
		st[2] = { B, 1 };
	struct od_out o;
	int rc;
	if (!w)
		return od_error(OD_ENOMEM, "out of memory");
	if ((rc = od_st_writer_add(w, "emb", OD_F32, 3, se, emb)) || (rc = od_st_writer_add(w, "mask", OD_U8, 2, sm, mask)) ||
	    (rc = od_st_writer_add(w, "x", OD_F32, 5, sx, x)) || (rc = od_st_writer_add(w, "t", OD_F32, 2, st, t)) ||
	    (rc = od_st_writer_add(w, "out", OD_F32, 5, sx, out)) || (rc = od_out_open(&o, path)))
		goto done;
	if ((rc = od_st_writer_write(w, &o, NULL, NULL))) {
		od_out_abort(&o);
		goto done;
	}
	rc = od_out_commit(&o);
done:
	od_st_writer_free(w);
	return rc;
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "dit-step");
	static const struct option opts[] = { { "precision", required_argument, 0, 'p' },
					      { "threads", required_argument, 0, 'j' },
					      { "reps", required_argument, 0, 'r' },
					      { "dump", required_argument, 0, 'd' },
					      { 0 } };
	const char *prec = NULL, *dump_path = NULL;
	int threads = 0, reps = 3, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			prec = optarg;
		else if (c == 'j')
			threads = (int)od_opt_int("--threads", optarg, 1, 256);
		else if (c == 'r')
			reps = (int)od_opt_int("--reps", optarg, 1, 1000);
		else if (c == 'd')
			dump_path = optarg;
		else
			od_usage_error("usage: dit-step [--precision P] [--threads N] [--reps R] [--dump FILE] MODEL SIZE");
	}
	if (argc - optind != 2)
		od_usage_error("usage: dit-step [--precision P] [--threads N] [--reps R] [--dump FILE] MODEL SIZE");
	const char *model = argv[optind];
	const int size = (int)od_opt_int("SIZE", argv[optind + 1], 16, 4096), h = size / 8, B = 2;
	struct od_ctx *ctx;
	int rc = od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	if (rc)
		od_fail(rc);
	if (prec && od_precision_parse(prec, &ctx->precision))
		od_usage_error("--precision: '%s' is not fp32 or bf16", prec);
	struct od_nextdit m;
	if ((rc = od_nextdit_open(&m, ctx, model)))
		od_fail(rc);
	const struct od_nextdit_config *cf = &m.cfg;
	const size_t nx = (size_t)B * cf->in_channels * h * h, ne = (size_t)B * S_TEXT * cf->caption_channels;
	float *x = malloc(nx * sizeof *x), *out = malloc(nx * sizeof *out), *emb = malloc(ne * sizeof *emb);
	float t[2] = { 500.0f, 500.0f };
	uint8_t *mask = calloc((size_t)B * S_TEXT, 1);
	double *ts = malloc((size_t)reps * sizeof *ts);
	if (!x || !out || !emb || !mask || !ts)
		od_die(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < nx; i++)
		x[i] = 2 * frand();
	for (size_t i = 0; i < ne; i++)
		emb[i] = frand();
	for (int b = 0; b < B; b++)
		memset(mask + (size_t)b * S_TEXT, 1, 40);
	struct od_nextdit_text txt;
	double t0 = od_now();
	if ((rc = od_nextdit_text_prepare(&m, &txt, B, S_TEXT, emb, mask)) ||
	    (rc = od_nextdit_forward(&m, &txt, 1, h, h, x, t, out, NULL)))
		od_fail(rc);
	const double first = od_now() - t0;
	double wall0, busy0, wall1, busy1;
	od_parallel_usage(&wall0, &busy0);
	for (int i = 0; i < reps; i++) {
		double a = od_now();
		if ((rc = od_nextdit_forward(&m, &txt, 1, h, h, x, t, out, NULL)))
			od_fail(rc);
		ts[i] = od_now() - a;
	}
	od_parallel_usage(&wall1, &busy1);
	qsort(ts, (size_t)reps, sizeof *ts, cmp_double);
	const double L = (double)(h / cf->patch_h) * (h / cf->patch_w), M = B * L, D = cf->hidden,
		     KV = (double)cf->kv_heads * cf->head_dim, FF = cf->ffn_hidden;
	const double fl = cf->depth * (2 * M * (2 * D * D + 2 * D * KV + 3 * D * FF) + 4 * B * L * L * D +
				       4 * B * L * S_TEXT * D) +
			  2 * M * (cf->patch_dim * D + D * cf->patch_dim);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double mean = 0;
	for (size_t i = 0; i < nx; i++)
		mean += fabs(out[i]);
	printf("engine=od size=%d tokens=%.0f precision=%s isa=%s threads=%d seconds=%.4f min=%.4f max=%.4f reps=%d "
	       "gflops=%.1f first=%.2f peak_rss_mb=%ld pool_idle_pct=%.1f mean_abs_out=%.6f\n",
	       size, M, od_precision_name(ctx->precision), od_cpu_isa_name(od_cpu_isa()),
	       ctx->threads, ts[reps / 2], ts[0], ts[reps - 1], reps, fl / ts[reps / 2] / 1e9, first, ru.ru_maxrss / 1024,
	       wall1 > wall0 ? 100 * (1 - (busy1 - busy0) / (wall1 - wall0)) : 0.0, mean / (double)nx);
	if (dump_path && (rc = dump(dump_path, cf, B, h, emb, mask, x, t, out)))
		od_fail(rc);
	od_nextdit_text_free(&m, &txt);
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	free(x), free(out), free(emb), free(mask), free(ts);
	return 0;
}
