/*
 * test_kernels.c: every CPU kernel of the kernel table (backend.h) against a
 * naive double-precision reference, on odd shapes, with every option of its
 * contract; and bitwise determinism across thread counts.
 */
#include "od.h"
#include "compute/cpu/cpu_kernels.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 12345;
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

/* Every float32 path of the linear layer (the AVX-512 kernel where the CPU
 * has it, OpenBLAS's sgemm tiles) on
 * shapes with ragged edges: tokens past one 512-token tile and not a multiple
 * of 16, weight rows past one 96-row tile and not a multiple of 6, K past one
 * 256 chunk and not a multiple of 16. */
static void test_linear(struct od_ctx *c)
{
	const struct { int M, K, N; } shapes[] = { { 37, 53, 29 }, { 600, 613, 200 }, { 16, 16, 7 }, { 15, 20, 9 } };
	const enum od_cpu_isa top = od_cpu_isa();
	const enum od_cpu_isa levels[2] = { top, OD_ISA_AVX2 };
	enum od_dtype dts[3] = { OD_F32, OD_BF16, OD_F16 };
	for (int li = 0; li < (top > OD_ISA_AVX2 ? 2 : 1); li++) {
		od_cpu_isa_limit(levels[li]);

		for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
			const int M = shapes[si].M, K = shapes[si].K, N = shapes[si].N;
			const char *path = od_cpu_isa() >= OD_ISA_AVX512 ? "avx512" : "sgemm";
			float *x = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 0.3f), *b = rnd(N, 0.5f);
			for (int di = 0; di < 3; di++) {
				int64_t ws[2] = { N, K }, bs[1] = { N };
				struct od_tensor tw = tensor("w", dts[di], 2, ws, w), tb = tensor("b", dts[di], 1, bs, b);
				/* the reference uses the weights as stored (rounded to the dtype) */
				float *wr = malloc(sizeof(float) * N * K), *br = malloc(sizeof(float) * N);
				od_to_f32(wr, tw.data, tw.dtype, (size_t)N * K);
				od_to_f32(br, tb.data, tb.dtype, N);
				float *y = malloc(sizeof(float) * M * N), *e = malloc(sizeof(float) * M * N);
				for (int m = 0; m < M; m++)
					for (int n = 0; n < N; n++) {
						double s = br[n];
						for (int k = 0; k < K; k++)
							s += (double)x[(size_t)m * K + k] * wr[(size_t)n * K + k];
						e[(size_t)m * N + n] = (float)s;
					}
				char what[96];
				snprintf(what, sizeof what, "linear %s weights, %s, M=%d K=%d N=%d", od_dtype_name(dts[di]), path,
					 M, K, N);
				ok(od_linear(c, y, x, M, &tw, &tb) == OD_OK, "%s runs", what);
				ok_close(y, e, (size_t)M * N, 1e-5, 1e-5, what);
				if (dts[di] != OD_F32) {
					/* widened weights: the bytes of the same values stored as F32 */
					struct od_tensor tf = tensor("wf", OD_F32, 2, ws, wr), tbf = tensor("bf", OD_F32, 1, bs, br);
					float *yf = malloc(sizeof(float) * M * N);
					od_linear(c, yf, x, M, &tf, &tbf);
					ok(!memcmp(y, yf, sizeof(float) * M * N), "%s: the bytes of its values stored as F32", what);
					free((void *)tf.data), free((void *)tbf.data), free(yf);
				}
				free((void *)tw.data), free((void *)tb.data), free(wr), free(br), free(y), free(e);
			}
			free(x), free(w), free(b);
		}
	}
	od_cpu_isa_limit(top);
	if (top >= OD_ISA_AVX512) {
		/* a token's bytes do not depend on the tokens beside it (numerics.md §8.6) */
		const int M = 40, K = 300, N = 50;
		float *x = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 0.3f);
		int64_t ws[2] = { N, K };
		struct od_tensor tw = tensor("w", OD_F32, 2, ws, w);
		float *y = malloc(sizeof(float) * M * N), *y3 = malloc(sizeof(float) * 3 * N);
		od_linear(c, y, x, M, &tw, NULL);
		od_linear(c, y3, x + 17 * K, 3, &tw, NULL);
		ok(!memcmp(y + 17 * N, y3, sizeof(float) * 3 * N), "avx512 linear: tokens 17-19 of 40 alone give the same bytes");
		free(x), free(w), free((void *)tw.data), free(y), free(y3);
	}
}

