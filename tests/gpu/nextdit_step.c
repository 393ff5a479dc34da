/*
 * nextdit_step: the NextDiT forward on the GPU (lib/model/nextdit.h over the CUDA
 * kernel table), for tests/gpu/run. Not built by make: tests/gpu/run compiles
 * it against the build's libod.a.
 *
 *   nextdit_step bench MODEL B F h w [REPEAT]
 *       time REPEAT (default 5) forwards of B batch entries of F frames of h × w
 *       latents (one sampling step with guidance is one forward with B = 2:
 *       unconditional and conditional rows), after one warm-up forward that
 *       uploads the weights; print the median seconds per step, TFLOP/s and the
 *       GPU memory high-water mark.
 *   nextdit_step attn B L HEADS KV_HEADS HEAD_DIM
 *       time od_attention alone (self-attention with soft-cap 30, GQA grouped)
 *       with each variant of the fused kernel (OD_CUDA_ATTN=1|2|3): 4·B·L²·H·hd
 *       FLOPs per call.
 *   nextdit_step check MODEL B F h w
 *       the same random inputs through the CPU and the CUDA forward; print the
 *       largest difference relative to the largest CPU output and fail above
 *       3e-2 (BF16 weights and activations against float32).
 *
 * Inputs are synthetic and deterministic: latents uniform in [-2, 2), t = 500
 * (condition frames of a multiview job would have other t; it changes no
 * cost), T5 states uniform in [-1, 1) with 40 of 300 positions unmasked.
 *
 * FLOPs per forward (multiply-adds count 2), M = B·L tokens, L = F·h·w/4,
 * D hidden, KV = kv_heads·head_dim, FF the SwiGLU width, S = 300 text tokens:
 *   depth · [ 2·M·(2·D² + 2·D·KV + 3·D·FF)      q, k, v, o and w1, w3, w2
 *           + 4·B·L²·D                         self-attention, q·kᵀ and p·v
 *           + 4·B·L·S·D ]                      cross-attention
 *   + 2·M·(64·D + D·64)                         x_embedder, final linear
 * (adaLN, timestep and text projections are per frame or per job: < 0.1%).
 */
#include "compute/backend.h"
#include "base/error.h"
#include "model/nextdit.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_TEXT 300

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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
	return x < y ? -1 : x > y;
}

struct inputs {
	int B, F, h, w;
	float *x, *t, *emb, *out;
	uint8_t *mask;
	size_t nx;
};

static void make_inputs(struct inputs *in, const struct od_nextdit_config *cf)
{
	in->nx = (size_t)in->B * in->F * cf->in_channels * in->h * in->w;
	in->x = malloc(in->nx * sizeof *in->x);
	in->out = malloc(in->nx * sizeof *in->out);
	in->t = malloc((size_t)in->B * in->F * sizeof *in->t);
	in->emb = malloc((size_t)in->B * S_TEXT * cf->caption_channels * sizeof *in->emb);
	in->mask = calloc((size_t)in->B * S_TEXT, 1);
	for (size_t i = 0; i < in->nx; i++)
		in->x[i] = 2 * frand();
	for (int i = 0; i < in->B * in->F; i++)
		in->t[i] = 500.0f;
	for (size_t i = 0; i < (size_t)in->B * S_TEXT * cf->caption_channels; i++)
		in->emb[i] = frand();
	for (int b = 0; b < in->B; b++)
		memset(in->mask + (size_t)b * S_TEXT, 1, 40);
}

static void free_inputs(struct inputs *in)
{
	free(in->x);
	free(in->out);
	free(in->t);
	free(in->emb);
	free(in->mask);
}

static double flops(const struct od_nextdit_config *cf, int B, int F, int h, int w)
{
	const double L = (double)F * (h / cf->patch_h) * (w / cf->patch_w), M = B * L, D = cf->hidden,
		     KV = (double)cf->kv_heads * cf->head_dim, FF = cf->ffn_hidden;
	return cf->depth * (2 * M * (2 * D * D + 2 * D * KV + 3 * D * FF) + 4 * B * L * L * D + 4 * B * L * S_TEXT * D) +
	       2 * M * (cf->patch_dim * D + D * cf->patch_dim);
}

