/*
 * test_bf16.c: the BF16 precision's kernels (linear, attention, conv2d) at
 * every ISA level this CPU has (AMX, AVX512-BF16; a level the CPU lacks is
 * skipped with its reason), each checked two ways:
 *   - exactly what it claims to compute: against a double-precision product of
 *     the operands rounded to BF16 (tight: only float32 accumulation error);
 *   - against the float32 computation, within stated BF16 tolerances;
 * then the packing helpers against their layout formula, the thread-count
 * determinism of every BF16 kernel, the ISA/precision parsers, and the
 * fallback: at the AVX2 level BF16 precision gives the FP32 bytes.
 */
#include "od.h"
#include "compute/cpu/cpu_kernels.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 777;
static float frand(void)
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rs >> 11) * 0x1p-53 * 2.0 - 1.0);
}
static float *rnd(size_t n, float scale)
{
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand() * scale;
	return p;
}
static float bf(float x)
{
	return od_bf16_to_f32(od_f32_to_bf16(x));
}
static struct od_tensor tensor(const char *name, enum od_dtype dt, int ndim, const int64_t *shape, const float *src)
{
	struct od_tensor t = { .name = name, .dtype = dt, .ndim = ndim };
	size_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= (size_t)(t.shape[i] = shape[i]);
	void *d = malloc(n * od_dtype_size(dt));
	od_from_f32(d, src, dt, n);
	t.data = d;
	t.nbytes = n * od_dtype_size(dt);
	return t;
}

/* |a − e| <= bound per element; the worst element printed on failure. */
static int ok_bound(const float *a, const float *e, const double *bound, size_t n, const char *what)
{
	size_t worst = 0, bad = 0;
	double wr = -1;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - e[i]), r = d / bound[i];
		if (!(d <= bound[i]))
			bad++;
		if (!(r <= wr))
			wr = r, worst = i;
	}
	ok(!bad, "%s (worst |diff|/bound %.3g, %zu of %zu over)", what, wr, bad, n);
	if (bad)
		printf("# worst element %zu: actual %.9g expected %.9g bound %.3g\n", worst, a[worst], e[worst], bound[worst]);
	return !bad;
}

/* The BF16 rounding bound of a sum of products: each operand off by at most
 * 2^-9 relative, so each product by 2^-8 + 2^-18, plus float32 accumulation. */
#define BF16_DOT_REL (0x1p-8 + 0x1p-18 + 1e-6)

static struct od_ctx *ctx(int threads, enum od_precision p)
{
	struct od_ctx *c;
	if (od_ctx_create(&c, OD_DEVICE_CPU, threads))
		return NULL;
	c->precision = p;
	return c;
}