/* reference attention in double */
static void ref_attention(float *o, const float *q, const float *k, const float *v, const struct od_attention_desc *d)
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
						dot += (double)qi[t] * kj[t];
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
					for (int j = 0; j < d->kv_len; j++)
						acc += s[j] * v[((size_t)b * d->kv_len + j) * d->kv_stride + kh * d->head_dim + t];
					oi[t] = any ? (float)(acc / sum) : 0;
				}
			}
		}
	free(s);
}

static void test_attention(struct od_ctx *c)
{
	struct {
		int B, Lq, Lk, Hq, Hkv, D;
		enum od_kv_map map;
		float softcap;
		int mask, bias;
		const char *what;
	} cases[] = {
		{ 2, 17, 17, 4, 2, 24, OD_KV_GROUPED, 30, 0, 0, "self, GQA grouped, soft-cap" },
		{ 2, 17, 9, 4, 2, 24, OD_KV_TILED, 0, 1, 0, "cross, GQA tiled, key mask" },
		{ 1, 300, 300, 4, 4, 16, OD_KV_GROUPED, 0, 1, 1, "T5-like: bias + mask, 300 rows (two query blocks)" },
		{ 1, 5, 7, 2, 1, 8, OD_KV_TILED, 2, 1, 0, "strong soft-cap, a fully masked batch row" },
		{ 1, 40, 40, 2, 2, 16, OD_KV_GROUPED, 30, 1, 1, "soft-cap, bias + mask, 40 keys (16 + 16 + 8 lanes)" },
	};
	const enum od_cpu_isa top = od_cpu_isa();
	for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
		struct od_attention_desc d = { .batch = cases[ci].B, .q_len = cases[ci].Lq, .kv_len = cases[ci].Lk,
					       .q_heads = cases[ci].Hq, .kv_heads = cases[ci].Hkv, .head_dim = cases[ci].D };
		/* q has extra columns beyond the heads (strides must be honoured) */
		d.q_stride = d.q_heads * d.head_dim + 3;
		d.kv_stride = d.kv_heads * d.head_dim + 5;
		d.o_stride = d.q_heads * d.head_dim + 1;
		d.kv_map = cases[ci].map;
		d.scale = 1.0f / sqrtf((float)d.head_dim);
		d.softcap = cases[ci].softcap;
		float *q = rnd((size_t)d.batch * d.q_len * d.q_stride, 3), *k = rnd((size_t)d.batch * d.kv_len * d.kv_stride, 3),
		      *v = rnd((size_t)d.batch * d.kv_len * d.kv_stride, 1);
		uint8_t *mask = NULL;
		float *bias = NULL;
		if (cases[ci].mask) {
			mask = malloc((size_t)d.batch * d.kv_len);
			for (int i = 0; i < d.batch * d.kv_len; i++)
				mask[i] = (i % d.kv_len) < d.kv_len - 2 - (i / d.kv_len);
			if (ci == 3)
				memset(mask, 0, d.kv_len); /* all keys masked: defined as zero output */
			d.key_mask = mask;
		}
		if (cases[ci].bias) {
			bias = rnd((size_t)d.q_heads * d.q_len * d.kv_len, 2);
			d.bias = bias;
		}
		size_t no = (size_t)d.batch * d.q_len * d.o_stride;
		float *o = calloc(no, sizeof *o), *e = calloc(no, sizeof *e);
		ok(od_attention(c, o, q, k, v, &d) == OD_OK, "attention runs: %s", cases[ci].what);
		ref_attention(e, q, k, v, &d);
		ok_close(o, e, no, 2e-6, 1e-5, cases[ci].what);
		if (top >= OD_ISA_AVX512) {
			/* the softmax on 16 lanes and on 8 (AVX2): the same operations, the same bits */
			float *o8 = calloc(no, sizeof *o8);
			od_cpu_isa_limit(OD_ISA_AVX2);
			ok(od_attention(c, o8, q, k, v, &d) == OD_OK && !memcmp(o, o8, no * sizeof *o),
			   "%s: AVX-512 and AVX2 softmax rows give the same bits", cases[ci].what);
			od_cpu_isa_limit(top);
			free(o8);
		}
		free(q), free(k), free(v), free(mask), free(bias), free(o), free(e);
	}
}

