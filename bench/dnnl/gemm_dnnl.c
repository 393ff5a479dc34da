/*
 * gemm_dnnl: od's BF16 linear (cpu_bf16.c) against oneDNN's BF16 matmul on
 * the NextDiT's linear shapes, interleaved in one process, so that the choice
 * of engine rests on a measurement (bench/gemm-bf16.sh builds and runs it; not
 * built by make: it needs Debian's libdnnl-dev).
 *
 *   gemm_dnnl [--threads N] [--reps R] [M...]
 *
 * For each M (default 512 and 2048: one guided step at 256² and 512²) and each
 * (N, K) of the transformer block (wq/wo, w1/w3, w2, wk/wv), R rounds of:
 *   od        od_linear at bf16 precision: float32 x, BF16 weights as stored;
 *             includes rounding and packing x
 *   dnnl-ba   oneDNN matmul, BF16 x (converted before timing), BF16 weights as
 *             stored ((N, K) row-major = "ba"), float32 output
 *   dnnl-any  the same with the weights in oneDNN's preferred layout,
 *             reordered once before timing (a packed copy of the model)
 * Prints per case the median seconds and GFLOP/s of each and the ratios, and
 * which oneDNN kernel ran. oneDNN threads: OMP_NUM_THREADS (set it to N).
 */
#include "od.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define CHECK(x)                                                                                                  \
	do {                                                                                                      \
		dnnl_status_t s_ = (x);                                                                           \
		if (s_ != dnnl_success) {                                                                         \
			fprintf(stderr, "gemm_dnnl: %s failed (%d)\n", #x, (int)s_);                              \
			exit(1);                                                                                  \
		}                                                                                                 \
	} while (0)

struct dn {
	dnnl_primitive_t prim;
	dnnl_memory_t src, wei, dst;
	const char *impl;
};

static void dn_make(struct dn *d, dnnl_engine_t eng, dnnl_stream_t st, long M, long N, long K, void *xb, void *wb,
		    float *y, int any)
{
	dnnl_memory_desc_t smd, wmd, wmd_user, dmd;
	dnnl_dims_t sd = { M, K }, wd = { K, N }, dd = { M, N };
	CHECK(dnnl_memory_desc_init_by_tag(&smd, 2, sd, dnnl_bf16, dnnl_ab));
	CHECK(dnnl_memory_desc_init_by_tag(&wmd_user, 2, wd, dnnl_bf16, dnnl_ba));
	if (any)
		CHECK(dnnl_memory_desc_init_by_tag(&wmd, 2, wd, dnnl_bf16, dnnl_format_tag_any));
	else
		wmd = wmd_user;
	CHECK(dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dnnl_f32, dnnl_ab));
	dnnl_matmul_desc_t md;
	CHECK(dnnl_matmul_desc_init(&md, &smd, &wmd, NULL, &dmd));
	dnnl_primitive_desc_t pd;
	CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
	CHECK(dnnl_primitive_create(&d->prim, pd));
	const char *impl = NULL;
	dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
	d->impl = strdup(impl ? impl : "?");
	const dnnl_memory_desc_t *w_pref = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	CHECK(dnnl_memory_create(&d->src, &smd, eng, xb));
	CHECK(dnnl_memory_create(&d->dst, &dmd, eng, y));
	dnnl_memory_t wu;
	CHECK(dnnl_memory_create(&wu, &wmd_user, eng, wb));
	if (any) { /* reorder once into the preferred layout */
		CHECK(dnnl_memory_create(&d->wei, w_pref, eng, DNNL_MEMORY_ALLOCATE));
		dnnl_primitive_desc_t rpd;
		CHECK(dnnl_reorder_primitive_desc_create(&rpd, &wmd_user, eng, w_pref, eng, NULL));
		dnnl_primitive_t r;
		CHECK(dnnl_primitive_create(&r, rpd));
		dnnl_exec_arg_t ra[2] = { { DNNL_ARG_FROM, wu }, { DNNL_ARG_TO, d->wei } };
		CHECK(dnnl_primitive_execute(r, st, 2, ra));
		CHECK(dnnl_stream_wait(st));
		dnnl_primitive_destroy(r);
		dnnl_primitive_desc_destroy(rpd);
		dnnl_memory_destroy(wu);
	} else {
		d->wei = wu;
	}
	dnnl_primitive_desc_destroy(pd);
}

static void dn_run(struct dn *d, dnnl_stream_t st)
{
	dnnl_exec_arg_t a[3] = { { DNNL_ARG_SRC, d->src }, { DNNL_ARG_WEIGHTS, d->wei }, { DNNL_ARG_DST, d->dst } };
	CHECK(dnnl_primitive_execute(d->prim, st, 3, a));
	CHECK(dnnl_stream_wait(st));
}