/* y = x·Wᵀ + b: M × N from M × K. */
static void test_linear(struct od_ctx *c, const char *isa)
{
	struct { int M, K, N; enum od_dtype dt; const char *what; } cases[] = {
		{ 37, 53, 29, OD_F32, "odd shape, F32 weights (K padded, rows staged)" },
		{ 37, 53, 29, OD_BF16, "odd shape, BF16 weights" },
		{ 300, 256, 200, OD_BF16, "BF16 weights in place, partial last tile" },
		{ 300, 256, 200, OD_F16, "F16 weights" },
		{ 2, 1024, 160, OD_BF16, "two rows (adaLN)" },
		{ 520, 640, 272, OD_BF16, "several tiles both ways" },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
		const int M = cases[ci].M, K = cases[ci].K, N = cases[ci].N;
		float *x = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 0.3f), *b = rnd(N, 0.5f);
		int64_t ws[2] = { N, K }, bs[1] = { N };
		struct od_tensor tw = tensor("w", cases[ci].dt, 2, ws, w), tb = tensor("b", OD_F32, 1, bs, b);
		float *wr = malloc(sizeof(float) * N * K);
		od_to_f32(wr, tw.data, tw.dtype, (size_t)N * K);
		float *y = malloc(sizeof(float) * M * N), *e16 = malloc(sizeof(float) * M * N),
		      *e32 = malloc(sizeof(float) * M * N);
		double *bound = malloc(sizeof(double) * M * N);
		for (int m = 0; m < M; m++)
			for (int n = 0; n < N; n++) {
				double s16 = 0, s32 = 0, sa = 0;
				for (int k = 0; k < K; k++) {
					s16 += (double)bf(x[m * K + k]) * bf(wr[n * K + k]);
					s32 += (double)x[m * K + k] * wr[n * K + k];
					sa += fabs((double)x[m * K + k] * wr[n * K + k]);
				}
				e16[m * N + n] = (float)(s16 + b[n]);
				e32[m * N + n] = (float)(s32 + b[n]);
				bound[m * N + n] = BF16_DOT_REL * sa + 1e-6 * fabs(b[n]);
			}
		char what[200];
		snprintf(what, sizeof what, "%s linear %dx%dx%d %s runs", isa, M, K, N, cases[ci].what);
		ok(od_linear(c, y, x, M, &tw, &tb) == OD_OK, "%s", what);
		snprintf(what, sizeof what, "%s linear %s: = the BF16-rounded operands' product", isa, cases[ci].what);
		ok_close(y, e16, (size_t)M * N, 2e-5, 2e-6, what);
		snprintf(what, sizeof what, "%s linear %s: float32 result within 2^-8·Σ|x·w|", isa, cases[ci].what);
		ok_bound(y, e32, bound, (size_t)M * N, what);
		free(x), free(w), free(b), free(wr), free(y), free(e16), free(e32), free(bound), free((void *)tw.data),
			free((void *)tb.data);
	}
}

static void ref_attention(float *o, const float *q, const float *k, const float *v, const struct od_attention_desc *d,
			  int round)
{
	int rep = d->q_heads / d->kv_heads;
	double *s = malloc(sizeof(double) * d->kv_len);
	for (int b = 0; b < d->batch; b++)
		for (int h = 0; h < d->q_heads; h++) {
			int kh = d->kv_map == OD_KV_GROUPED ? h / rep : h % d->kv_heads;
			for (int i = 0; i < d->q_len; i++) {
				const float *qi = q + ((size_t)b * d->q_len + i) * d->q_stride + h * d->head_dim;
				double mx = -INFINITY;
				int any = 0;
				for (int j = 0; j < d->kv_len; j++) {
					const float *kj = k + ((size_t)b * d->kv_len + j) * d->kv_stride + kh * d->head_dim;
					double dot = 0;
					for (int t = 0; t < d->head_dim; t++)
						dot += round ? (double)bf(qi[t]) * bf(kj[t]) : (double)qi[t] * kj[t];
					dot *= d->scale;
					if (d->softcap > 0)
						dot = d->softcap * tanh(dot / d->softcap);
					if (d->bias)
						dot += d->bias[((size_t)h * d->q_len + i) * d->kv_len + j];
					if (d->key_mask && !d->key_mask[b * d->kv_len + j])
						dot = -INFINITY;
					else
						any = 1;
					s[j] = dot;
					if (dot > mx)
						mx = dot;
				}
				float *oi = o + ((size_t)b * d->q_len + i) * d->o_stride + h * d->head_dim;
				double sum = 0;
				for (int j = 0; j < d->kv_len; j++)
					sum += (s[j] = any ? exp(s[j] - mx) : 0);
				for (int t = 0; t < d->head_dim; t++) {
					double acc = 0;
					for (int j = 0; j < d->kv_len; j++) {
						double p = s[j] / sum, vv = v[((size_t)b * d->kv_len + j) * d->kv_stride + kh * d->head_dim + t];
						acc += round ? (double)bf((float)p) * bf((float)vv) : p * vv;
					}
					oi[t] = any ? (float)acc : 0;
				}
			}
		}
	free(s);
}