static void test_norms(struct od_ctx *c)
{
	const int M = 13, D = 96, G = 3;
	float *x = rnd((size_t)M * D, 2), *w = rnd(D, 1), *b = rnd(D, 1), *sc = rnd((size_t)(M / G + 1) * 2 * D, 1);
	float *y = malloc(sizeof(float) * M * D), *e = malloc(sizeof(float) * M * D);
	for (int variant = 0; variant < 5; variant++) {
		memcpy(y, x, sizeof(float) * M * D); /* for the in-place gate_add */
		for (int m = 0; m < M; m++) {
			const float *xr = x + m * D;
			double mean = 0, ms = 0, var = 0;
			for (int d = 0; d < D; d++)
				mean += xr[d], ms += (double)xr[d] * xr[d];
			mean /= D, ms /= D;
			for (int d = 0; d < D; d++)
				var += (xr[d] - mean) * (xr[d] - mean);
			var /= D;
			const float *s = sc + (m / G) * 2 * D;
			for (int d = 0; d < D; d++) {
				double r = xr[d] / sqrt(ms + 1e-5), l = (xr[d] - mean) / sqrt(var + 1e-6);
				double out = variant == 0 ? r * w[d]
					   : variant == 1 ? l * w[d] + b[d]
					   : variant == 2 ? r * w[d] * (1 + s[d])
					   : variant == 3 ? l * (1 + s[d])
							  : x[m * D + d] + tanh(s[D + d]) * r * w[d];
				e[m * D + d] = (float)out;
			}
		}
		const char *what[] = { "rmsnorm", "layernorm", "rmsnorm_modulate (per-frame scale)",
				       "layernorm_modulate (no affine)", "rmsnorm_gate_add (in place)" };
		int rc = variant == 0 ? od_rmsnorm(c, y, x, M, D, w, 1e-5f)
		       : variant == 1 ? od_layernorm(c, y, x, M, D, w, b, 1e-6f)
		       : variant == 2 ? od_rmsnorm_modulate(c, y, x, M, D, w, 1e-5f, sc, 2 * D, G)
		       : variant == 3 ? od_layernorm_modulate(c, y, x, M, D, 1e-6f, sc, 2 * D, G)
				      : od_rmsnorm_gate_add(c, y, x, M, D, w, 1e-5f, sc + D, 2 * D, G);
		ok(rc == OD_OK, "%s runs", what[variant]);
		ok_close(y, e, (size_t)M * D, 1e-5, 1e-5, what[variant]);
	}
	/* groupnorm with fused SiLU, NCHW */
	const int N = 2, C = 64, HW = 35, groups = 32;
	float *gx = rnd((size_t)N * C * HW, 3), *gw = rnd(C, 1), *gb = rnd(C, 1);
	float *gy = malloc(sizeof(float) * N * C * HW), *ge = malloc(sizeof(float) * N * C * HW);
	for (int silu = 0; silu < 2; silu++) {
		for (int n = 0; n < N; n++)
			for (int g = 0; g < groups; g++) {
				int cpg = C / groups;
				double m = 0, v = 0;
				for (int i = 0; i < cpg * HW; i++)
					m += gx[(n * C + g * cpg) * HW + i];
				m /= cpg * HW;
				for (int i = 0; i < cpg * HW; i++) {
					double t = gx[(n * C + g * cpg) * HW + i] - m;
					v += t * t;
				}
				v /= cpg * HW;
				for (int ci = 0; ci < cpg; ci++)
					for (int i = 0; i < HW; i++) {
						int ch = g * cpg + ci;
						size_t at = (size_t)(n * C + ch) * HW + i;
						double t = (gx[at] - m) / sqrt(v + 1e-6) * gw[ch] + gb[ch];
						ge[at] = (float)(silu ? t / (1 + exp(-t)) : t);
					}
			}
		ok(od_groupnorm(c, gy, gx, N, C, HW, groups, gw, gb, 1e-6f, silu) == OD_OK, "groupnorm runs");
		ok_close(gy, ge, (size_t)N * C * HW, 1e-5, 1e-5, silu ? "groupnorm + silu" : "groupnorm");
	}
	free(x), free(w), free(b), free(sc), free(y), free(e), free(gx), free(gw), free(gb), free(gy), free(ge);
}