static void dn_free(struct dn *d)
{
	dnnl_primitive_destroy(d->prim);
	dnnl_memory_destroy(d->src);
	dnnl_memory_destroy(d->wei);
	dnnl_memory_destroy(d->dst);
	free((void *)d->impl);
}

int main(int argc, char **argv)
{
	int threads = 0, reps = 5;
	long Ms[8];
	int nM = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (nM < 8)
			Ms[nM++] = atol(argv[i]);
	}
	if (!nM) {
		Ms[0] = 512;
		Ms[1] = 2048;
		nM = 2;
	}
	struct od_ctx *ctx;
	if (od_ctx_create(&ctx, OD_DEVICE_CPU, threads)) {
		fprintf(stderr, "gemm_dnnl: %s\n", od_errmsg());
		return 1;
	}
	ctx->precision = OD_PRECISION_BF16;
	printf("# od ISA %s, %d threads; oneDNN %d.%d.%d\n", od_cpu_isa_name(od_cpu_isa()), ctx->threads,
	       DNNL_VERSION_MAJOR, DNNL_VERSION_MINOR, DNNL_VERSION_PATCH);
	dnnl_engine_t eng;
	dnnl_stream_t st;
	CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
	CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
	static const struct { long N, K; const char *what; } lin[] = {
		{ 3840, 3840, "wq/wo" }, { 10240, 3840, "w1/w3" }, { 3840, 10240, "w2" }, { 960, 3840, "wk/wv" },
	};
	double *t = malloc(sizeof(double) * 3 * (size_t)reps);
	for (int mi = 0; mi < nM; mi++)
		for (size_t li = 0; li < sizeof lin / sizeof *lin; li++) {
			const long M = Ms[mi], N = lin[li].N, K = lin[li].K;
			float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
			float *y0 = malloc(sizeof(float) * M * N), *y1 = malloc(sizeof(float) * M * N),
			      *y2 = malloc(sizeof(float) * M * N);
			for (long i = 0; i < M * K; i++)
				x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
			for (long i = 0; i < N * K; i++)
				w[i] = 0.02f * ((float)((i * 40503u) % 2001) / 1000.0f - 1.0f);
			uint16_t *xb = malloc(2 * M * K), *wb = malloc(2 * N * K);
			od_from_f32(xb, x, OD_BF16, (size_t)(M * K));
			od_from_f32(wb, w, OD_BF16, (size_t)(N * K));
			struct od_tensor tw = { .name = "w", .dtype = OD_BF16, .ndim = 2, .shape = { N, K }, .data = wb,
						.nbytes = (size_t)(2 * N * K) };
			struct dn d1, d2;
			dn_make(&d1, eng, st, M, N, K, xb, wb, y1, 0);
			dn_make(&d2, eng, st, M, N, K, xb, wb, y2, 1);
			/* warm-up, and agreement: both round x and W to BF16 and accumulate in float32 */
			od_linear(ctx, y0, x, M, &tw, NULL);
			dn_run(&d1, st);
			dn_run(&d2, st);
			double md = 0, mx = 0;
			for (long i = 0; i < M * N; i++) {
				double e = y0[i] - y1[i];
				md = e < 0 ? (-e > md ? -e : md) : (e > md ? e : md);
				mx = y1[i] > mx ? y1[i] : -y1[i] > mx ? -y1[i] : mx;
			}
			for (int r = 0; r < reps; r++) {
				double t0 = now();
				od_linear(ctx, y0, x, M, &tw, NULL);
				double t1 = now();
				dn_run(&d1, st);
				double t2 = now();
				dn_run(&d2, st);
				double t3 = now();
				t[r] = t1 - t0, t[reps + r] = t2 - t1, t[2 * reps + r] = t3 - t2;
			}
			for (int k = 0; k < 3; k++)
				qsort(t + k * reps, (size_t)reps, sizeof *t, cmpd);
			const double f = 2.0 * M * N * K, a = t[reps / 2], b = t[reps + reps / 2], c = t[2 * reps + reps / 2];
			printf("%-5s M=%-5ld N=%-5ld K=%-5ld od %.4fs %6.0f GF/s | dnnl-ba %.4fs %6.0f GF/s | dnnl-any %.4fs "
			       "%6.0f GF/s | od/dnnl-ba time %.2f, od/dnnl-any %.2f | max|od-dnnl| %.2g of max|y| %.2g | %s\n",
			       lin[li].what, M, N, K, a, f / a / 1e9, b, f / b / 1e9, c, f / c / 1e9, a / b, a / c, md, mx,
			       d1.impl);
			fflush(stdout);
			dn_free(&d1);
			dn_free(&d2);
			free(x), free(w), free(y0), free(y1), free(y2), free(xb), free(wb);
		}
	dnnl_stream_destroy(st);
	dnnl_engine_destroy(eng);
	od_ctx_destroy(ctx);
	free(t);
	return 0;
}