static int die(const char *what)
{
	fprintf(stderr, "nextdit_step: %s: %s\n", what, od_errmsg());
	return 1;
}

static int bench(const char *model, int B, int F, int h, int w, int repeat)
{
	struct od_ctx *ctx;
	if (od_ctx_create(&ctx, OD_DEVICE_CUDA, 0))
		return die("cuda");
	struct od_nextdit m;
	double t0 = now();
	if (od_nextdit_open(&m, ctx, model))
		return die(model);
	struct inputs in = { .B = B, .F = F, .h = h, .w = w };
	make_inputs(&in, &m.cfg);
	struct od_nextdit_text txt;
	if (od_nextdit_text_prepare(&m, &txt, B, S_TEXT, in.emb, in.mask))
		return die("text");
	if (od_nextdit_forward(&m, &txt, F, h, w, in.x, in.t, in.out, NULL))
		return die("forward");
	const double first = now() - t0;
	double *ts = malloc((size_t)repeat * sizeof *ts);
	for (int i = 0; i < repeat; i++) {
		double a = now();
		if (od_nextdit_forward(&m, &txt, F, h, w, in.x, in.t, in.out, NULL))
			return die("forward");
		ts[i] = now() - a;
	}
	qsort(ts, (size_t)repeat, sizeof *ts, cmp_double);
	const double med = ts[repeat / 2], fl = flops(&m.cfg, B, F, h, w);
	double sum = 0;
	for (size_t i = 0; i < in.nx; i++)
		sum += fabs(in.out[i]);
	size_t mem[4] = { 0, 0, 0, 0 };
	int (*memfn)(struct od_ctx *, size_t *) = ctx->plugin ? (int (*)(struct od_ctx *, size_t *))dlsym(ctx->plugin, "od_cuda_memory") : NULL;
	if (memfn)
		memfn(ctx, mem);
	const int L = F * (h / m.cfg.patch_h) * (w / m.cfg.patch_w);
	printf("step B=%d F=%d latent %dx%d (L=%d tokens, M=%d rows): %.4f s median of %d (min %.4f, max %.4f), "
	       "%.1f TFLOP/s (%.2f TFLOP per step); open + text + first step %.2f s; mean|v| %.4f\n",
	       B, F, h, w, L, B * L, med, repeat, ts[0], ts[repeat - 1], fl / med * 1e-12, fl * 1e-12, first,
	       sum / (double)in.nx);
	printf("memory: peak %.2f GiB counted by od (weights %.2f GiB, activations + scratch %.2f GiB), "
	       "held from cudaMalloc at most %.2f GiB\n",
	       ctx->bytes_peak / 1073741824.0, mem[0] / 1073741824.0, (ctx->bytes_peak - mem[0]) / 1073741824.0,
	       mem[3] / 1073741824.0);
	free(ts);
	od_nextdit_text_free(&m, &txt);
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	free_inputs(&in);
	return 0;
}

static int forward_on(enum od_device dev, const char *model, struct inputs *in, float *out)
{
	struct od_ctx *ctx;
	if (od_ctx_create(&ctx, dev, 0))
		return die(od_device_name(dev));
	struct od_nextdit m;
	if (od_nextdit_open(&m, ctx, model))
		return die(model);
	if (!in->x)
		make_inputs(in, &m.cfg);
	struct od_nextdit_text txt;
	if (od_nextdit_text_prepare(&m, &txt, in->B, S_TEXT, in->emb, in->mask) ||
	    od_nextdit_forward(&m, &txt, in->F, in->h, in->w, in->x, in->t, out ? out : in->out, NULL))
		return die("forward");
	od_nextdit_text_free(&m, &txt);
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	return 0;
}