static void test_elementwise(struct od_ctx *c)
{
	const int n = 40000; /* spans several of the pool's blocks */
	float *a = rnd(n, 4), *b = rnd(n, 2), *y = malloc(sizeof(float) * n), *e = malloc(sizeof(float) * n);
	enum od_act acts[] = { OD_ACT_SILU, OD_ACT_GELU_TANH, OD_ACT_GELU, OD_ACT_RELU };
	const char *names[] = { "silu", "gelu_tanh", "gelu", "relu" };
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < n; j++) {
			double x = a[j];
			e[j] = (float)(i == 0 ? x / (1 + exp(-x))
				      : i == 1 ? 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)))
				      : i == 2 ? 0.5 * x * (1 + erf(x / sqrt(2)))
					       : (x > 0 ? x : 0));
		}
		od_act(c, y, a, n, acts[i]);
		ok_close(y, e, n, 2e-6, 1e-5, names[i]);
		for (int j = 0; j < n; j++)
			e[j] *= b[j];
		od_act_mul(c, y, a, b, n, acts[i]);
		ok_close(y, e, n, 2e-6, 1e-5, "act_mul");
	}
	/* SiLU's eight-lane path gives the bits of the scalar formula (od_silu_f), also
	 * at the clamp (|x| near 88 and beyond), for infinities and in a ragged tail. */
	const float edge[] = { 0.0f, -0.0f, 88.0f, -88.0f, 88.5f, -88.5f, 150.0f, -150.0f, 1e30f, -1e30f, INFINITY, 1e-30f, -3.5f };
	const int ne = (int)(sizeof edge / sizeof *edge), ns = 1003;
	float *xs = malloc(sizeof(float) * ns);
	for (int j = 0; j < ns; j++)
		xs[j] = j < ne ? edge[j] : a[j];
	od_act(c, y, xs, ns, OD_ACT_SILU);
	int same = 1, worst = -1;
	for (int j = 0; j < ns && same; j++)
		if (memcmp(&y[j], &(float){ od_silu_f(xs[j]) }, sizeof(float)))
			same = 0, worst = j;
	ok(same, "silu: the eight-lane path gives the scalar formula's bits");
	if (!same)
		printf("# element %d: x %.9g, got %.9g, scalar %.9g\n", worst, xs[worst], y[worst], od_silu_f(xs[worst]));
	od_act_mul(c, y, xs, b, ns, OD_ACT_SILU);
	same = 1;
	for (int j = 0; j < ns && same; j++)
		if (memcmp(&y[j], &(float){ od_silu_f(xs[j]) * b[j] }, sizeof(float)))
			same = 0, worst = j;
	ok(same, "silu·b: the eight-lane path gives the scalar formula's bits");
	if (!same)
		printf("# element %d: x %.9g b %.9g, got %.9g\n", worst, xs[worst], b[worst], y[worst]);
	free(xs);
	for (int j = 0; j < n; j++)
		e[j] = a[j] + b[j];
	od_binary(c, y, a, b, n, OD_OP_ADD);
	ok_close(y, e, n, 0, 0, "binary add (exact)");
	for (int j = 0; j < n; j++)
		e[j] = a[j] * b[j];
	od_binary(c, y, a, b, n, OD_OP_MUL);
	ok_close(y, e, n, 0, 0, "binary mul (exact)");
	memcpy(y, b, sizeof(float) * n);
	for (int j = 0; j < n; j++)
		e[j] = 0.5f * a[j] + -2.0f * b[j];
	od_axpby(c, y, a, n, 0.5f, -2.0f);
	ok_close(y, e, n, 0, 0, "axpby (exact)");
	/* transpose: 3 matrices of 37 x 45 */
	od_transpose(c, y, a, 3, 37, 45);
	for (int bb = 0; bb < 3; bb++)
		for (int r = 0; r < 37; r++)
			for (int cc = 0; cc < 45; cc++)
				e[bb * 37 * 45 + cc * 37 + r] = a[bb * 37 * 45 + r * 45 + cc];
	ok_close(y, e, 3 * 37 * 45, 0, 0, "transpose (exact)");
	/* upsample: 5 planes of 3 x 4 */
	od_upsample2x(c, y, a, 5, 3, 4);
	for (int p = 0; p < 5; p++)
		for (int r = 0; r < 6; r++)
			for (int cc = 0; cc < 8; cc++)
				e[p * 48 + r * 8 + cc] = a[p * 12 + (r / 2) * 4 + cc / 2];
	ok_close(y, e, 5 * 48, 0, 0, "upsample2x (exact)");
	/* rope on 7 tokens, 3 heads of 12, row stride 40 */
	const int M = 7, H = 3, hd = 12, ld = 40;
	float *x = rnd((size_t)M * ld, 1), *cs = malloc(sizeof(float) * M * hd);
	for (int m = 0; m < M; m++)
		for (int p = 0; p < hd / 2; p++) {
			cs[(m * hd / 2 + p) * 2] = cosf(0.3f * m * (p + 1));
			cs[(m * hd / 2 + p) * 2 + 1] = sinf(0.3f * m * (p + 1));
		}
	memcpy(e, x, sizeof(float) * M * ld);
	for (int m = 0; m < M; m++)
		for (int h = 0; h < H; h++)
			for (int p = 0; p < hd / 2; p++) {
				float *q = e + m * ld + h * hd + 2 * p, co = cs[(m * hd / 2 + p) * 2], si = cs[(m * hd / 2 + p) * 2 + 1];
				float r0 = q[0] * co - q[1] * si, r1 = q[0] * si + q[1] * co;
				q[0] = r0, q[1] = r1;
			}
	od_rope(c, x, M, H, hd, ld, cs);
	ok_close(x, e, (size_t)M * ld, 1e-7, 0, "rope: interleaved pairs, untouched tail columns");
	/* head gate add */
	float *o = rnd((size_t)M * H * hd, 1), *yy = rnd((size_t)M * H * hd, 1), *g = rnd(H, 2);
	for (int m = 0; m < M; m++)
		for (int h = 0; h < H; h++)
			for (int d = 0; d < hd; d++)
				e[(m * H + h) * hd + d] = o[(m * H + h) * hd + d] + tanhf(g[h]) * yy[(m * H + h) * hd + d];
	od_head_gate_add(c, o, yy, M, H, hd, g);
	ok_close(o, e, (size_t)M * H * hd, 1e-6, 0, "head_gate_add");
	free(a), free(b), free(y), free(e), free(x), free(cs), free(o), free(yy), free(g);
}