static void test_attention(struct od_ctx *c, const char *isa)
{
	struct {
		int B, Lq, Lk, Hq, Hkv, D;
		enum od_kv_map map;
		float softcap;
		int mask, bias;
		const char *what;
	} cases[] = {
		{ 2, 37, 37, 4, 2, 120, OD_KV_GROUPED, 30, 0, 0, "self, head_dim 120, GQA grouped, soft-cap" },
		{ 2, 40, 300, 4, 2, 120, OD_KV_TILED, 0, 1, 0, "cross, 300 masked keys, GQA tiled" },
		{ 1, 300, 300, 2, 2, 64, OD_KV_GROUPED, 0, 0, 0, "300 rows (two query blocks)" },
		{ 1, 5, 7, 2, 1, 8, OD_KV_TILED, 2, 1, 0, "strong soft-cap, a fully masked batch row" },
		{ 1, 45, 45, 4, 4, 64, OD_KV_GROUPED, 0, 1, 1, "T5-like: position bias + key mask" },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
		struct od_attention_desc d = { .batch = cases[ci].B, .q_len = cases[ci].Lq, .kv_len = cases[ci].Lk,
					       .q_heads = cases[ci].Hq, .kv_heads = cases[ci].Hkv, .head_dim = cases[ci].D };
		d.q_stride = d.q_heads * d.head_dim + 3;
		d.kv_stride = d.kv_heads * d.head_dim + 5;
		d.o_stride = d.q_heads * d.head_dim + 1;
		d.kv_map = cases[ci].map;
		d.scale = 1.0f / sqrtf((float)d.head_dim);
		d.softcap = cases[ci].softcap;
		float *q = rnd((size_t)d.batch * d.q_len * d.q_stride, 3), *k = rnd((size_t)d.batch * d.kv_len * d.kv_stride, 3),
		      *v = rnd((size_t)d.batch * d.kv_len * d.kv_stride, 1);
		uint8_t *mask = NULL;
		if (cases[ci].mask) {
			mask = malloc((size_t)d.batch * d.kv_len);
			for (int i = 0; i < d.batch * d.kv_len; i++)
				mask[i] = (i % d.kv_len) < d.kv_len - 2 - (i / d.kv_len);
			if (ci == 3)
				memset(mask, 0, d.kv_len);
			d.key_mask = mask;
		}
		float *bias = NULL;
		if (cases[ci].bias) {
			bias = rnd((size_t)d.q_heads * d.q_len * d.kv_len, 2);
			d.bias = bias;
		}
		size_t no = (size_t)d.batch * d.q_len * d.o_stride;
		float *o = calloc(no, sizeof *o), *e16 = calloc(no, sizeof *e16), *e32 = calloc(no, sizeof *e32);
		ok(od_attention(c, o, q, k, v, &d) == OD_OK, "%s attention runs: %s", isa, cases[ci].what);
		ref_attention(e16, q, k, v, &d, 1);
		ref_attention(e32, q, k, v, &d, 0);
		char what[200];
		/* P is rounded after a float32 softmax here, in double there: a BF16 rounding may land one ulp apart */
		snprintf(what, sizeof what, "%s attention %s: = the BF16-rounded operands' result", isa, cases[ci].what);
		ok_close(o, e16, no, 5e-4, 0, what);
		/* against float32: q and k (|x| < 3) rounded to BF16 move each logit by up to 2^-8·Σ|q·k|·scale
		 * (~0.1 here), P and v (|v| < 1) by 2^-9 relative: measured below 1.2e-2, bound 1.5e-2 */
		snprintf(what, sizeof what, "%s attention %s: within BF16 tolerance of float32", isa, cases[ci].what);
		ok_close(o, e32, no, 1.5e-2, 0, what);
		free(q), free(k), free(v), free(mask), free(bias), free(o), free(e16), free(e32);
	}
}

