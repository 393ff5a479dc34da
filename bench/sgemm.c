/*
 * sgemm: the machine's float32 matrix-multiply throughput, the yardstick every
 * od benchmark reports against.
 *
 *   sgemm [--threads N] [--size M,N,K] [--reps R] [--raw]
 *
 * Times cblas_sgemm (row-major, B transposed, as od's linear layer calls it)
 * and prints one line: OpenBLAS kernel family, threads, shape, median and best
 * GFLOP/s over R repetitions. It starts like an od tool (bin/tool.c), so it
 * runs with the OpenBLAS kernels the tools would pick; --raw skips that and
 * keeps whatever OpenBLAS chose by itself (for before/after comparisons).
 */
#include "od.h"
#include "tool.h"

#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int raw = 0;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--raw"))
			raw = 1;
	if (!raw)
		od_tool_init(argc, argv, "sgemm");
	else
		od_prog = "sgemm";
	static const struct option opts[] = { { "threads", required_argument, 0, 't' }, { "size", required_argument, 0, 's' },
					      { "reps", required_argument, 0, 'r' }, { "raw", no_argument, 0, 'w' }, { 0 } };
	int threads = 0, reps = 7, c;
	long M = 2048, N = 3840, K = 3840;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			threads = (int)od_opt_int("--threads", optarg, 1, 256);
		else if (c == 's') {
			if (sscanf(optarg, "%ld,%ld,%ld", &M, &N, &K) != 3 || M <= 0 || N <= 0 || K <= 0)
				od_usage_error("--size: '%s' is not M,N,K", optarg);
		} else if (c == 'r')
			reps = (int)od_opt_int("--reps", optarg, 1, 1000);
		else if (c != 'w')
			od_usage_error("usage: sgemm [--threads N] [--size M,N,K] [--reps R] [--raw]");
	}
	od_set_threads(threads);
	/* od keeps OpenBLAS to one thread (its kernels tile the work themselves);
	 * the machine's peak is OpenBLAS on every thread. */
	openblas_set_num_threads(od_threads());
	float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(N * K)),
	      *y = malloc(sizeof(float) * (size_t)(M * N));
	if (!a || !b || !y)
		od_die(OD_ENOMEM, "out of memory");
	for (long i = 0; i < M * K; i++)
		a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
	for (long i = 0; i < N * K; i++)
		b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
	double *t = malloc(sizeof(double) * (size_t)reps);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1, a, (int)K, b, (int)K, 0, y,
		    (int)N); /* warm-up */
	for (int r = 0; r < reps; r++) {
		double t0 = od_now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1, a, (int)K, b, (int)K, 0,
			    y, (int)N);
		t[r] = od_now() - t0;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_double);
	double flop = 2.0 * (double)M * (double)N * (double)K;
	printf("sgemm core=%s threads=%d size=%ldx%ldx%ld median_gflops=%.1f best_gflops=%.1f median_s=%.4f\n",
	       od_blas_corename(), od_threads(), M, N, K, flop / t[reps / 2] / 1e9, flop / t[0] / 1e9, t[reps / 2]);
	free(a);
	free(b);
	free(y);
	free(t);
	return 0;
}
