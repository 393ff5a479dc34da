/*
 * kernels: throughput of the CPU kernels on the full-size model's shapes, as
 * a fraction of the machine's sgemm peak.
 *
 *   kernels [--threads N] [--reps R] [--tokens M]
 *
 * Prints the precision ($OD_PRECISION, else the CPU's default) and ISA level
 * ($OD_CPU_ISA lowers it), then one line per case: the kernel, its shape,
 * median seconds and GFLOP/s.
 * Cases: the NextDiT linear layers at 512² (M = 2048 tokens, CFG batch 2) with
 * F32 and BF16 weights, and self-attention over 1024 and 8192 tokens.
 */
#include "od.h"
#include "tool.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static float *fill(size_t n, float s)
{
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = s * (float)((long)((i * 2654435761u) % 2001) - 1000) / 1000.0f; /* in [-s, s] */
	return p;
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "kernels");
	static const struct option opts[] = { { "threads", required_argument, 0, 't' }, { "reps", required_argument, 0, 'r' },
					      { "tokens", required_argument, 0, 'm' }, { 0 } };
	int threads = 0, reps = 3, c;
	long M = 2048;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			threads = (int)od_opt_int("--threads", optarg, 1, 256);
		else if (c == 'r')
			reps = (int)od_opt_int("--reps", optarg, 1, 100);
		else if (c == 'm')
			M = (long)od_opt_int("--tokens", optarg, 1, 1 << 20);
		else
			od_usage_error("usage: kernels [--threads N] [--reps R] [--tokens M]");
	}
	struct od_ctx *ctx;
	if (od_ctx_create(&ctx, OD_DEVICE_CPU, threads))
		od_fail(OD_EFAIL);
	double *t = malloc(sizeof(double) * (size_t)reps);
	printf("precision=%s isa=%s threads=%d tokens=%ld\n", od_precision_name(ctx->precision),
	       od_cpu_isa_name(od_cpu_isa()), ctx->threads, M);
	struct { long N, K; const char *what; } lin[] = {
		{ 3840, 3840, "wq/wo" }, { 10240, 3840, "w1/w3" }, { 3840, 10240, "w2" }, { 960, 3840, "wk/wv" },
	};
	for (int dt = 0; dt < 2; dt++)
		for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) {
			long N = lin[i].N, K = lin[i].K;
			float *x = fill((size_t)(M * K), 1), *w = fill((size_t)(N * K), 0.02f), *y = malloc(sizeof(float) * M * N);
			struct od_tensor tw = { .name = "w", .dtype = dt ? OD_BF16 : OD_F32, .ndim = 2, .shape = { N, K } };
			void *wd = malloc((size_t)(N * K) * od_dtype_size(tw.dtype));
			od_from_f32(wd, w, tw.dtype, (size_t)(N * K));
			tw.data = wd;
			tw.nbytes = (size_t)(N * K) * od_dtype_size(tw.dtype);
			od_linear(ctx, y, x, M, &tw, NULL);
			for (int r = 0; r < reps; r++) {
				double t0 = od_now();
				od_linear(ctx, y, x, M, &tw, NULL);
				t[r] = od_now() - t0;
			}
			qsort(t, (size_t)reps, sizeof *t, cmp_double);
			printf("linear %-5s %-5s M=%ld N=%ld K=%ld median_s=%.4f gflops=%.1f\n", lin[i].what,
			       od_dtype_name(tw.dtype), M, N, K, t[reps / 2], 2.0 * M * N * K / t[reps / 2] / 1e9);
			free(x), free(w), free(y), free(wd);
		}
	long Ls[2] = { 1024, 8192 };
	for (int i = 0; i < 2; i++) {
		long L = Ls[i];
		int H = 32, D = 120, B = 2;
		if (L == 8192)
			B = 1;
		float *q = fill((size_t)(B * L * H * D), 1), *k = fill((size_t)(B * L * 8 * D), 1), *o = malloc(sizeof(float) * B * L * H * D);
		struct od_attention_desc d = { .batch = B, .q_len = (int)L, .kv_len = (int)L, .q_heads = H, .kv_heads = 8,
					       .head_dim = D, .q_stride = H * D, .kv_stride = 8 * D, .o_stride = H * D,
					       .kv_map = OD_KV_GROUPED, .scale = 1 / sqrtf((float)D), .softcap = 30 };
		int rr = L == 8192 ? 1 : reps;
		for (int r = 0; r < rr; r++) {
			double t0 = od_now();
			od_attention(ctx, o, q, k, k, &d);
			t[r] = od_now() - t0;
		}
		qsort(t, (size_t)rr, sizeof *t, cmp_double);
		double flop = 4.0 * B * H * (double)L * L * D;
		printf("attention B=%d L=%ld heads=%d/8 d=%d softcap median_s=%.4f gflops=%.1f\n", B, L, H, D, t[rr / 2],
		       flop / t[rr / 2] / 1e9);
		free(q), free(k), free(o);
	}
	od_ctx_destroy(ctx);
	free(t);
	return 0;
}