static void test_conv(struct od_ctx *c, const char *isa)
{
	struct {
		int N, Cin, H, W, Cout, k, stride, pad[4];
		enum od_dtype dt;
		const char *what;
	} cases[] = {
		{ 2, 5, 9, 11, 7, 3, 1, { 1, 1, 1, 1 }, OD_F32, "3x3 pad 1, 7 outputs (rows staged)" },
		{ 1, 4, 10, 8, 6, 3, 2, { 0, 1, 0, 1 }, OD_BF16, "3x3 stride 2, asymmetric pad, BF16" },
		{ 2, 6, 5, 7, 3, 1, 1, { 0, 0, 0, 0 }, OD_F32, "1x1" },
		{ 1, 64, 20, 18, 32, 3, 1, { 1, 1, 1, 1 }, OD_BF16, "64 -> 32 channels, BF16 weights in place" },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
		int N = cases[ci].N, Cin = cases[ci].Cin, H = cases[ci].H, W = cases[ci].W, Co = cases[ci].Cout, k = cases[ci].k,
		    s = cases[ci].stride;
		const int *pad = cases[ci].pad;
		int Ho = (H + pad[0] + pad[1] - k) / s + 1, Wo = (W + pad[2] + pad[3] - k) / s + 1;
		float *x = rnd((size_t)N * Cin * H * W, 1), *w = rnd((size_t)Co * Cin * k * k, 0.5f), *b = rnd(Co, 0.5f);
		int64_t ws[4] = { Co, Cin, k, k }, bs[1] = { Co };
		struct od_tensor tw = tensor("conv.weight", cases[ci].dt, 4, ws, w), tb = tensor("conv.bias", OD_F32, 1, bs, b);
		float *wr = malloc(sizeof(float) * Co * Cin * k * k);
		od_to_f32(wr, tw.data, tw.dtype, (size_t)Co * Cin * k * k);
		size_t ny = (size_t)N * Co * Ho * Wo;
		float *y = malloc(ny * sizeof *y), *e16 = malloc(ny * sizeof *e16), *e32 = malloc(ny * sizeof *e32);
		double *bound = malloc(ny * sizeof *bound);
		for (int n = 0; n < N; n++)
			for (int co = 0; co < Co; co++)
				for (int oy = 0; oy < Ho; oy++)
					for (int ox = 0; ox < Wo; ox++) {
						double a16 = 0, a32 = 0, sa = 0;
						for (int ci2 = 0; ci2 < Cin; ci2++)
							for (int ky = 0; ky < k; ky++)
								for (int kx = 0; kx < k; kx++) {
									int iy = oy * s + ky - pad[0], ix = ox * s + kx - pad[2];
									if (iy < 0 || iy >= H || ix < 0 || ix >= W)
										continue;
									float wv = wr[((co * Cin + ci2) * k + ky) * k + kx],
									      xv = x[((size_t)(n * Cin + ci2) * H + iy) * W + ix];
									a16 += (double)bf(wv) * bf(xv);
									a32 += (double)wv * xv;
									sa += fabs((double)wv * xv);
								}
						size_t at = ((size_t)(n * Co + co) * Ho + oy) * Wo + ox;
						e16[at] = (float)(a16 + b[co]);
						e32[at] = (float)(a32 + b[co]);
						bound[at] = BF16_DOT_REL * sa + 1e-6 * fabs(b[co]);
					}
		ok(od_conv2d(c, y, x, N, Cin, H, W, &tw, &tb, s, pad) == OD_OK, "%s conv2d runs: %s", isa, cases[ci].what);
		char what[200];
		snprintf(what, sizeof what, "%s conv2d %s: = the BF16-rounded operands' product", isa, cases[ci].what);
		ok_close(y, e16, ny, 2e-5, 2e-6, what);
		snprintf(what, sizeof what, "%s conv2d %s: float32 result within 2^-8·Σ|w·x|", isa, cases[ci].what);
		ok_bound(y, e32, bound, ny, what);
		free(x), free(w), free(b), free(wr), free(y), free(e16), free(e32), free(bound), free((void *)tw.data),
			free((void *)tb.data);
	}
}