static void test_conv(struct od_ctx *c)
{
	struct {
		int N, Cin, H, W, Cout, k, stride, pad[4];
		enum od_dtype dt;
		const char *what;
	} cases[] = {
		{ 2, 5, 9, 11, 7, 3, 1, { 1, 1, 1, 1 }, OD_F32, "3x3 pad 1" },
		{ 1, 4, 10, 8, 6, 3, 2, { 0, 1, 0, 1 }, OD_BF16, "3x3 stride 2, asymmetric pad (VAE downsampler), BF16" },
		{ 2, 6, 5, 7, 3, 1, 1, { 0, 0, 0, 0 }, OD_F32, "1x1 (direct sgemm)" },
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
		float *y = malloc(ny * sizeof *y), *e = malloc(ny * sizeof *e);
		for (int n = 0; n < N; n++)
			for (int co = 0; co < Co; co++)
				for (int oy = 0; oy < Ho; oy++)
					for (int ox = 0; ox < Wo; ox++) {
						double acc = b[co];
						for (int ci2 = 0; ci2 < Cin; ci2++)
							for (int ky = 0; ky < k; ky++)
								for (int kx = 0; kx < k; kx++) {
									int iy = oy * s + ky - pad[0], ix = ox * s + kx - pad[2];
									if (iy < 0 || iy >= H || ix < 0 || ix >= W)
										continue;
									acc += (double)wr[((co * Cin + ci2) * k + ky) * k + kx] *
									       x[((size_t)(n * Cin + ci2) * H + iy) * W + ix];
								}
						e[((size_t)(n * Co + co) * Ho + oy) * Wo + ox] = (float)acc;
					}
		ok(od_conv2d(c, y, x, N, Cin, H, W, &tw, &tb, s, pad) == OD_OK, "conv2d runs: %s", cases[ci].what);
		ok_close(y, e, ny, 1e-5, 1e-5, cases[ci].what);
		free(x), free(w), free(b), free(wr), free(y), free(e), free((void *)tw.data), free((void *)tb.data);
	}
}

