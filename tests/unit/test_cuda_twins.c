/*
 * test_cuda_twins: every entry of the kernel table (backend.h) on the CUDA
 * backend against its CPU twin (lib/compute/cpu/cpu_*.c), on the same inputs, with an
 * explicit tolerance per kernel; each comparison prints its worst element.
 * Without a CUDA device (or a build without the plugin) it is a TAP skip.
 *
 * Tolerances, |gpu − cpu| ≤ atol + rtol·|cpu| with atol = a·max|cpu|:
 *  - elementwise float32 kernels (binary, axpby, transpose, RoPE, head gate,
 *    upsample, copies): rtol 1e-6, a 1e-7: the GPU rounds each operation like
 *    the CPU (no fused multiply-adds), so they agree to the last bit but for
 *    tanhf/expf/erff (activations: rtol 1e-5, a 1e-6);
 *  - norms: rtol 1e-4, a 1e-5 (float32 row sums on the GPU, float64 on the CPU);
 *  - BF16 kernels (linear, conv2d, attention) twice: (1) inputs and weights
 *    already representable in BF16, so the GPU's roundings are exact and only
 *    the FP32 accumulation order differs (linear, conv2d: rtol 1e-3, a 1e-3),
 *    plus for attention the BF16 rounding of the softmax weights P before P·V
 *    (rtol 1e-2, a 1e-2: that rounding is 2^-9 relative, ~0.1% of a typical
 *    output; tests/gpu/emulate_attention.cc measured ≤ 1.3e-3 of the max);
 *    (2) arbitrary float32 inputs that the GPU rounds to BF16 (rtol 2e-2, a
 *    2e-2 for attention, 1e-2 for linear and conv2d: 2^-9 per operand; a CPU
 *    plugin rounding like this one measured ≤ 4.4e-3 and ≤ 2.3e-3 of the max);
 *  - the float32 attention path (OD_CUDA_ATTENTION=simple): rtol 1e-4, a 1e-4;
 *  - head_dim > 128 takes cuBLAS GEMMs around a softmax kernel (same BF16
 *    tolerances as the fused kernel), also in blocks of query rows;
 *  - attention runs with the kernel the size picks and with each variant
 *    forced (OD_CUDA_ATTN=1|2|3, cuda_attention.cu);
 *  - the backward passes (training) are float32 on both sides: linear and
 *    attention rtol 1e-4 (a 1e-5, 1e-4: summation order, exact tanhf against
 *    the CPU's polynomial), norms rtol 1e-4, a 1e-5, elementwise rtol 1e-5,
 *    a 1e-6; attention_lse's o must be attention()'s bytes.
 * A bug in an index or a fragment layout gives errors of the data's own size,
 * far outside all of these.
 */
#include "compute/backend.h"
#include "base/error.h"
#include "tap.h"
#include "base/tensor.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct od_ctx *cpu, *gpu, *gpu_simple, *gpu_alt;

/* ---------------------------------------------------------------- helpers */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float frand(void) /* uniform in [-1, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static float *rnd(size_t n, float scale)
{
	float *x = malloc((n ? n : 1) * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = scale * frand();
	return x;
}

static float *bf16ed(float *x, size_t n)
{
	od_round_to(x, OD_BF16, n);
	return x;
}

/* A device copy of host data on context c. */
static float *up(struct od_ctx *c, const float *h, size_t n)
{
	float *d = od_alloc(c, n ? n : 1);
	if (!d) {
		printf("# od_alloc: %s\n", od_errmsg());
		exit(1);
	}
	if (n && od_upload(c, d, h, n * sizeof *h)) {
		printf("# upload: %s\n", od_errmsg());
		exit(1);
	}
	return d;
}

static float *down(struct od_ctx *c, const float *d, size_t n)
{
	float *h = malloc((n ? n : 1) * sizeof *h);
	if (od_download(c, h, d, n * sizeof *h)) {
		printf("# download: %s\n", od_errmsg());
		exit(1);
	}
	return h;
}

/* Compare a GPU result with the CPU's: |g − e| ≤ a·max|e| + rtol·|e|, and print
 * the worst element (largest excess over its limit) whether it passes or not. */
static int cmp(const char *what, const float *g, const float *e, size_t n, double rtol, double a)
{
	/* the absolute part of the tolerance scales with the data: a·max|cpu| */
	double mx = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(e[i]) > mx)
			mx = fabs(e[i]);
	return ok_close(g, e, n, a * (mx > 0 ? mx : 1.0), rtol, what);
}

static int same_bits(const char *what, const float *a, const float *b, size_t n)
{
	return ok(!memcmp(a, b, n * sizeof *a), "%s: bitwise identical on a second run", what);
}

static int check_rc(int rc, const char *what)
{
	if (rc) {
		printf("# %s: %s\n", what, od_errmsg());
		return 0;
	}
	return 1;
}

/* A host tensor of dtype dt holding x (converted). Weight caches (od_param's,
 * the GPU's weight copies) are keyed by the struct's address, which a model
 * never reuses for other data while a context lives: neither do the tests, so
 * every tensor stays allocated until the end. */
struct htensor {
	struct od_tensor t;
	void *data;
};

static struct htensor *all_tensors[512];
static int n_tensors;

static struct htensor *mk_tensor(const char *name, enum od_dtype dt, int ndim, const int64_t *shape, const float *x)
{
	struct htensor *h = calloc(1, sizeof *h);
	size_t n = 1;
	for (int i = 0; i < ndim; i++) {
		h->t.shape[i] = shape[i];
		n *= (size_t)shape[i];
	}
	h->data = malloc(n * od_dtype_size(dt) + 1);
	od_from_f32(h->data, x, dt, n);
	h->t.name = name;
	h->t.dtype = dt;
	h->t.ndim = ndim;
	h->t.data = h->data;
	h->t.nbytes = n * od_dtype_size(dt);
	if (n_tensors == 512) {
		printf("Bail out! too many test tensors\n");
		exit(1);
	}
	all_tensors[n_tensors++] = h;
	return h;
}

static void free_tensors(void)
{
	for (int i = 0; i < n_tensors; i++) {
		free(all_tensors[i]->data);
		free(all_tensors[i]);
	}
	n_tensors = 0;
}

/* The values a tensor holds, widened to float32 (what the CPU computes with). */
static float *tensor_f32(const struct htensor *h)
{
	size_t n = (size_t)od_tensor_numel(&h->t);
	float *x = malloc((n ? n : 1) * sizeof *x);
	od_to_f32(x, h->data, h->t.dtype, n);
	return x;
}

/* ---------------------------------------------------------------- memory */

static void test_memory(void)
{
	const size_t n = 100003;
	float *h = rnd(n, 10);
	size_t before = gpu->bytes_now;
	float *d = up(gpu, h, n);
	ok(gpu->bytes_now == before + n * sizeof(float), "od_alloc counts %zu bytes (bytes_now %zu -> %zu)",
	   n * sizeof(float), before, gpu->bytes_now);
	ok(gpu->bytes_peak >= gpu->bytes_now, "bytes_peak >= bytes_now");
	float *back = down(gpu, d, n);
	ok(!memcmp(back, h, n * sizeof *h), "upload/download round trip is exact");
	float *d2 = od_alloc(gpu, n);
	ok(check_rc(od_copy(gpu, d2, d, n * sizeof *h), "copy"), "device copy");
	float *b2 = down(gpu, d2, n);
	ok(!memcmp(b2, h, n * sizeof *h), "device copy is exact");
	/* overlapping copy: memmove semantics, as on the CPU */
	ok(check_rc(od_copy(gpu, d2 + 1, d2, (n - 1) * sizeof *h), "overlapping copy"), "overlapping device copy");
	float *b3 = down(gpu, d2, n);
	ok(b3[0] == h[0] && !memcmp(b3 + 1, h, (n - 1) * sizeof *h), "overlapping copy moves like memmove");
	od_free(gpu, d2);
	od_free(gpu, d);
	ok(gpu->bytes_now == before, "od_free gives the bytes back (bytes_now %zu)", gpu->bytes_now);
	od_free(gpu, NULL);
	ok(check_rc(od_sync(gpu), "sync"), "sync");
	free(h);
	free(back);
	free(b2);
	free(b3);
}

static void test_param(void)
{
	const enum od_dtype dts[3] = { OD_F32, OD_F16, OD_BF16 };
	for (int i = 0; i < 3; i++) {
		float *x = rnd(1001, 3);
		int64_t shape[1] = { 1001 };
		struct htensor *t = mk_tensor("p", dts[i], 1, shape, x);
		float *want = tensor_f32(t);
		const float *d = od_param(gpu, &t->t);
		ok(d != NULL, "od_param %s", od_dtype_name(dts[i]));
		if (d) {
			float *got = down(gpu, d, 1001);
			ok(!memcmp(got, want, 1001 * sizeof *got), "od_param %s widens exactly", od_dtype_name(dts[i]));
			free(got);
			ok(od_param(gpu, &t->t) == d, "od_param %s is cached", od_dtype_name(dts[i]));
		}
		free(x);
		free(want);
	}
}