/* The packed layout, element by element. */
static void test_pack(const char *isa)
{
	const int K = 45, N = 21;
	float *src = rnd((size_t)K * N, 2);
	size_t len = od_bf16_packed_len(K, N);
	uint16_t *pt = malloc(len * 2), *pn = malloc(len * 2);
	memset(pt, 0xff, len * 2);
	memset(pn, 0xff, len * 2);
	od_bf16_pack_t(pt, src, K, K, N, 0, (N + 15) / 16); /* B(k, n) = src[n·K + k] */
	od_bf16_pack_n(pn, src, N, K, N, 0, (N + 15) / 16); /* B(k, n) = src[k·N + n] */
	const int64_t Kp = od_bf16_kpad(K);
	int bad_t = 0, bad_n = 0;
	for (int64_t n = 0; n < (N + 15) / 16 * 16; n++)
		for (int64_t k = 0; k < Kp; k++) {
			size_t at = (size_t)(((n / 16) * (Kp / 2) + k / 2) * 32 + (n % 16) * 2 + k % 2);
			int in = n < N && k < K;
			uint16_t et = in ? od_f32_to_bf16(src[n * K + k]) : 0, en = in ? od_f32_to_bf16(src[k * N + n]) : 0;
			bad_t += pt[at] != et;
			bad_n += pn[at] != en;
		}
	ok(!bad_t, "%s pack_t: every element where the layout says, zero padding (%d wrong)", isa, bad_t);
	ok(!bad_n, "%s pack_n: every element where the layout says, zero padding (%d wrong)", isa, bad_n);
	free(src), free(pt), free(pn);
}

/* 1 and 2 threads: identical bytes for every BF16 kernel. The thread count is
 * the process's (od_set_threads), so each context runs before the next exists. */
struct det_out {
	float *y, *f, *o, *v;
};

static void det_run(int threads, struct det_out *r, const float *x, const struct od_tensor *tw,
		    const struct od_tensor *tf, const struct od_tensor *tc, int M, int K, int N)
{
	struct od_ctx *c = ctx(threads, OD_PRECISION_BF16);
	struct od_attention_desc d = { 1, M, M, 4, 2, 64, 256, 256, 256, OD_KV_GROUPED, 0.125f, 30, NULL, NULL };
	const int pad[4] = { 1, 1, 1, 1 };
	r->y = malloc(sizeof(float) * M * N);
	r->f = malloc(sizeof(float) * M * N);
	r->o = malloc(sizeof(float) * M * K);
	r->v = malloc(sizeof(float) * 16 * 40 * 60);
	od_linear(c, r->y, x, M, tw, NULL);
	od_linear(c, r->f, x, M, tf, NULL);
	od_attention(c, r->o, x, x, x, &d);
	od_conv2d(c, r->v, x, 1, 32, 40, 60, tc, NULL, 1, pad);
	od_ctx_destroy(c);
}

static void test_determinism(const char *isa)
{
	const int M = 600, K = 256, N = 272;
	float *x = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 1);
	int64_t ws[2] = { N, K }, cs[4] = { 16, 32, 3, 3 };
	struct od_tensor tw = tensor("w", OD_BF16, 2, ws, w), tf = tensor("w", OD_F32, 2, ws, w),
			 tc = tensor("c", OD_BF16, 4, cs, w);
	struct det_out a, b;
	det_run(1, &a, x, &tw, &tf, &tc, M, K, N);
	det_run(2, &b, x, &tw, &tf, &tc, M, K, N);
	ok(!memcmp(a.y, b.y, sizeof(float) * M * N), "%s linear, BF16 weights: 1 and 2 threads give identical bits", isa);
	ok(!memcmp(a.f, b.f, sizeof(float) * M * N), "%s linear, F32 weights: 1 and 2 threads give identical bits", isa);
	ok(!memcmp(a.o, b.o, sizeof(float) * M * K), "%s attention: 1 and 2 threads give identical bits", isa);
	ok(!memcmp(a.v, b.v, sizeof(float) * 16 * 40 * 60), "%s conv2d: 1 and 2 threads give identical bits", isa);
	free(x), free(w), free(a.y), free(a.f), free(a.o), free(a.v), free(b.y), free(b.f), free(b.o), free(b.v);
	free((void *)tw.data), free((void *)tf.data), free((void *)tc.data);
}

/* Without native BF16 (the AVX512 and AVX2 levels) the bf16 precision
 * computes the float32 path's bytes. */