/* The same kernels with 1 and 2 threads give identical bits. */
static void test_determinism(void)
{
	struct od_ctx *c1, *c2;
	od_ctx_create(&c1, OD_DEVICE_CPU, 1);
	c1->precision = OD_PRECISION_FP32;
	/* several tiles of the linear layer along tokens, rows and K */
	const int M = 600, K = 300, N = 200;
	float *x = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 1);
	int64_t ws[2] = { N, K };
	struct od_tensor tw = tensor("w", OD_BF16, 2, ws, w);
	float *y1 = malloc(sizeof(float) * M * N), *y2 = malloc(sizeof(float) * M * N);
	float *o1 = calloc((size_t)M * K, sizeof(float)), *o2 = calloc((size_t)M * K, sizeof(float));
	struct od_attention_desc d = { 1, M, M, 4, 2, 16, K, K, K, OD_KV_GROUPED, 0.25f, 30, NULL, NULL };
	od_linear(c1, y1, x, M, &tw, NULL);
	od_attention(c1, o1, x, x, x, &d);
	od_ctx_destroy(c1);
	od_ctx_create(&c2, OD_DEVICE_CPU, 2);
	c2->precision = OD_PRECISION_FP32;
	od_linear(c2, y2, x, M, &tw, NULL);
	od_attention(c2, o2, x, x, x, &d);
	od_ctx_destroy(c2);
	ok(!memcmp(y1, y2, sizeof(float) * M * N), "linear: 1 and 2 threads give identical bits");
	ok(!memcmp(o1, o2, sizeof(float) * M * K), "attention: 1 and 2 threads give identical bits");
	free(x), free(w), free(y1), free(y2), free(o1), free(o2), free((void *)tw.data);
}

int main(void)
{
	struct od_ctx *c;
	if (od_ctx_create(&c, OD_DEVICE_CPU, 0)) {
		ok(0, "create a CPU context: %s", od_errmsg());
		return tap_done();
	}
	c->precision = OD_PRECISION_FP32; /* the float32 reference kernels (test_bf16 has the others) */
	test_linear(c);
	test_attention(c);
	test_norms(c);
	test_elementwise(c);
	test_conv(c);
	od_ctx_destroy(c);
	test_determinism();
	return tap_done();
}