/* ---------------------------------------------------------------- linear */

struct lin_case {
	int64_t M, N, K;
	enum od_dtype dt;
	int bias, xoff, yoff;
};

static void linear_on(struct od_ctx *c, const char *label, const struct lin_case *lc, const float *x,
		      const struct htensor *w, const struct htensor *b, const float *want, double rtol, double a,
		      int twice)
{
	const size_t nx = (size_t)(lc->M * lc->K), ny = (size_t)(lc->M * lc->N);
	float *xb = malloc((nx + lc->xoff) * sizeof *xb);
	memcpy(xb + lc->xoff, x, nx * sizeof *x);
	float *dx = up(c, xb, nx + lc->xoff), *dy = od_alloc(c, ny + lc->yoff);
	char what[200];
	snprintf(what, sizeof what, "linear %s %lldx%lldx%lld %s%s%s", label, (long long)lc->M, (long long)lc->N,
		 (long long)lc->K, od_dtype_name(lc->dt), lc->bias ? " +bias" : "",
		 lc->xoff || lc->yoff ? " misaligned" : "");
	if (check_rc(od_linear(c, dy + lc->yoff, dx + lc->xoff, lc->M, &w->t, b ? &b->t : NULL), what)) {
		float *g = down(c, dy + lc->yoff, ny);
		cmp(what, g, want, ny, rtol, a);
		if (twice && check_rc(od_linear(c, dy + lc->yoff, dx + lc->xoff, lc->M, &w->t, b ? &b->t : NULL), what)) {
			float *g2 = down(c, dy + lc->yoff, ny);
			same_bits(what, g, g2, ny);
			free(g2);
		}
		free(g);
	} else {
		ok(0, "%s", what);
	}
	od_free(c, dx);
	od_free(c, dy);
	free(xb);
}