static void test_fallback(void)
{
	const enum od_cpu_isa levels[2] = { OD_ISA_AVX512, OD_ISA_AVX2 };
	for (int li = 0; li < 2; li++) {
		const char *name = od_cpu_isa_name(levels[li]);
		if (od_cpu_isa_supported() < levels[li]) {
			printf("ok %d # SKIP %s: this CPU offers only %s\n", ++tap_n, name,
			       od_cpu_isa_name(od_cpu_isa_supported()));
			continue;
		}
		enum od_cpu_isa was = od_cpu_isa_limit(levels[li]);
		ok(od_cpu_isa() == levels[li] && od_precision_default() == OD_PRECISION_FP32,
		   "%s level: the default precision is fp32", name);
		struct od_ctx *cb = ctx(0, OD_PRECISION_BF16), *cf = ctx(0, OD_PRECISION_FP32);
		const int M = 50, K = 70, N = 40;
		float *x = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 1);
		int64_t ws[2] = { N, K };
		struct od_tensor tw = tensor("w", OD_BF16, 2, ws, w);
		float *yb = malloc(sizeof(float) * M * N), *yf = malloc(sizeof(float) * M * N);
		od_linear(cb, yb, x, M, &tw, NULL);
		od_linear(cf, yf, x, M, &tw, NULL);
		ok(!memcmp(yb, yf, sizeof(float) * M * N), "%s level: bf16 precision falls back to the fp32 bytes", name);
		od_ctx_destroy(cb);
		od_ctx_destroy(cf);
		free(x), free(w), free(yb), free(yf), free((void *)tw.data);
		od_cpu_isa_limit(was);
	}
}


/* Names of precisions and levels. */
static void test_parse(void)
{
	enum od_precision p;
	enum od_cpu_isa i;
	ok(!od_precision_parse("bf16", &p) && p == OD_PRECISION_BF16 && !od_precision_parse("fp32", &p) &&
		   p == OD_PRECISION_FP32 && od_precision_parse("fp16", &p) && od_precision_parse("", &p),
	   "precision names: fp32, bf16; others refused");
	ok(!od_cpu_isa_parse("amx", &i) && i == OD_ISA_AMX && !od_cpu_isa_parse("avx512bf16", &i) &&
		   i == OD_ISA_AVX512BF16 && !od_cpu_isa_parse("avx512", &i) && i == OD_ISA_AVX512 &&
		   !od_cpu_isa_parse("avx2", &i) && i == OD_ISA_AVX2 && od_cpu_isa_parse("sse9", &i),
	   "ISA names: amx, avx512bf16, avx512, avx2; others refused");
	ok(od_cpu_isa() <= od_cpu_isa_supported(), "the level in use (%s) is at most the CPU's (%s)",
	   od_cpu_isa_name(od_cpu_isa()), od_cpu_isa_name(od_cpu_isa_supported()));
}

int main(void)
{
	test_parse();
	const enum od_cpu_isa top = od_cpu_isa();
	const enum od_cpu_isa levels[2] = { OD_ISA_AMX, OD_ISA_AVX512BF16 };
	for (int li = 0; li < 2; li++) {
		const char *name = od_cpu_isa_name(levels[li]);
		if (top < levels[li]) {
			printf("ok %d # SKIP %s: this CPU (or $OD_CPU_ISA=%s) offers only %s\n", ++tap_n, name,
			       getenv("OD_CPU_ISA") ? getenv("OD_CPU_ISA") : "", od_cpu_isa_name(top));
			continue;
		}
		od_cpu_isa_limit(levels[li]);
		struct od_ctx *c = ctx(0, OD_PRECISION_BF16);
		if (!c) {
			ok(0, "create a CPU context: %s", od_errmsg());
			return tap_done();
		}
		test_linear(c, name);
		test_attention(c, name);
		test_conv(c, name);
		test_pack(name);
		test_determinism(name);
		od_ctx_destroy(c);
	}
	od_cpu_isa_limit(top);
	test_fallback();
	return tap_done();
}