static int check(const char *model, int B, int F, int h, int w)
{
	struct inputs in = { .B = B, .F = F, .h = h, .w = w };
	if (forward_on(OD_DEVICE_CPU, model, &in, NULL))
		return 1;
	float *g = malloc(in.nx * sizeof *g);
	if (forward_on(OD_DEVICE_CUDA, model, &in, g))
		return 1;
	double md = 0, mx = 0, ss = 0, se = 0;
	size_t worst = 0;
	for (size_t i = 0; i < in.nx; i++) {
		double d = fabs((double)g[i] - in.out[i]);
		if (d > md || isnan(d))
			md = d, worst = i;
		if (fabs(in.out[i]) > mx)
			mx = fabs(in.out[i]);
		ss += d * d;
		se += (double)in.out[i] * in.out[i];
	}
	const double rel = md / (mx > 0 ? mx : 1), rms = sqrt(ss / (se > 0 ? se : 1));
	const int pass = rel <= 3e-2;
	printf("%s forward B=%d F=%d %dx%d, cuda vs cpu: max |diff| %.4g (element %zu: gpu %.6g cpu %.6g), "
	       "max |cpu| %.4g, max diff / max |cpu| %.3g (limit 3e-2), rms diff / rms %.3g\n",
	       pass ? "ok" : "FAIL", B, F, h, w, md, worst, g[worst], in.out[worst], mx, rel, rms);
	free(g);
	free_inputs(&in);
	return !pass;
}

static int attn_bench(int B, int L, int H, int KVH, int hd)
{
	struct od_ctx *ctx;
	if (od_ctx_create(&ctx, OD_DEVICE_CUDA, 0))
		return die("cuda");
	const size_t nq = (size_t)B * L * H * hd, nk = (size_t)B * L * KVH * hd;
	float *h = malloc(nq * sizeof *h);
	for (size_t i = 0; i < nq; i++)
		h[i] = frand();
	float *q = od_alloc(ctx, nq), *k = od_alloc(ctx, nk), *v = od_alloc(ctx, nk), *o = od_alloc(ctx, nq);
	if (!q || !k || !v || !o || od_upload(ctx, q, h, nq * 4) || od_upload(ctx, k, h, nk * 4) ||
	    od_upload(ctx, v, h + 1, (nk - 1) * 4))
		return die("attention buffers");
	struct od_attention_desc d = { .batch = B, .q_len = L, .kv_len = L, .q_heads = H, .kv_heads = KVH,
				       .head_dim = hd, .q_stride = H * hd, .kv_stride = KVH * hd, .o_stride = H * hd,
				       .kv_map = OD_KV_GROUPED, .scale = 1.0f / sqrtf((float)hd), .softcap = 30 };
	const double fl = 4.0 * B * (double)L * L * H * hd;
	const char *names[4] = { "default", "1", "2", "3" };
	printf("attention B=%d L=%d heads %d/%d head_dim %d, soft-cap 30 (%.2f TFLOP per call):", B, L, H, KVH, hd,
	       fl * 1e-12);
	for (int var = 0; var < 4; var++) {
		if (var)
			setenv("OD_CUDA_ATTN", names[var], 1);
		double best = 1e30;
		for (int i = 0; i < 4; i++) {
			double a = now();
			if (od_attention(ctx, o, q, k, v, &d) || od_sync(ctx))
				return die("attention");
			double t = now() - a;
			if (i && t < best) /* the first call is a warm-up */
				best = t;
		}
		unsetenv("OD_CUDA_ATTN");
		printf(" %s %.2f ms %.0f TFLOP/s;", names[var], best * 1e3, fl / best * 1e-12);
	}
	printf("\n");
	od_free(ctx, q);
	od_free(ctx, k);
	od_free(ctx, v);
	od_free(ctx, o);
	free(h);
	od_ctx_destroy(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "attn"))
		return attn_bench(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if (argc < 7 || (strcmp(argv[1], "bench") && strcmp(argv[1], "check"))) {
		fprintf(stderr, "usage: nextdit_step bench|check MODEL B F h w [REPEAT]\n"
				"       nextdit_step attn B L HEADS KV_HEADS HEAD_DIM\n");
		return 2;
	}
	int B = atoi(argv[3]), F = atoi(argv[4]), h = atoi(argv[5]), w = atoi(argv[6]);
	if (!strcmp(argv[1], "check"))
		return check(argv[2], B, F, h, w);
	int repeat = argc > 7 ? atoi(argv[7]) : 5;
	return bench(argv[2], B, F, h, w, repeat < 1 ? 1 : repeat);
}