static void test_linear(void)
{
	const struct lin_case cases[] = {
		{ 1, 1, 1, OD_BF16, 1, 0, 0 },	   { 7, 5, 3, OD_F32, 0, 0, 0 },	{ 33, 17, 65, OD_BF16, 1, 0, 0 },
		{ 64, 96, 64, OD_F16, 1, 0, 0 },   { 130, 257, 1000, OD_F32, 1, 3, 1 }, { 300, 960, 2048, OD_BF16, 0, 0, 0 },
		{ 517, 384, 96, OD_BF16, 1, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct lin_case *lc = &cases[i];
		const size_t nx = (size_t)(lc->M * lc->K), ny = (size_t)(lc->M * lc->N);
		int64_t ws[2] = { lc->N, lc->K }, bs[1] = { lc->N };
		for (int exact = 1; exact >= 0; exact--) {
			/* exact: values representable in BF16 (stored as the case's dtype) */
			float *x = rnd(nx, 2), *wf = rnd((size_t)(lc->N * lc->K), 0.5f), *bf = rnd((size_t)lc->N, 1);
			if (exact) {
				bf16ed(x, nx);
				bf16ed(wf, (size_t)(lc->N * lc->K));
			}
			struct htensor *w = mk_tensor("w", lc->dt, 2, ws, wf), *b = mk_tensor("b", OD_F32, 1, bs, bf);
			const struct htensor *bp = lc->bias ? b : NULL;
			/* CPU reference */
			float *dx = up(cpu, x, nx), *dy = od_alloc(cpu, ny);
			int rc = od_linear(cpu, dy, dx, lc->M, &w->t, bp ? &bp->t : NULL);
			float *want = rc ? NULL : down(cpu, dy, ny);
			od_free(cpu, dx);
			od_free(cpu, dy);
			if (!want) {
				ok(0, "cpu linear: %s", od_errmsg());
			} else if (exact) {
				linear_on(gpu, "bf16-exact", lc, x, w, bp, want, 1e-3, 1e-3, 1);
				linear_on(gpu_alt, "bf16-exact gemmex+chunks", lc, x, w, bp, want, 1e-3, 1e-3, 0);
			} else {
				linear_on(gpu, "f32 inputs", lc, x, w, bp, want, 1e-2, 1e-2, 0);
			}
			free(want);
			free(x);
			free(wf);
			free(bf);
		}
	}
	/* The weight cache is keyed by the tensor struct, but a struct reused for
	 * other data (same address, new data pointer) must not return the old copy. */
	{
		int64_t ws[2] = { 8, 16 };
		float *x = bf16ed(rnd(4 * 16, 1), 64), *w1 = bf16ed(rnd(128, 1), 128), *w2 = bf16ed(rnd(128, 1), 128);
		struct htensor *w = mk_tensor("w", OD_BF16, 2, ws, w1), *w2t = mk_tensor("w2", OD_BF16, 2, ws, w2);
		float *dx = up(gpu, x, 64), *dy = od_alloc(gpu, 32);
		check_rc(od_linear(gpu, dy, dx, 4, &w->t, NULL), "linear");
		struct od_tensor reused = w->t; /* same struct address below, other data */
		w->t = w2t->t;
		check_rc(od_linear(gpu, dy, dx, 4, &w->t, NULL), "linear");
		float *g = down(gpu, dy, 32);
		float *cx = up(cpu, x, 64), *cy = od_alloc(cpu, 32);
		od_linear(cpu, cy, cx, 4, &w2t->t, NULL);
		float *e = down(cpu, cy, 32);
		cmp("linear: a tensor struct reused for new data is uploaded again", g, e, 32, 1e-3, 1e-3);
		w->t = reused;
		od_free(gpu, dx);
		od_free(gpu, dy);
		od_free(cpu, cx);
		od_free(cpu, cy);
		free(x);
		free(w1);
		free(w2);
		free(g);
		free(e);
	}
	/* errors as on the CPU */
	{
		int64_t s3[3] = { 2, 2, 2 };
		float z[8] = { 0 };
		struct htensor *w = mk_tensor("w3", OD_F32, 3, s3, z);
		float *d = od_alloc(gpu, 16);
		int rc = od_linear(gpu, d, d, 2, &w->t, NULL);
		ok(rc == OD_EINVAL && strstr(od_errmsg(), "not 2-D"), "linear with a 3-D weight: %s", od_errmsg());
		od_free(gpu, d);
	}
}

/* ---------------------------------------------------------------- attention */

struct att_case {
	const char *name;
	int batch, q_len, kv_len, qh, kvh, hd, qpad, kvpad, opad;
	enum od_kv_map map;
	float softcap, scale, qscale;
	int mask, bias, in_place;
};

static float *run_attention(struct od_ctx *c, const struct att_case *ac, const float *q, const float *k,
			    const float *v, const float *o0, const uint8_t *mask, const float *bias, size_t nq,
			    size_t nkv, size_t no, int *rc)
{
	float *dq = up(c, q, nq), *dk = up(c, k, nkv), *dv = up(c, v, nkv);
	float *dout = ac->in_place ? dq : up(c, o0, no);
	uint8_t *dm = NULL;
	float *db = NULL;
	if (mask) {
		dm = od_alloc_bytes(c, (size_t)ac->batch * ac->kv_len);
		od_upload(c, dm, mask, (size_t)ac->batch * ac->kv_len);
	}
	if (bias)
		db = up(c, bias, (size_t)ac->qh * ac->q_len * ac->kv_len);
	struct od_attention_desc d = {
		.batch = ac->batch, .q_len = ac->q_len, .kv_len = ac->kv_len, .q_heads = ac->qh, .kv_heads = ac->kvh,
		.head_dim = ac->hd, .q_stride = ac->qh * ac->hd + ac->qpad, .kv_stride = ac->kvh * ac->hd + ac->kvpad,
		.o_stride = ac->in_place ? ac->qh * ac->hd + ac->qpad : ac->qh * ac->hd + ac->opad, .kv_map = ac->map,
		.scale = ac->scale, .softcap = ac->softcap, .key_mask = dm, .bias = db,
	};
	*rc = od_attention(c, dout, dq, dk, dv, &d);
	float *out = *rc ? NULL : down(c, dout, no);
	od_free(c, dq);
	od_free(c, dk);
	od_free(c, dv);
	if (!ac->in_place)
		od_free(c, dout);
	od_free(c, dm);
	od_free(c, db);
	return out;
}

static void test_attention(void)
{
	const struct att_case cases[] = {
		{ "NextDiT-tiny self: GQA grouped, soft-cap 30", 2, 77, 77, 4, 2, 24, 0, 0, 0, OD_KV_GROUPED, 30, 0, 3, 0, 0, 0 },
		{ "cross: tiled heads, key mask, batch 1 all masked", 2, 70, 13, 4, 2, 24, 0, 0, 0, OD_KV_TILED, 0, 0, 3, 1, 0, 0 },
		{ "T5-like: bias + mask, scale 1", 2, 45, 45, 4, 4, 64, 0, 0, 0, OD_KV_GROUPED, 0, 1, 0.4f, 1, 1, 0 },
		{ "head_dim 120, 300 keys, padded strides", 1, 300, 300, 4, 1, 120, 8, 4, 3, OD_KV_GROUPED, 30, 0, 3, 0, 0, 0 },
		{ "head_dim 128, whole tiles", 1, 128, 128, 2, 2, 128, 0, 0, 0, OD_KV_GROUPED, 0, 0, 3, 0, 0, 0 },
		{ "head_dim 7, odd strides", 3, 5, 9, 3, 1, 7, 1, 3, 2, OD_KV_TILED, 30, 0, 3, 1, 0, 0 },
		{ "head_dim 200 (GEMM path), soft-cap, bias, mask", 2, 20, 33, 2, 1, 200, 0, 0, 0, OD_KV_GROUPED, 30, 0, 3, 1, 1, 0 },
		{ "head_dim 512, one head (VAE mid-block, GEMM path)", 1, 300, 300, 1, 1, 512, 0, 0, 0, OD_KV_GROUPED, 0, 0, 3, 0, 0, 0 },
		{ "one query, one key", 1, 1, 1, 1, 1, 16, 0, 0, 0, OD_KV_GROUPED, 0, 0, 3, 0, 0, 0 },
		{ "soft-cap 2 (tanh matters)", 1, 200, 150, 2, 2, 64, 0, 0, 0, OD_KV_GROUPED, 2, 0, 6, 0, 0, 0 },
		{ "1100 rows, head_dim 120 (128-row blocks)", 1, 1100, 1100, 2, 1, 120, 0, 0, 0, OD_KV_GROUPED, 30, 0, 3, 0, 0, 0 },
		{ "1030 rows, head_dim 64 (128-row blocks)", 1, 1030, 1030, 1, 1, 64, 0, 0, 0, OD_KV_GROUPED, 0, 0, 3, 1, 0, 0 },
		{ "1030 rows, head_dim 32 (128-row blocks)", 1, 1030, 700, 2, 1, 32, 0, 0, 0, OD_KV_TILED, 30, 0, 3, 0, 0, 0 },
		{ "in place (o == q)", 2, 77, 77, 4, 2, 24, 0, 0, 0, OD_KV_GROUPED, 30, 0, 3, 0, 0, 1 },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		struct att_case ac = cases[ci];
		if (ac.scale == 0)
			ac.scale = 1.0f / sqrtf((float)ac.hd);
		const int qs = ac.qh * ac.hd + ac.qpad, ks = ac.kvh * ac.hd + ac.kvpad,
			  os = ac.in_place ? qs : ac.qh * ac.hd + ac.opad;
		const size_t nq = (size_t)ac.batch * ac.q_len * qs, nkv = (size_t)ac.batch * ac.kv_len * ks,
			     no = (size_t)ac.batch * ac.q_len * os;
		uint8_t *mask = NULL;
		float *bias = NULL;
		if (ac.mask) {
			mask = malloc((size_t)ac.batch * ac.kv_len);
			for (int i = 0; i < ac.batch * ac.kv_len; i++)
				mask[i] = frand() > -0.4f;
			mask[0] = 1;
			if (ac.batch > 1 && ac.map == OD_KV_TILED) /* batch entry 1: every key masked -> zeros */
				memset(mask + ac.kv_len, 0, (size_t)ac.kv_len);
		}
		if (ac.bias)
			bias = rnd((size_t)ac.qh * ac.q_len * ac.kv_len, 2);
		for (int exact = 1; exact >= 0; exact--) {
			float *q = rnd(nq, ac.qscale), *k = rnd(nkv, 1), *v = rnd(nkv, 1), *o0 = rnd(no, 1);
			for (size_t i = 0; i < no; i++)
				o0[i] = 0.125f; /* padding between rows must survive (a value inside the data's range) */
			if (exact) {
				bf16ed(q, nq);
				bf16ed(k, nkv);
				bf16ed(v, nkv);
			}
			int rc;
			float *want = run_attention(cpu, &ac, q, k, v, o0, mask, bias, nq, nkv, no, &rc);
			if (!want) {
				ok(0, "cpu attention %s: %s", ac.name, od_errmsg());
				continue;
			}
			char what[200];
			snprintf(what, sizeof what, "attention %s (%s)", ac.name, exact ? "bf16-exact inputs" : "f32 inputs");
			float *got = run_attention(gpu, &ac, q, k, v, o0, mask, bias, nq, nkv, no, &rc);
			const int gemm_path = ac.hd > 128;
			const double tol = exact ? 1e-2 : 2e-2;
			if (got) {
				cmp(what, got, want, no, tol, tol);
				if (exact) {
					float *again = run_attention(gpu, &ac, q, k, v, o0, mask, bias, nq, nkv, no, &rc);
					if (again)
						same_bits(what, got, again, no);
					free(again);
				}
				free(got);
			} else {
				ok(0, "%s: %s", what, od_errmsg());
			}
			/* every variant of the fused kernel (cuda_attention.cu), whatever the
			 * size would pick */
			if (exact && gemm_path) { /* query rows in blocks of 3000 / kv_len */
				snprintf(what, sizeof what, "attention %s (bf16-exact inputs, blocks of rows)", ac.name);
				got = run_attention(gpu_alt, &ac, q, k, v, o0, mask, bias, nq, nkv, no, &rc);
				if (got)
					cmp(what, got, want, no, tol, tol);
				else
					ok(0, "%s: %s", what, od_errmsg());
				free(got);
			}
			for (int var = 1; exact && !gemm_path && var <= 3; var++) {
				char vs[2] = { (char)('0' + var), 0 }, vwhat[240];
				setenv("OD_CUDA_ATTN", vs, 1);
				got = run_attention(gpu, &ac, q, k, v, o0, mask, bias, nq, nkv, no, &rc);
				unsetenv("OD_CUDA_ATTN");
				snprintf(vwhat, sizeof vwhat, "%s, kernel variant %d", what, var);
				if (got)
					cmp(vwhat, got, want, no, tol, tol);
				else
					ok(0, "%s: %s", vwhat, od_errmsg());
				free(got);
			}
			if (!exact) {
				snprintf(what, sizeof what, "attention %s (float32 path)", ac.name);
				got = run_attention(gpu_simple, &ac, q, k, v, o0, mask, bias, nq, nkv, no, &rc);
				if (got)
					cmp(what, got, want, no, 1e-4, 1e-4);
				else
					ok(0, "%s: %s", what, od_errmsg());
				free(got);
			}
			free(want);
			free(q);
			free(k);
			free(v);
			free(o0);
		}
		free(mask);
		free(bias);
	}
	/* the all-masked batch entry really is zero */
	{
		struct att_case ac = cases[1];
		ac.scale = 1.0f / sqrtf((float)ac.hd);
		const size_t nq = (size_t)ac.batch * ac.q_len * ac.qh * ac.hd, nkv = (size_t)ac.batch * ac.kv_len * ac.kvh * ac.hd;
		uint8_t *mask = calloc((size_t)ac.batch * ac.kv_len, 1);
		memset(mask, 1, (size_t)ac.kv_len);
		float *q = rnd(nq, 3), *k = rnd(nkv, 1), *v = rnd(nkv, 1), *o0 = rnd(nq, 1);
		int rc;
		float *got = run_attention(gpu, &ac, q, k, v, o0, mask, NULL, nq, nkv, nq, &rc);
		int zero = got != NULL;
		for (size_t i = nq / 2; got && i < nq; i++)
			zero &= got[i] == 0.0f;
		ok(zero, "attention: a query row whose keys are all masked gets exactly 0");
		free(got);
		free(mask);
		free(q);
		free(k);
		free(v);
		free(o0);
	}
	{
		struct od_attention_desc d = { .batch = 1, .q_len = 1, .kv_len = 1, .q_heads = 3, .kv_heads = 2,
					       .head_dim = 4, .q_stride = 12, .kv_stride = 8, .o_stride = 12, .scale = 1 };
		float *x = od_alloc(gpu, 16);
		int rc = od_attention(gpu, x, x, x, x, &d);
		ok(rc == OD_EINVAL && strstr(od_errmsg(), "3 query heads for 2 kv heads"), "attention head mismatch: %s",
		   od_errmsg());
		od_free(gpu, x);
	}
}

/* ---------------------------------------------------------------- conv2d */

struct conv_case {
	int N, Cin, H, W, Cout, kh, kw, stride, pad[4], bias;
};

static void conv_on(struct od_ctx *c, const char *label, const struct conv_case *cc, const float *x,
		    const struct htensor *w, const struct htensor *b, const float *want, size_t ny, double tol)
{
	const size_t nx = (size_t)cc->N * cc->Cin * cc->H * cc->W;
	float *dx = up(c, x, nx), *dy = od_alloc(c, ny);
	char what[200];
	snprintf(what, sizeof what, "conv2d %s N%d %d->%d %dx%d k%dx%d s%d pad %d,%d,%d,%d%s", label, cc->N, cc->Cin,
		 cc->Cout, cc->H, cc->W, cc->kh, cc->kw, cc->stride, cc->pad[0], cc->pad[1], cc->pad[2], cc->pad[3],
		 cc->bias ? " +bias" : "");
	if (check_rc(od_conv2d(c, dy, dx, cc->N, cc->Cin, cc->H, cc->W, &w->t, b ? &b->t : NULL, cc->stride, cc->pad),
		     what)) {
		float *g = down(c, dy, ny);
		cmp(what, g, want, ny, tol, tol);
		free(g);
	} else {
		ok(0, "%s", what);
	}
	od_free(c, dx);
	od_free(c, dy);
}

static void test_conv(void)
{
	const struct conv_case cases[] = {
		{ 1, 3, 9, 11, 7, 3, 3, 1, { 1, 1, 1, 1 }, 1 },	 { 2, 5, 16, 16, 4, 3, 3, 2, { 0, 1, 0, 1 }, 1 },
		{ 2, 8, 10, 6, 6, 1, 1, 1, { 0, 0, 0, 0 }, 1 },	 { 1, 4, 7, 5, 3, 3, 3, 1, { 1, 1, 1, 1 }, 0 },
		{ 1, 16, 33, 35, 8, 3, 3, 1, { 1, 1, 1, 1 }, 1 }, { 1, 32, 64, 64, 32, 3, 3, 1, { 1, 1, 1, 1 }, 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct conv_case *cc = &cases[i];
		const int Hout = (cc->H + cc->pad[0] + cc->pad[1] - cc->kh) / cc->stride + 1,
			  Wout = (cc->W + cc->pad[2] + cc->pad[3] - cc->kw) / cc->stride + 1;
		const size_t nx = (size_t)cc->N * cc->Cin * cc->H * cc->W, ny = (size_t)cc->N * cc->Cout * Hout * Wout,
			     nw = (size_t)cc->Cout * cc->Cin * cc->kh * cc->kw;
		int64_t ws[4] = { cc->Cout, cc->Cin, cc->kh, cc->kw }, bs[1] = { cc->Cout };
		for (int exact = 1; exact >= 0; exact--) {
			float *x = rnd(nx, 2), *wf = rnd(nw, 0.5f), *bf = rnd((size_t)cc->Cout, 1);
			if (exact) {
				bf16ed(x, nx);
				bf16ed(wf, nw);
			}
			struct htensor *w = mk_tensor("cw", exact ? OD_BF16 : OD_F32, 4, ws, wf),
				       *b = mk_tensor("cb", OD_F32, 1, bs, bf);
			const struct htensor *bp = cc->bias ? b : NULL;
			float *dx = up(cpu, x, nx), *dy = od_alloc(cpu, ny);
			int rc = od_conv2d(cpu, dy, dx, cc->N, cc->Cin, cc->H, cc->W, &w->t, bp ? &bp->t : NULL, cc->stride,
					   cc->pad);
			float *want = rc ? NULL : down(cpu, dy, ny);
			od_free(cpu, dx);
			od_free(cpu, dy);
			if (!want) {
				ok(0, "cpu conv2d: %s", od_errmsg());
			} else if (exact) {
				conv_on(gpu, "bf16-exact", cc, x, w, bp, want, ny, 1e-3);
				conv_on(gpu_alt, "bf16-exact, bands of rows", cc, x, w, bp, want, ny, 1e-3);
			} else {
				conv_on(gpu, "f32 inputs", cc, x, w, bp, want, ny, 1e-2);
			}
			free(want);
			free(x);
			free(wf);
			free(bf);
		}
	}
}

/* ---------------------------------------------------------------- norms */

enum norm_kind { RMS, LN, RMS_MOD, LN_MOD, RMS_GATE, GN };

struct norm_case {
	enum norm_kind kind;
	const char *name;
	int64_t M;
	int D;
	int use_w, use_b, in_place;
	int64_t group; /* modulation group; GroupNorm: groups */
	int N, silu;   /* GroupNorm: N, C = D, HW = M */
	float eps;
};

static int run_norm(struct od_ctx *c, const struct norm_case *nc, const float *x, const float *a, const float *w,
		    const float *b, const float *mod, size_t n, size_t nmod, float **out)
{
	float *dx = up(c, x, n), *da = a ? up(c, a, n) : NULL, *dw = w ? up(c, w, (size_t)nc->D) : NULL,
	      *db = b ? up(c, b, (size_t)nc->D) : NULL, *dm = mod ? up(c, mod, nmod) : NULL;
	float *dy = nc->in_place || nc->kind == RMS_GATE ? dx : od_alloc(c, n);
	int rc;
	const int ld = 4 * nc->D;
	switch (nc->kind) {
	case RMS:
		rc = od_rmsnorm(c, dy, dx, nc->M, nc->D, dw, nc->eps);
		break;
	case LN:
		rc = od_layernorm(c, dy, dx, nc->M, nc->D, dw, db, nc->eps);
		break;
	case RMS_MOD:
		rc = od_rmsnorm_modulate(c, dy, dx, nc->M, nc->D, dw, nc->eps, dm + 2 * nc->D, ld, nc->group);
		break;
	case LN_MOD:
		rc = od_layernorm_modulate(c, dy, dx, nc->M, nc->D, nc->eps, dm, ld, nc->group);
		break;
	case RMS_GATE:
		rc = od_rmsnorm_gate_add(c, dx, da, nc->M, nc->D, dw, nc->eps, dm + nc->D, ld, nc->group);
		break;
	default:
		rc = od_groupnorm(c, dy, dx, nc->N, nc->D, nc->M, (int)nc->group, dw, db, nc->eps, nc->silu);
		break;
	}
	*out = rc ? NULL : down(c, dy, n);
	od_free(c, dx);
	od_free(c, da);
	od_free(c, dw);
	od_free(c, db);
	od_free(c, dm);
	if (dy != dx)
		od_free(c, dy);
	return rc;
}

static void test_norms(void)
{
	const struct norm_case cases[] = {
		{ RMS, "rmsnorm", 5, 96, 1, 0, 0, 0, 0, 0, 1e-5f },
		{ RMS, "rmsnorm no weight", 3, 3840, 0, 0, 0, 0, 0, 0, 1e-6f },
		{ RMS, "rmsnorm in place", 1000, 24, 1, 0, 1, 0, 0, 0, 1e-5f },
		{ LN, "layernorm", 5, 960, 1, 1, 0, 0, 0, 0, 1e-5f },
		{ LN, "layernorm no affine", 7, 13, 0, 0, 0, 0, 0, 0, 1e-6f },
		{ LN, "layernorm in place", 300, 2048, 1, 1, 1, 0, 0, 0, 1e-6f },
		{ RMS_MOD, "rmsnorm_modulate", 12, 96, 1, 0, 0, 4, 0, 0, 1e-5f },
		{ RMS_MOD, "rmsnorm_modulate in place", 30, 40, 1, 0, 1, 10, 0, 0, 1e-5f },
		{ LN_MOD, "layernorm_modulate", 12, 40, 0, 0, 0, 3, 0, 0, 1e-6f },
		{ LN_MOD, "layernorm_modulate in place", 8, 3840, 0, 0, 1, 8, 0, 0, 1e-6f },
		{ RMS_GATE, "rmsnorm_gate_add", 12, 96, 1, 0, 0, 4, 0, 0, 1e-5f },
		{ RMS_GATE, "rmsnorm_gate_add wide", 6, 3840, 1, 0, 0, 2, 0, 0, 1e-5f },
		{ GN, "groupnorm + silu", 37, 8, 1, 1, 0, 4, 2, 1, 1e-6f },
		{ GN, "groupnorm in place", 37, 8, 1, 1, 1, 2, 3, 0, 1e-6f },
		{ GN, "groupnorm many slices, no affine", 70000, 4, 0, 0, 0, 2, 1, 0, 1e-6f },
		{ GN, "groupnorm 32 groups + silu in place", 4096, 128, 1, 1, 1, 32, 1, 1, 1e-6f },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct norm_case *nc = &cases[i];
		const size_t n = nc->kind == GN ? (size_t)nc->N * nc->D * nc->M : (size_t)nc->M * nc->D;
		const size_t groups = nc->kind == GN ? 1 : (size_t)((nc->M + nc->group - 1) / (nc->group ? nc->group : 1));
		const size_t nmod = groups * 4 * (size_t)nc->D;
		float *x = rnd(n, 3), *a = nc->kind == RMS_GATE ? rnd(n, 2) : NULL;
		for (size_t j = 0; j < n; j += 7)
			x[j] += 1.5f; /* a mean away from zero for the LayerNorms */
		float *w = nc->use_w ? rnd((size_t)nc->D, 1.5f) : NULL, *b = nc->use_b ? rnd((size_t)nc->D, 1) : NULL;
		float *mod = nc->kind == RMS_MOD || nc->kind == LN_MOD || nc->kind == RMS_GATE ? rnd(nmod, 1) : NULL;
		float *want, *got;
		if (run_norm(cpu, nc, x, a, w, b, mod, n, nmod, &want)) {
			ok(0, "cpu %s: %s", nc->name, od_errmsg());
			continue;
		}
		if (run_norm(gpu, nc, x, a, w, b, mod, n, nmod, &got)) {
			ok(0, "%s: %s", nc->name, od_errmsg());
		} else {
			cmp(nc->name, got, want, n, 1e-4, 1e-5);
			free(got);
		}
		free(want);
		free(x);
		free(a);
		free(w);
		free(b);
		free(mod);
	}
	float *d = od_alloc(gpu, 16);
	int rc = od_groupnorm(gpu, d, d, 1, 6, 1, 4, NULL, NULL, 1e-6f, 0);
	ok(rc == OD_EINVAL && strstr(od_errmsg(), "6 channels in 4 groups"), "groupnorm bad groups: %s", od_errmsg());
	od_free(gpu, d);
}

/* ---------------------------------------------------------------- elementwise */

enum ew_kind { ACT, ACT_MUL, BIN, AXPBY, TRANSPOSE, ROPE, HEAD_GATE, UPSAMPLE };

struct ew_case {
	enum ew_kind kind;
	const char *name;
	int64_t n;     /* elements (ACT, ACT_MUL, BIN, AXPBY); rows (TRANSPOSE, ROPE, HEAD_GATE); planes (UPSAMPLE) */
	int p1, p2, p3; /* act/op; cols / heads / H; batch / head_dim / W; ld pad */
	int in_place;
	double rtol, a;
};

static int run_ew(struct od_ctx *c, const struct ew_case *e, const float *x, const float *y0, const float *aux,
		  size_t nx, size_t ny, size_t naux, float **out)
{
	float *dx = up(c, x, nx), *dy = y0 ? up(c, y0, ny) : od_alloc(c, ny), *daux = aux ? up(c, aux, naux) : NULL;
	int rc;
	switch (e->kind) {
	case ACT:
		rc = od_act(c, e->in_place ? dx : dy, dx, e->n, (enum od_act)e->p1);
		break;
	case ACT_MUL:
		rc = od_act_mul(c, e->in_place ? dx : dy, dx, daux, e->n, (enum od_act)e->p1);
		break;
	case BIN:
		rc = od_binary(c, e->in_place == 2 ? daux : e->in_place ? dx : dy, dx, daux, e->n, (enum od_binop)e->p1);
		break;
	case AXPBY:
		rc = od_axpby(c, dy, dx, e->n, 0.3f, -1.7f);
		break;
	case TRANSPOSE:
		rc = od_transpose(c, dy, dx, e->p2, e->n, e->p1);
		break;
	case ROPE:
		rc = od_rope(c, dx, e->n, e->p1, e->p2, e->p1 * e->p2 + e->p3, daux);
		break;
	case HEAD_GATE:
		rc = od_head_gate_add(c, dy, dx, e->n, e->p1, e->p2, daux);
		break;
	default:
		rc = od_upsample2x(c, dy, dx, e->n, e->p1, e->p2);
		break;
	}
	const float *res = e->kind == ROPE || (e->in_place == 1 && e->kind != AXPBY) ? dx
			   : e->in_place == 2					? daux
										: dy;
	size_t nres = res == dx ? nx : res == daux ? naux : ny;
	*out = rc ? NULL : down(c, res, nres);
	od_free(c, dx);
	od_free(c, dy);
	od_free(c, daux);
	return rc;
}

static void test_elementwise(void)
{
	const struct ew_case cases[] = {
		{ ACT, "act silu", 10007, OD_ACT_SILU, 0, 0, 0, 1e-5, 1e-6 },
		{ ACT, "act gelu_tanh", 10007, OD_ACT_GELU_TANH, 0, 0, 0, 1e-5, 1e-6 },
		{ ACT, "act gelu (erf)", 10007, OD_ACT_GELU, 0, 0, 0, 1e-5, 1e-6 },
		{ ACT, "act relu in place", 10007, OD_ACT_RELU, 0, 0, 1, 1e-6, 1e-7 },
		{ ACT, "act identity", 513, OD_ACT_IDENTITY, 0, 0, 0, 1e-6, 1e-7 },
		{ ACT_MUL, "act_mul silu (SwiGLU) in place", 100003, OD_ACT_SILU, 0, 0, 1, 1e-5, 1e-6 },
		{ ACT_MUL, "act_mul gelu_tanh (T5)", 5000, OD_ACT_GELU_TANH, 0, 0, 0, 1e-5, 1e-6 },
		{ BIN, "binary add", (1 << 20) + 3, OD_OP_ADD, 0, 0, 0, 1e-6, 1e-7 },
		{ BIN, "binary mul in place (y == a)", 4099, OD_OP_MUL, 0, 0, 1, 1e-6, 1e-7 },
		{ BIN, "binary add in place (y == b)", 4099, OD_OP_ADD, 0, 0, 2, 1e-6, 1e-7 },
		{ AXPBY, "axpby", 12345, 0, 0, 0, 0, 1e-6, 1e-7 },
		{ TRANSPOSE, "transpose 3 × 37x65", 37, 65, 3, 0, 0, 1e-6, 1e-7 },
		{ TRANSPOSE, "transpose 1x1000", 1, 1000, 1, 0, 0, 1e-6, 1e-7 },
		{ ROPE, "rope 4 heads × 24, strided rows", 10, 4, 24, 8, 0, 1e-6, 1e-7 },
		{ ROPE, "rope 32 heads × 120", 33, 32, 120, 0, 0, 1e-6, 1e-7 },
		{ HEAD_GATE, "head_gate_add", 9, 4, 24, 0, 0, 1e-5, 1e-6 },
		{ UPSAMPLE, "upsample2x", 5, 7, 3, 0, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct ew_case *e = &cases[i];
		size_t nx, ny, naux = 0;
		switch (e->kind) {
		case TRANSPOSE:
			nx = ny = (size_t)e->p2 * e->n * e->p1;
			break;
		case ROPE:
			nx = (size_t)e->n * (e->p1 * e->p2 + e->p3);
			ny = 1;
			naux = (size_t)e->n * (e->p2 / 2) * 2;
			break;
		case HEAD_GATE:
			nx = ny = (size_t)e->n * e->p1 * e->p2;
			naux = (size_t)e->p1;
			break;
		case UPSAMPLE:
			nx = (size_t)e->n * e->p1 * e->p2;
			ny = 4 * nx;
			break;
		default:
			nx = ny = (size_t)e->n;
			naux = e->kind == ACT_MUL || e->kind == BIN ? (size_t)e->n : 0;
		}
		float *x = rnd(nx, 4), *y0 = e->kind == AXPBY || e->kind == HEAD_GATE ? rnd(ny, 2) : NULL,
		      *aux = naux ? rnd(naux, 2) : NULL;
		float *want, *got;
		if (run_ew(cpu, e, x, y0, aux, nx, ny, naux, &want)) {
			ok(0, "cpu %s: %s", e->name, od_errmsg());
			continue;
		}
		if (run_ew(gpu, e, x, y0, aux, nx, ny, naux, &got)) {
			ok(0, "%s: %s", e->name, od_errmsg());
		} else {
			size_t nres = e->kind == ROPE || (e->in_place == 1 && e->kind != AXPBY) ? nx : e->in_place == 2 ? naux : ny;
			cmp(e->name, got, want, nres, e->rtol, e->a);
			free(got);
		}
		free(want);
		free(x);
		free(y0);
		free(aux);
	}
	float *d = od_alloc(gpu, 16);
	ok(od_transpose(gpu, d, d, 1, 4, 4) == OD_EINVAL, "transpose in place is refused: %s", od_errmsg());
	ok(od_act(gpu, d, d, 0, OD_ACT_SILU) == OD_OK && od_rmsnorm(gpu, d, d, 0, 16, NULL, 1e-6f) == OD_OK,
	   "empty calls are no-ops");
	od_free(gpu, d);
}

/* ---------------------------------------------------------------- main */

static struct od_ctx *cuda_with(const char *var, const char *val, const char *var2, const char *val2)
{
	struct od_ctx *c;
	setenv(var, val, 1);
	if (var2)
		setenv(var2, val2, 1);
	int rc = od_ctx_create(&c, OD_DEVICE_CUDA, 0);
	unsetenv(var);
	if (var2)
		unsetenv(var2);
	if (rc) {
		printf("Bail out! a second CUDA context failed: %s\n", od_errmsg());
		exit(1);
	}
	return c;
}


/* ---------------------------------------------------------------- backward passes (training) */

/* Run a backward kernel on both contexts from the same host inputs: each
 * buffer is uploaded to both, the kernel runs through fn, the named outputs
 * come back and are compared. */
struct bw_buf {
	const char *name;
	float *host; /* initial values */
	size_t n;
	int out;     /* compared after the run */
	float *dev[2];
};

static void bw_upload(struct bw_buf *b, int nb)
{
	for (int i = 0; i < nb; i++) {
		b[i].dev[0] = up(cpu, b[i].host, b[i].n);
		b[i].dev[1] = up(gpu, b[i].host, b[i].n);
	}
}

static void bw_compare(const char *what, struct bw_buf *b, int nb, double rtol, double a)
{
	for (int i = 0; i < nb; i++) {
		if (b[i].out) {
			float *e = down(cpu, b[i].dev[0], b[i].n), *g = down(gpu, b[i].dev[1], b[i].n);
			char w[200];
			snprintf(w, sizeof w, "%s: %s", what, b[i].name);
			cmp(w, g, e, b[i].n, rtol, a);
			free(e);
			free(g);
		}
		od_free(cpu, b[i].dev[0]);
		od_free(gpu, b[i].dev[1]);
		free(b[i].host);
	}
}

#define DEV(k) b[k].dev[ci]

static void test_backward(void)
{
	/* linear: float32 GEMMs on the GPU (rtol 1e-4, a 1e-5: only the summation order differs) */
	{
		const int64_t M = 130, N = 257, K = 96;
		int64_t ws[2] = { N, K };
		struct htensor *w = mk_tensor("w", OD_F32, 2, ws, rnd((size_t)(N * K), 0.5f));
		struct bw_buf b[] = { { "dx", rnd((size_t)(M * K), 1), (size_t)(M * K), 1, { 0 } },
				      { "dy", rnd((size_t)(M * N), 1), (size_t)(M * N), 0, { 0 } },
				      { "x", rnd((size_t)(M * K), 1), (size_t)(M * K), 0, { 0 } },
				      { "dW", rnd((size_t)(N * K), 1), (size_t)(N * K), 1, { 0 } },
				      { "db", rnd((size_t)N, 1), (size_t)N, 1, { 0 } } };
		bw_upload(b, 5);
		for (int ci = 0; ci < 2; ci++) {
			struct od_ctx *c = ci ? gpu : cpu;
			check_rc(od_linear_backward_x(c, DEV(0), DEV(1), M, &w->t, 1), "linear_backward_x");
			check_rc(od_linear_backward_w(c, DEV(3), DEV(4), DEV(1), DEV(2), M, N, K), "linear_backward_w");
		}
		bw_compare("linear backward (accumulating)", b, 5, 1e-4, 1e-5);
	}
	/* attention: the same q, k, v, o, lse (the CPU's) and dout on both; float32 throughout */
	struct {
		const char *what;
		int B, Lq, Lk, Hq, Hkv, hd;
		enum od_kv_map map;
		float cap, qs;
		int mask;
	} ac[] = {
		{ "attention backward: self, grouped, soft-cap 30", 2, 77, 77, 4, 2, 24, OD_KV_GROUPED, 30, 4, 0 },
		{ "attention backward: cross, tiled, key mask with a masked batch entry", 2, 40, 23, 4, 2, 24, OD_KV_TILED,
		  0, 1, 1 },
		{ "attention backward: 300 rows, head_dim 120, cap", 1, 300, 300, 2, 1, 120, OD_KV_GROUPED, 30, 2, 0 },
	};
	for (size_t t = 0; t < sizeof ac / sizeof *ac; t++) {
		struct od_attention_desc d = { .batch = ac[t].B, .q_len = ac[t].Lq, .kv_len = ac[t].Lk,
					       .q_heads = ac[t].Hq, .kv_heads = ac[t].Hkv, .head_dim = ac[t].hd,
					       .kv_map = ac[t].map, .softcap = ac[t].cap };
		d.q_stride = d.o_stride = d.q_heads * d.head_dim;
		d.kv_stride = d.kv_heads * d.head_dim + 8;
		d.scale = 1.0f / sqrtf((float)d.head_dim);
		const size_t nq = (size_t)d.batch * d.q_len * d.q_stride, nk = (size_t)d.batch * d.kv_len * d.kv_stride,
			     nl = (size_t)d.batch * d.q_heads * d.q_len;
		uint8_t *mask = NULL, *dmask[2] = { NULL, NULL };
		if (ac[t].mask) {
			mask = malloc((size_t)d.batch * d.kv_len);
			for (int i = 0; i < d.batch * d.kv_len; i++)
				mask[i] = i >= d.kv_len && (i % d.kv_len) < d.kv_len - 5; /* entry 0: all masked */
			for (int ci = 0; ci < 2; ci++) {
				struct od_ctx *c = ci ? gpu : cpu;
				dmask[ci] = od_alloc_bytes(c, (size_t)d.batch * d.kv_len);
				od_upload(c, dmask[ci], mask, (size_t)d.batch * d.kv_len);
			}
		}
		float *q = rnd(nq, ac[t].qs), *k = rnd(nk, 1), *v = rnd(nk, 1);
		/* the CPU's forward gives o and lse for both */
		struct od_attention_desc dc = d;
		dc.key_mask = dmask[0];
		float *cq = up(cpu, q, nq), *ck = up(cpu, k, nk), *cv = up(cpu, v, nk), *co = od_alloc(cpu, nq),
		      *cl = od_alloc(cpu, nl);
		check_rc(od_attention_lse(cpu, co, cl, cq, ck, cv, &dc), "cpu attention_lse");
		float *o = down(cpu, co, nq), *lse = down(cpu, cl, nl);
		/* the GPU's own row statistic against the CPU's */
		{
			struct od_attention_desc dg = d;
			dg.key_mask = dmask[1];
			float *gq = up(gpu, q, nq), *gk = up(gpu, k, nk), *gv = up(gpu, v, nk), *go = od_alloc(gpu, nq),
			      *gl = od_alloc(gpu, nl), *go2 = od_alloc(gpu, nq);
			check_rc(od_attention_lse(gpu, go, gl, gq, gk, gv, &dg), "attention_lse");
			check_rc(od_attention(gpu, go2, gq, gk, gv, &dg), "attention");
			float *h1 = down(gpu, go, nq), *h2 = down(gpu, go2, nq), *hl = down(gpu, gl, nl);
			char w[200];
			snprintf(w, sizeof w, "%s: attention_lse's o is attention()'s", ac[t].what);
			ok(!memcmp(h1, h2, nq * sizeof *h1), "%s", w);
			float *el = malloc(nl * sizeof *el), *al = malloc(nl * sizeof *al);
			int infs = 1;
			for (size_t i = 0; i < nl; i++) {
				infs &= isinf(lse[i]) == isinf(hl[i]);
				el[i] = isinf(lse[i]) ? 0 : lse[i];
				al[i] = isinf(hl[i]) ? 0 : hl[i];
			}
			snprintf(w, sizeof w, "%s: the row statistic lse", ac[t].what);
			ok(infs, "%s: -inf for the same (fully masked) rows", w);
			cmp(w, al, el, nl, 1e-5, 1e-5);
			od_free(gpu, gq), od_free(gpu, gk), od_free(gpu, gv), od_free(gpu, go), od_free(gpu, gl);
			od_free(gpu, go2);
			free(h1), free(h2), free(hl), free(el), free(al);
		}
		struct bw_buf b[] = { { "dq", rnd(nq, 1), nq, 1, { 0 } },   { "dk", rnd(nk, 1), nk, 1, { 0 } },
				      { "dv", rnd(nk, 1), nk, 1, { 0 } },   { "dout", rnd(nq, 1), nq, 0, { 0 } },
				      { "q", q, nq, 0, { 0 } },	    { "k", k, nk, 0, { 0 } },
				      { "v", v, nk, 0, { 0 } },	    { "o", o, nq, 0, { 0 } },
				      { "lse", lse, nl, 0, { 0 } } };
		bw_upload(b, 9);
		for (int ci = 0; ci < 2; ci++) {
			struct od_ctx *c = ci ? gpu : cpu;
			struct od_attention_desc dd = d;
			dd.key_mask = dmask[ci];
			check_rc(od_attention_backward(c, DEV(0), DEV(1), DEV(2), DEV(3), DEV(4), DEV(5), DEV(6), DEV(7),
						       DEV(8), &dd),
				 "attention_backward");
		}
		bw_compare(ac[t].what, b, 9, 1e-4, 1e-4);
		od_free(cpu, cq), od_free(cpu, ck), od_free(cpu, cv), od_free(cpu, co), od_free(cpu, cl);
		for (int ci = 0; ci < 2; ci++)
			if (dmask[ci])
				od_free(ci ? gpu : cpu, dmask[ci]);
		free(mask);
	}
	/* norms: float32 row sums on the GPU (rtol 1e-4, a 1e-5) */
	{
		const int64_t M = 70, G = 30;
		const int D = 96, ld = 4 * D;
		const size_t nx = (size_t)M * D, nm = (size_t)((M + G - 1) / G) * ld;
		for (int kind = 0; kind < 5; kind++) {
			static const char *names[] = { "rmsnorm backward", "layernorm backward",
						       "rmsnorm_modulate backward", "layernorm_modulate backward",
						       "rmsnorm_gate_add backward" };
			float *w = rnd(D, 1);
			for (int i = 0; i < D; i++)
				w[i] += 1.5f;
			struct bw_buf b[] = { { "dx", rnd(nx, 1), nx, 1, { 0 } }, { "dy", rnd(nx, 1), nx, 0, { 0 } },
					      { "x", rnd(nx, 2), nx, 0, { 0 } },  { "w", w, (size_t)D, 0, { 0 } },
					      { "dw", rnd(D, 1), (size_t)D, 1, { 0 } },
					      { "db", rnd(D, 1), (size_t)D, 1, { 0 } },
					      { "mod", rnd(nm, 1), nm, 0, { 0 } },
					      { "dmod", rnd(nm, 1), nm, 1, { 0 } } };
			bw_upload(b, 8);
			for (int ci = 0; ci < 2; ci++) {
				struct od_ctx *c = ci ? gpu : cpu;
				int rc = kind == 0   ? od_rmsnorm_backward(c, DEV(0), DEV(4), DEV(1), DEV(2), M, D, DEV(3), 1e-5f, 1)
					 : kind == 1 ? od_layernorm_backward(c, DEV(0), DEV(4), DEV(5), DEV(1), DEV(2), M, D,
									     DEV(3), 1e-5f, 0)
					 : kind == 2 ? od_rmsnorm_modulate_backward(c, DEV(0), DEV(4), DEV(7), DEV(1), DEV(2),
										    M, D, DEV(3), 1e-5f, DEV(6), ld, G, 1)
					 : kind == 3 ? od_layernorm_modulate_backward(c, DEV(0), DEV(7) + D, DEV(1), DEV(2), M,
										      D, 1e-6f, DEV(6) + D, ld, G, 0)
						     : od_rmsnorm_gate_add_backward(c, DEV(0), DEV(4), DEV(7) + 3 * D, DEV(1),
										    DEV(2), M, D, DEV(3), 1e-5f,
										    DEV(6) + 3 * D, ld, G);
				check_rc(rc, names[kind]);
			}
			bw_compare(names[kind], b, 8, 1e-4, 1e-5);
		}
	}
	/* elementwise */
	{
		const int64_t M = 37;
		const int H = 4, hd = 24, ld = H * hd + 8;
		float *cs = malloc(sizeof(float) * M * hd);
		for (int64_t i = 0; i < M * hd / 2; i++) {
			float a = 3 * frand();
			cs[2 * i] = cosf(a), cs[2 * i + 1] = sinf(a);
		}
		const size_t nr = (size_t)M * ld, ny = (size_t)M * H * hd;
		struct bw_buf b[] = { { "rope dx", rnd(nr, 1), nr, 1, { 0 } },
				      { "cos_sin", cs, (size_t)M * hd, 0, { 0 } },
				      { "head gate dy", rnd(ny, 1), ny, 1, { 0 } },
				      { "head gate dgate", rnd(H, 1), (size_t)H, 1, { 0 } },
				      { "dout", rnd(ny, 1), ny, 0, { 0 } },
				      { "y", rnd(ny, 1), ny, 0, { 0 } },
				      { "gate", rnd(H, 2), (size_t)H, 0, { 0 } } };
		bw_upload(b, 7);
		for (int ci = 0; ci < 2; ci++) {
			struct od_ctx *c = ci ? gpu : cpu;
			check_rc(od_rope_backward(c, DEV(0), M, H, hd, ld, DEV(1)), "rope_backward");
			check_rc(od_head_gate_add_backward(c, DEV(2), DEV(3), DEV(4), DEV(5), M, H, hd, DEV(6)),
				 "head_gate_add_backward");
		}
		bw_compare("rope and head gate backward", b, 7, 1e-5, 1e-6);
		const enum od_act acts[] = { OD_ACT_SILU, OD_ACT_GELU_TANH, OD_ACT_GELU, OD_ACT_RELU };
		for (int ai = 0; ai < 4; ai++) {
			const size_t n = 10007;
			/* act_backward writes e[0], then act_mul_backward overwrites it with y */
			struct bw_buf e[] = { { "act_mul y", rnd(n, 1), n, 1, { 0 } }, { "da", rnd(n, 1), n, 1, { 0 } },
					      { "db", rnd(n, 1), n, 1, { 0 } },	    { "dy", rnd(n, 1), n, 0, { 0 } },
					      { "a", rnd(n, 4), n, 0, { 0 } },	    { "b", rnd(n, 2), n, 0, { 0 } } };
			bw_upload(e, 6);
			for (int ci = 0; ci < 2; ci++) {
				struct od_ctx *c = ci ? gpu : cpu;
				check_rc(od_act_backward(c, e[0].dev[ci], e[3].dev[ci], e[4].dev[ci], n, acts[ai]),
					 "act_backward");
				check_rc(od_act_mul_backward(c, e[1].dev[ci], e[2].dev[ci], e[0].dev[ci], e[3].dev[ci],
							     e[4].dev[ci], e[5].dev[ci], n, acts[ai]),
					 "act_mul_backward");
			}
			char w[64];
			snprintf(w, sizeof w, "activation %d backward", (int)acts[ai]);
			bw_compare(w, e, 6, 1e-5, 1e-6);
		}
	}
}
#undef DEV
/* ---------------------------------------------------------------- VAE backward kernels
 * Float32 on both sides (the GPU twins do not round to BF16): conv2d backward
 * sums up to a few thousand products in another order (rtol 1e-4, a 1e-5);
 * groupnorm backward sums in double on both (rtol 1e-4, a 1e-5: float32
 * normalisation and possible fused multiply-adds on the GPU); the elementwise
 * posterior differs by expf ulps (rtol 1e-5, a 1e-6); upsample backward
 * adds in the same order (rtol 1e-6, a 1e-7). */

static float *on_dev(struct od_ctx *c, const float *h, size_t n, const float *init_out)
{
	return up(c, init_out ? init_out : h, n);
}

static void test_vae_backward(void)
{
	/* conv2d_backward: ResBlock 3x3, the down-sampler's stride 2 with (0,1,0,1), a 1x1 shortcut */
	const struct conv_case cases[] = {
		{ 2, 6, 12, 10, 5, 3, 3, 1, { 1, 1, 1, 1 }, 1 },
		{ 1, 8, 16, 16, 8, 3, 3, 2, { 0, 1, 0, 1 }, 1 },
		{ 2, 12, 7, 9, 4, 1, 1, 1, { 0, 0, 0, 0 }, 1 },
		{ 1, 32, 32, 32, 32, 3, 3, 1, { 1, 1, 1, 1 }, 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct conv_case *cc = &cases[i];
		const int Hout = (cc->H + cc->pad[0] + cc->pad[1] - cc->kh) / cc->stride + 1,
			  Wout = (cc->W + cc->pad[2] + cc->pad[3] - cc->kw) / cc->stride + 1;
		const size_t nx = (size_t)cc->N * cc->Cin * cc->H * cc->W, ny = (size_t)cc->N * cc->Cout * Hout * Wout,
			     nw = (size_t)cc->Cout * cc->Cin * cc->kh * cc->kw;
		int64_t ws[4] = { cc->Cout, cc->Cin, cc->kh, cc->kw };
		float *x = rnd(nx, 2), *wf = rnd(nw, 0.5f), *dyh = rnd(ny, 1), *w0 = rnd(nw, 1), *b0 = rnd(cc->Cout, 1);
		struct htensor *w = mk_tensor("bw", OD_F32, 4, ws, wf);
		float *res[2][3];
		for (int d = 0; d < 2; d++) {
			struct od_ctx *c = d ? gpu : cpu;
			float *dx = od_alloc(c, nx), *dw = on_dev(c, w0, nw, NULL), *db = on_dev(c, b0, cc->Cout, NULL);
			float *ddy = up(c, dyh, ny), *dxin = up(c, x, nx);
			int rc = od_conv2d_backward(c, dx, dw, db, ddy, dxin, cc->N, cc->Cin, cc->H, cc->W, &w->t, cc->stride,
						    cc->pad);
			check_rc(rc, "conv2d backward");
			res[d][0] = down(c, dx, nx);
			res[d][1] = down(c, dw, nw);
			res[d][2] = down(c, db, cc->Cout);
			od_free(c, dx), od_free(c, dw), od_free(c, db), od_free(c, ddy), od_free(c, dxin);
		}
		char what[160];
		snprintf(what, sizeof what, "conv2d backward %dx%dx%dx%d k%d s%d: dx", cc->N, cc->Cin, cc->H, cc->W, cc->kh,
			 cc->stride);
		cmp(what, res[1][0], res[0][0], nx, 1e-4, 1e-5);
		snprintf(what, sizeof what, "conv2d backward %dx%dx%dx%d k%d s%d: dw (+=)", cc->N, cc->Cin, cc->H, cc->W,
			 cc->kh, cc->stride);
		cmp(what, res[1][1], res[0][1], nw, 1e-4, 1e-5);
		snprintf(what, sizeof what, "conv2d backward %dx%dx%dx%d k%d s%d: db (+=)", cc->N, cc->Cin, cc->H, cc->W,
			 cc->kh, cc->stride);
		cmp(what, res[1][2], res[0][2], cc->Cout, 1e-4, 1e-5);
		for (int d = 0; d < 2; d++)
			for (int k = 0; k < 3; k++)
				free(res[d][k]);
		free(x), free(wf), free(dyh), free(w0), free(b0);
	}
	/* groupnorm_backward, with and without SiLU and affine, in place */
	const struct {
		int N, C, groups, silu, affine, in_place;
		int64_t HW;
	} gcases[] = { { 2, 64, 32, 1, 1, 0, 100 }, { 1, 32, 8, 0, 1, 1, 4096 }, { 3, 12, 4, 1, 0, 0, 30 } };
	for (size_t i = 0; i < sizeof gcases / sizeof gcases[0]; i++) {
		const int N = gcases[i].N, C = gcases[i].C, G = gcases[i].groups, silu = gcases[i].silu;
		const int aff = gcases[i].affine, inp = gcases[i].in_place;
		const int64_t HW = gcases[i].HW;
		const size_t n = (size_t)N * C * HW;
		float *x = rnd(n, 2), *w = rnd(C, 1), *b = rnd(C, 1), *dyh = rnd(n, 1), *w0 = rnd(C, 1), *b0 = rnd(C, 1);
		float *res[2][3];
		for (int d = 0; d < 2; d++) {
			struct od_ctx *c = d ? gpu : cpu;
			float *dxin = up(c, x, n), *ddy = up(c, dyh, n), *dx = inp ? ddy : od_alloc(c, n);
			float *dw = up(c, w0, C), *db = up(c, b0, C), *dwt = up(c, w, C), *dbt = up(c, b, C);
			check_rc(od_groupnorm_backward(c, dx, aff ? dw : NULL, aff ? db : NULL, ddy, dxin, N, C, HW, G,
						       aff ? dwt : NULL, aff ? dbt : NULL, 1e-6f, silu),
				 "groupnorm backward");
			res[d][0] = down(c, dx, n);
			res[d][1] = down(c, dw, C);
			res[d][2] = down(c, db, C);
			od_free(c, dxin), od_free(c, ddy), od_free(c, dw), od_free(c, db), od_free(c, dwt), od_free(c, dbt);
			if (!inp)
				od_free(c, dx);
		}
		char what[160];
		snprintf(what, sizeof what, "groupnorm backward N%d C%d G%d HW%lld%s%s%s: dx", N, C, G, (long long)HW,
			 silu ? " +silu" : "", aff ? "" : " no affine", inp ? " in place" : "");
		cmp(what, res[1][0], res[0][0], n, 1e-4, 1e-5);
		if (aff) {
			snprintf(what, sizeof what, "groupnorm backward N%d C%d G%d: dw, db (+=)", N, C, G);
			cmp(what, res[1][1], res[0][1], C, 1e-4, 1e-5);
			cmp(what, res[1][2], res[0][2], C, 1e-4, 1e-5);
		}
		for (int d = 0; d < 2; d++)
			for (int k = 0; k < 3; k++)
				free(res[d][k]);
		free(x), free(w), free(b), free(dyh), free(w0), free(b0);
	}
	/* upsample2x_backward; the posterior */
	{
		const int planes = 37, H = 13, W = 21;
		const size_t nx = (size_t)planes * H * W;
		float *dy4 = rnd(4 * nx, 1), *r[2];
		for (int d = 0; d < 2; d++) {
			struct od_ctx *c = d ? gpu : cpu;
			float *ddy = up(c, dy4, 4 * nx), *o = od_alloc(c, nx);
			check_rc(od_upsample2x_backward(c, o, ddy, planes, H, W), "upsample2x backward");
			r[d] = down(c, o, nx);
			od_free(c, ddy), od_free(c, o);
		}
		cmp("upsample2x backward", r[1], r[0], nx, 1e-6, 1e-7);
		free(r[0]), free(r[1]), free(dy4);
	}
	{
		const int N = 3, L = 16;
		const int64_t hw = 64, nl = L * hw;
		float *m = rnd((size_t)N * 2 * nl, 3), *eps = rnd((size_t)N * nl, 2), *dz = rnd((size_t)N * nl, 1);
		m[nl + 3] = -40, m[nl + 5] = 25;
		float *r[2][3];
		for (int d = 0; d < 2; d++) {
			struct od_ctx *c = d ? gpu : cpu;
			float *dm = up(c, m, (size_t)N * 2 * nl), *de = up(c, eps, (size_t)N * nl), *ddz = up(c, dz, (size_t)N * nl);
			float *z = od_alloc(c, (size_t)N * nl), *kl = od_alloc(c, (size_t)N * nl), *g = od_alloc(c, (size_t)N * 2 * nl);
			check_rc(od_posterior(c, z, kl, dm, de, N, L, hw), "posterior");
			check_rc(od_posterior_backward(c, g, ddz, dm, de, N, L, hw, 0.25f), "posterior backward");
			r[d][0] = down(c, z, (size_t)N * nl);
			r[d][1] = down(c, kl, (size_t)N * nl);
			r[d][2] = down(c, g, (size_t)N * 2 * nl);
			od_free(c, dm), od_free(c, de), od_free(c, ddz), od_free(c, z), od_free(c, kl), od_free(c, g);
		}
		cmp("posterior z", r[1][0], r[0][0], (size_t)N * nl, 1e-5, 1e-6);
		cmp("posterior KL terms", r[1][1], r[0][1], (size_t)N * nl, 1e-5, 1e-6);
		cmp("posterior backward", r[1][2], r[0][2], (size_t)N * 2 * nl, 1e-5, 1e-6);
		for (int d = 0; d < 2; d++)
			for (int k = 0; k < 3; k++)
				free(r[d][k]);
		free(m), free(eps), free(dz);
	}
}

int main(void)
{
	if (od_ctx_create(&gpu, OD_DEVICE_CUDA, 0)) {
		printf("1..0 # SKIP no CUDA device: %s\n", od_errmsg());
		fflush(stdout);
		return 0;
	}
	if (od_ctx_create(&cpu, OD_DEVICE_CPU, 0)) {
		printf("Bail out! cpu context: %s\n", od_errmsg());
		return 1;
	}
	gpu_simple = cuda_with("OD_CUDA_ATTENTION", "simple", NULL, NULL);
	/* cublasGemmEx + bias kernel, and tiny im2col/conversion chunks */
	gpu_alt = cuda_with("OD_CUDA_GEMM", "gemmex", "OD_CUDA_COL_ELEMS", "3000");
	ok(!strcmp(gpu->k->name, "cuda"), "the CUDA kernel table is loaded (%s)", gpu->k->name);
	test_memory();
	test_param();
	test_elementwise();
	test_norms();
	test_linear();
	test_conv();
	test_attention();
	test_backward();
	test_vae_backward();
	od_ctx_destroy(gpu_alt);
	od_ctx_destroy(gpu_simple);
	size_t left = gpu->bytes_now;
	od_ctx_destroy(gpu);
	od_ctx_destroy(cpu);
	free_tensors();
	printf("# GPU bytes still counted before destroy: %zu (weight copies, params, workspace)\n", left);
	return tap_done();
}
