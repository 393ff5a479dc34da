/*
 * test_kernels_backward.c: every backward kernel of the kernel table
 * (backend.h, numerics.md §11.7-§11.13) against central finite differences of
 * an independent float64 forward pass, on small random problems with every
 * option of the contract (soft-cap on and off, grouped and tiled head maps,
 * key masks with a fully masked row, several query blocks, per-group
 * modulation whose groups straddle the reduction tiles, accumulation into
 * non-zero buffers); and identical bytes for 1 and 2 threads.
 *
 * The loss is Σ R·y for a fixed random R (so R is dy); each input's gradient
 * from the float32 kernel must match (L(θ+h) − L(θ−h))/2h, h = 1e-4, computed
 * entirely in float64, within 1e-4 of the tensor's largest gradient plus 1e-3
 * relative (float32 rounding is ~1e-6; a wrong formula is off by far more).
 */
#include "od.h"
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
static float *dup(const float *x, size_t n)
{
	float *p = malloc(n * sizeof *p);
	memcpy(p, x, n * sizeof *p);
	return p;
}
static struct od_tensor tensor(const char *name, enum od_dtype dt, int64_t rows, int64_t cols, const float *src)
{
	struct od_tensor t = { .name = name, .dtype = dt, .ndim = 2, .shape = { rows, cols } };
	size_t n = (size_t)(rows * cols);
	void *d = malloc(n * od_dtype_size(dt));
	od_from_f32(d, src, dt, n);
	t.data = d;
	t.nbytes = n * od_dtype_size(dt);
	return t;
}

/* ---- the finite-difference harness: the reference loss reads its inputs from
 * P (float64 copies of the kernel's float32 inputs) */
static double *P;
static double (*ref_loss)(void);

/* Compare the kernel's gradient g of input region [off, off+n) of P with
 * central differences at up to maxpts evenly spread elements; g0 (optional) is
 * the buffer's value before a kernel that accumulates. */
static void fd_check(const char *what, const float *g, const float *g0, size_t off, size_t n, size_t maxpts)
{
	size_t pts = n < maxpts ? n : maxpts;
	float *a = malloc(pts * sizeof *a), *e = malloc(pts * sizeof *e);
	double mx = 0;
	for (size_t i = 0; i < pts; i++) {
		size_t k = pts == n ? i : (i * n) / pts + (i * 7) % (n / pts ? n / pts : 1);
		double *p = &P[off + k], save = *p, h = 1e-4 * (fabs(save) > 1 ? fabs(save) : 1);
		*p = save + h;
		double lp = ref_loss();
		*p = save - h;
		double lm = ref_loss();
		*p = save;
		double fd = (lp - lm) / (2 * h);
		e[i] = (float)fd;
		a[i] = g0 ? g[k] - g0[k] : g[k];
		if (fabs(fd) > mx)
			mx = fabs(fd);
	}
	ok_close(a, e, pts, 1e-4 * mx + 1e-9, 1e-3, what);
	free(a), free(e);
}

static double *to_double(const float *x, size_t n, double *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = x[i];
	return dst;
}

/* ------------------------------------------------------------------ linear */
static int lM, lN, lK;
static const float *lR;
static double loss_linear(void)
{
	const double *x = P, *w = P + lM * lK, *b = w + lN * lK;
	double L = 0;
	for (int m = 0; m < lM; m++)
		for (int n = 0; n < lN; n++) {
			double y = b[n];
			for (int k = 0; k < lK; k++)
				y += x[m * lK + k] * w[n * lK + k];
			L += lR[m * lN + n] * y;
		}
	return L;
}

static void test_linear(struct od_ctx *c)
{
	lM = 7, lK = 11, lN = 5;
	float *x = rnd((size_t)lM * lK, 1), *w = rnd((size_t)lN * lK, 1), *b = rnd(lN, 1), *R = rnd((size_t)lM * lN, 1);
	lR = R;
	size_t nx = (size_t)lM * lK, nw = (size_t)lN * lK;
	P = malloc((nx + nw + lN) * sizeof *P);
	to_double(x, nx, P), to_double(w, nw, P + nx), to_double(b, lN, P + nx + nw);
	ref_loss = loss_linear;
	struct od_tensor tw = tensor("w", OD_F32, lN, lK, w), tb16 = tensor("w", OD_BF16, lN, lK, w);
	float *dx = rnd(nx, 1), *dx0 = dup(dx, nx), *dw = rnd(nw, 1), *dw0 = dup(dw, nw), *db = rnd(lN, 1),
	      *db0 = dup(db, lN), *dxa = dup(dx, nx);
	ok(od_linear_backward_x(c, dx, R, lM, &tw, 0) == OD_OK, "linear_backward_x runs");
	fd_check("linear: dx", dx, NULL, 0, nx, 100);
	ok(od_linear_backward_x(c, dxa, R, lM, &tw, 1) == OD_OK, "linear_backward_x acc runs");
	fd_check("linear: dx accumulated onto a non-zero buffer", dxa, dx0, 0, nx, 100);
	ok(od_linear_backward_w(c, dw, db, R, x, lM, lN, lK) == OD_OK, "linear_backward_w runs");
	fd_check("linear: dW accumulated", dw, dw0, nx, nw, 100);
	fd_check("linear: db accumulated", db, db0, nx + nw, lN, 100);
	/* BF16 weights are widened: the same bytes as the float32 copy of them */
	float *w16 = malloc(nw * sizeof *w16), *d1 = malloc(nx * sizeof *d1), *d2 = malloc(nx * sizeof *d2);
	od_to_f32(w16, tb16.data, OD_BF16, nw);
	struct od_tensor tw16f = tensor("w", OD_F32, lN, lK, w16);
	od_linear_backward_x(c, d1, R, lM, &tb16, 0);
	od_linear_backward_x(c, d2, R, lM, &tw16f, 0);
	ok(!memcmp(d1, d2, nx * sizeof *d1), "linear_backward_x: a BF16 weight gives the bytes of its float32 widening");
	free(w16), free(d1), free(d2), free((void *)tw16f.data), free((void *)tb16.data), free((void *)tw.data);
	free(x), free(w), free(b), free(R), free(dx), free(dx0), free(dw), free(dw0), free(db), free(db0), free(dxa), free(P);

	/* shapes that make several tiles in every direction, against a direct float64 product */
	const int M = 300, K = 70, N = 530;
	x = rnd((size_t)M * K, 1), w = rnd((size_t)N * K, 1), R = rnd((size_t)M * N, 1);
	tw = tensor("w", OD_F32, N, K, w);
	dx = malloc(sizeof(float) * M * K), dw = calloc((size_t)N * K, sizeof(float)), db = calloc(N, sizeof(float));
	float *ex = malloc(sizeof(float) * M * K), *ew = malloc(sizeof(float) * N * K), *eb = malloc(sizeof(float) * N);
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++) {
			double s = 0;
			for (int n = 0; n < N; n++)
				s += (double)R[m * N + n] * w[n * K + k];
			ex[m * K + k] = (float)s;
		}
	for (int n = 0; n < N; n++) {
		double sb = 0;
		for (int m = 0; m < M; m++)
			sb += R[m * N + n];
		eb[n] = (float)sb;
		for (int k = 0; k < K; k++) {
			double s = 0;
			for (int m = 0; m < M; m++)
				s += (double)R[m * N + n] * x[m * K + k];
			ew[n * K + k] = (float)s;
		}
	}
	od_linear_backward_x(c, dx, R, M, &tw, 0);
	od_linear_backward_w(c, dw, db, R, x, M, N, K);
	ok_close(dx, ex, (size_t)M * K, 1e-4, 1e-4, "linear: dx over many tiles (300x530 · 530x70)");
	ok_close(dw, ew, (size_t)N * K, 1e-4, 1e-4, "linear: dW over many tiles");
	ok_close(db, eb, N, 1e-4, 1e-4, "linear: db over many column slices");
	free(x), free(w), free(R), free(dx), free(dw), free(db), free(ex), free(ew), free(eb), free((void *)tw.data);
}

/* ------------------------------------------------------------------ attention */
static struct od_attention_desc aD;
static const float *aR, *aBias;
static const uint8_t *aMask;
static size_t aNq, aNk;

/* float64 attention of the contract (backend.h); out (optional) gets o, lse (optional) the row statistic */
static double ref_attention(const double *q, const double *k, const double *v, double *lse_out)
{
	const struct od_attention_desc *d = &aD;
	int rep = d->q_heads / d->kv_heads;
	double *s = malloc(sizeof(double) * d->kv_len), L = 0;
	for (int b = 0; b < d->batch; b++)
		for (int h = 0; h < d->q_heads; h++) {
			int kh = d->kv_map == OD_KV_GROUPED ? h / rep : h % d->kv_heads;
			for (int i = 0; i < d->q_len; i++) {
				const double *qi = q + ((size_t)b * d->q_len + i) * d->q_stride + h * d->head_dim;
				double mx = -INFINITY;
				for (int j = 0; j < d->kv_len; j++) {
					const double *kj = k + ((size_t)b * d->kv_len + j) * d->kv_stride + kh * d->head_dim;
					double dot = 0;
					for (int t = 0; t < d->head_dim; t++)
						dot += qi[t] * kj[t];
					dot *= d->scale;
					if (d->softcap > 0)
						dot = d->softcap * tanh(dot / d->softcap);
					if (aBias)
						dot += aBias[((size_t)h * d->q_len + i) * d->kv_len + j];
					if (aMask && !aMask[b * d->kv_len + j])
						dot = -INFINITY;
					s[j] = dot;
					if (dot > mx)
						mx = dot;
				}
				if (lse_out)
					lse_out[((size_t)b * d->q_heads + h) * d->q_len + i] = -INFINITY;
				if (mx == -INFINITY)
					continue;
				double sum = 0;
				for (int j = 0; j < d->kv_len; j++)
					sum += (s[j] = exp(s[j] - mx));
				if (lse_out)
					lse_out[((size_t)b * d->q_heads + h) * d->q_len + i] = mx + log(sum);
				for (int t = 0; t < d->head_dim; t++) {
					double acc = 0;
					for (int j = 0; j < d->kv_len; j++)
						acc += s[j] * v[((size_t)b * d->kv_len + j) * d->kv_stride + kh * d->head_dim + t];
					L += aR[((size_t)b * d->q_len + i) * d->o_stride + h * d->head_dim + t] * acc / sum;
				}
			}
		}
	free(s);
	return L;
}
static double loss_attention(void)
{
	return ref_attention(P, P + aNq, P + aNq + aNk, NULL);
}

static void test_attention(struct od_ctx *c)
{
	struct {
		int B, Lq, Lk, Hq, Hkv, hd;
		enum od_kv_map map;
		float softcap, qscale;
		int mask, bias;
		size_t pts;
		const char *what;
	} cases[] = {
		{ 2, 9, 9, 4, 2, 6, OD_KV_GROUPED, 30, 12, 0, 0, 60, "self, GQA grouped, soft-cap 30, logits up to ~30" },
		{ 2, 9, 9, 4, 2, 6, OD_KV_GROUPED, 0, 3, 0, 0, 60, "self, GQA grouped, no cap" },
		{ 2, 7, 5, 4, 2, 6, OD_KV_TILED, 0, 2, 1, 0, 60, "cross, GQA tiled, key mask" },
		{ 2, 5, 6, 2, 1, 4, OD_KV_TILED, 2, 3, 2, 0, 60, "strong soft-cap 2, a fully masked batch entry" },
		{ 1, 260, 11, 2, 2, 4, OD_KV_GROUPED, 30, 8, 1, 1, 40, "260 query rows (two blocks), bias, mask, cap" },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
		struct od_attention_desc d = { .batch = cases[ci].B, .q_len = cases[ci].Lq, .kv_len = cases[ci].Lk,
					       .q_heads = cases[ci].Hq, .kv_heads = cases[ci].Hkv,
					       .head_dim = cases[ci].hd, .kv_map = cases[ci].map,
					       .softcap = cases[ci].softcap };
		d.q_stride = d.q_heads * d.head_dim + 3; /* strides beyond the heads must be honoured */
		d.kv_stride = d.kv_heads * d.head_dim + 2;
		d.o_stride = d.q_heads * d.head_dim + 1;
		d.scale = 1.0f / sqrtf((float)d.head_dim);
		size_t nq = (size_t)d.batch * d.q_len * d.q_stride, nk = (size_t)d.batch * d.kv_len * d.kv_stride,
		       no = (size_t)d.batch * d.q_len * d.o_stride, nl = (size_t)d.batch * d.q_heads * d.q_len;
		float *q = rnd(nq, cases[ci].qscale), *k = rnd(nk, 1), *v = rnd(nk, 1), *R = rnd(no, 1);
		uint8_t *mask = NULL;
		float *bias = NULL;
		if (cases[ci].mask) {
			mask = malloc((size_t)d.batch * d.kv_len);
			for (int i = 0; i < d.batch * d.kv_len; i++)
				mask[i] = (i % d.kv_len) < d.kv_len - 1 - (i / d.kv_len) && (i % 3 != 1);
			if (cases[ci].mask == 2)
				memset(mask, 0, d.kv_len); /* batch entry 0: every key masked */
			d.key_mask = mask;
		}
		if (cases[ci].bias)
			d.bias = bias = rnd((size_t)d.q_heads * d.q_len * d.kv_len, 2);
		aD = d, aR = R, aMask = mask, aBias = bias, aNq = nq, aNk = nk;
		P = malloc((nq + 2 * nk) * sizeof *P);
		to_double(q, nq, P), to_double(k, nk, P + nq), to_double(v, nk, P + nq + nk);
		ref_loss = loss_attention;
		float *o = calloc(no, sizeof *o), *o2 = calloc(no, sizeof *o2), *lse = malloc(nl * sizeof *lse),
		      *el = malloc(nl * sizeof *el);
		double *dl = malloc(nl * sizeof *dl);
		ok(od_attention_lse(c, o, lse, q, k, v, &d) == OD_OK, "attention_lse runs: %s", cases[ci].what);
		od_attention(c, o2, q, k, v, &d);
		ok(!memcmp(o, o2, no * sizeof *o), "attention_lse: the output bytes of attention()");
		ref_attention(P, P + nq, P + nq + nk, dl);
		int inf_ok = 1;
		for (size_t i = 0; i < nl; i++) {
			if (isinf(dl[i]) || isinf(lse[i])) {
				inf_ok &= isinf(dl[i]) && isinf(lse[i]);
				el[i] = lse[i] = 0;
			} else {
				el[i] = (float)dl[i];
			}
		}
		ok(inf_ok, "attention_lse: -inf exactly for the fully masked rows");
		ok_close(lse, el, nl, 1e-5, 1e-5, "attention_lse: the row statistic");
		float *dq = rnd(nq, 1), *dq0 = dup(dq, nq), *dk = calloc(nk, sizeof *dk), *dv = calloc(nk, sizeof *dv);
		ok(od_attention_backward(c, dq, dk, dv, R, q, k, v, o, lse, &d) == OD_OK, "attention_backward runs");
		char w[200];
		snprintf(w, sizeof w, "attention %s: dq (accumulated)", cases[ci].what);
		fd_check(w, dq, dq0, 0, nq, cases[ci].pts);
		snprintf(w, sizeof w, "attention %s: dk", cases[ci].what);
		fd_check(w, dk, NULL, nq, nk, cases[ci].pts);
		snprintf(w, sizeof w, "attention %s: dv", cases[ci].what);
		fd_check(w, dv, NULL, nq + nk, nk, cases[ci].pts);
		free(q), free(k), free(v), free(R), free(mask), free(bias), free(o), free(o2), free(lse), free(el), free(dl);
		free(dq), free(dq0), free(dk), free(dv), free(P);
	}
}

/* ------------------------------------------------------------------ norms */
enum { V_RMS, V_RMS_NOW, V_LN, V_LN_NOAFF, V_RMS_MOD, V_LN_MOD, V_GATE, V_COUNT };
static int nV, nM, nD, nLd;
static int64_t nG;
static const float *nR;
static double loss_norm(void)
{
	const double *x = P, *w = P + nM * nD, *b = w + nD, *s = b + nD;
	double L = 0;
	for (int m = 0; m < nM; m++) {
		const double *xr = x + m * nD, *sr = s + (m / nG) * nLd;
		double mean = 0, ms = 0, var = 0;
		for (int d = 0; d < nD; d++)
			mean += xr[d], ms += xr[d] * xr[d];
		mean /= nD, ms /= nD;
		for (int d = 0; d < nD; d++)
			var += (xr[d] - mean) * (xr[d] - mean);
		var /= nD;
		for (int d = 0; d < nD; d++) {
			double r = xr[d] / sqrt(ms + 1e-5), l = (xr[d] - mean) / sqrt(var + 1e-6), y;
			switch (nV) {
			case V_RMS: y = r * w[d]; break;
			case V_RMS_NOW: y = r; break;
			case V_LN: y = l * w[d] + b[d]; break;
			case V_LN_NOAFF: y = l; break;
			case V_RMS_MOD: y = r * w[d] * (1 + sr[d]); break;
			case V_LN_MOD: y = l * (1 + sr[d]); break;
			default: y = tanh(sr[nD + d]) * r * w[d]; break; /* the gate sits at column D; the residual is a constant */
			}
			L += nR[m * nD + d] * y;
		}
	}
	return L;
}

static void norm_case(struct od_ctx *c, int M, int D, int64_t G, size_t pts, const char *tag)
{
	nM = M, nD = D, nG = G, nLd = 2 * D + 3;
	const int64_t groups = (M + G - 1) / G;
	size_t nx = (size_t)M * D, ns = (size_t)groups * nLd;
	float *x = rnd(nx, 2), *w = rnd(D, 1), *b = rnd(D, 1), *s = rnd(ns, 1), *R = rnd(nx, 1);
	for (int i = 0; i < D; i++)
		w[i] += 1.5f;
	nR = R;
	P = malloc((nx + 2 * D + ns) * sizeof *P);
	to_double(x, nx, P), to_double(w, D, P + nx), to_double(b, D, P + nx + D), to_double(s, ns, P + nx + 2 * D);
	ref_loss = loss_norm;
	const char *names[V_COUNT] = { "rmsnorm", "rmsnorm without weight", "layernorm", "layernorm without affine",
				       "rmsnorm_modulate", "layernorm_modulate", "rmsnorm_gate_add" };
	for (nV = 0; nV < V_COUNT; nV++) {
		const int acc = nV % 2; /* half of them accumulate into dx */
		float *dx = rnd(nx, 1), *dx0 = dup(dx, nx), *dw = rnd(D, 1), *dw0 = dup(dw, D), *db = rnd(D, 1),
		      *db0 = dup(db, D), *ds = rnd(ns, 1), *ds0 = dup(ds, ns);
		int rc;
		const float eps_r = 1e-5f, eps_l = 1e-6f;
		switch (nV) {
		case V_RMS: rc = od_rmsnorm_backward(c, dx, dw, R, x, M, D, w, eps_r, acc); break;
		case V_RMS_NOW: rc = od_rmsnorm_backward(c, dx, NULL, R, x, M, D, NULL, eps_r, acc); break;
		case V_LN: rc = od_layernorm_backward(c, dx, dw, db, R, x, M, D, w, eps_l, acc); break;
		case V_LN_NOAFF: rc = od_layernorm_backward(c, dx, NULL, NULL, R, x, M, D, NULL, eps_l, acc); break;
		case V_RMS_MOD:
			rc = od_rmsnorm_modulate_backward(c, dx, dw, ds, R, x, M, D, w, eps_r, s, nLd, G, acc);
			break;
		case V_LN_MOD: rc = od_layernorm_modulate_backward(c, dx, ds, R, x, M, D, eps_l, s, nLd, G, acc); break;
		default: rc = od_rmsnorm_gate_add_backward(c, dx, dw, ds + D, R, x, M, D, w, eps_r, s + D, nLd, G); break;
		}
		char what[160];
		ok(rc == OD_OK, "%s %s backward runs", tag, names[nV]);
		snprintf(what, sizeof what, "%s %s: dx%s", tag, names[nV], acc && nV != V_GATE ? " (accumulated)" : "");
		fd_check(what, dx, acc && nV != V_GATE ? dx0 : NULL, 0, nx, pts);
		if (nV == V_RMS || nV == V_LN || nV == V_RMS_MOD || nV == V_GATE) {
			snprintf(what, sizeof what, "%s %s: dw (accumulated)", tag, names[nV]);
			fd_check(what, dw, dw0, nx, D, pts);
		}
		if (nV == V_LN) {
			snprintf(what, sizeof what, "%s %s: db (accumulated)", tag, names[nV]);
			fd_check(what, db, db0, nx + D, D, pts);
		}
		if (nV >= V_RMS_MOD) {
			/* the scale (or gate) of every group, columns [0, D) (or [D, 2D)) of each ld row */
			int off = nV == V_GATE ? D : 0;
			float *g = malloc(groups * D * sizeof *g), *g0 = malloc(groups * D * sizeof *g0);
			for (int64_t gi = 0; gi < groups; gi++)
				for (int d = 0; d < D; d++)
					g[gi * D + d] = ds[gi * nLd + off + d], g0[gi * D + d] = ds0[gi * nLd + off + d];
			/* FD on the packed copy: map each element back to its place in s */
			size_t pts2 = (size_t)groups * D < pts ? (size_t)groups * D : pts;
			float *a = malloc(pts2 * sizeof *a), *e = malloc(pts2 * sizeof *e);
			double mx = 0;
			for (size_t i = 0; i < pts2; i++) {
				size_t kk = (i * (size_t)groups * D) / pts2, gi = kk / D, d = kk % D;
				double *p = &P[nx + 2 * D + gi * nLd + off + d], save = *p, h = 1e-4;
				*p = save + h;
				double lp = ref_loss();
				*p = save - h;
				double lm = ref_loss();
				*p = save;
				e[i] = (float)((lp - lm) / (2 * h));
				a[i] = g[kk] - g0[kk];
				mx = fabs(e[i]) > mx ? fabs(e[i]) : mx;
			}
			snprintf(what, sizeof what, "%s %s: d%s per group (accumulated)", tag, names[nV],
				 nV == V_GATE ? "gate" : "scale");
			ok_close(a, e, pts2, 1e-4 * mx + 1e-9, 1e-3, what);
			free(a), free(e), free(g), free(g0);
			/* the other columns of the ld rows stay untouched */
			int untouched = 1;
			for (int64_t gi = 0; gi < groups; gi++)
				for (int d = 0; d < nLd; d++)
					if ((d < off || d >= off + D) && ds[gi * nLd + d] != ds0[gi * nLd + d])
						untouched = 0;
			ok(untouched, "%s %s: only its own columns of the modulation rows change", tag, names[nV]);
		}
		free(dx), free(dx0), free(dw), free(dw0), free(db), free(db0), free(ds), free(ds0);
	}
	free(x), free(w), free(b), free(s), free(R), free(P);
}

/* ------------------------------------------------------------------ elementwise */
static int eM, eH, eHd;
static const float *eR, *eCS;
static int eKind; /* 0 rope, 1 head gate, 2.. act, act_mul */
static enum od_act eAct;
static size_t eN;
static double loss_elem(void)
{
	double L = 0;
	if (eKind == 0) { /* rope: rows of eH heads, ld = eH·eHd + 2 */
		int ld = eH * eHd + 2;
		for (int m = 0; m < eM; m++)
			for (int h = 0; h < eH; h++)
				for (int p = 0; p < eHd / 2; p++) {
					const double *x = P + (size_t)m * ld + h * eHd + 2 * p;
					double co = eCS[(m * (eHd / 2) + p) * 2], si = eCS[(m * (eHd / 2) + p) * 2 + 1];
					L += eR[(size_t)m * ld + h * eHd + 2 * p] * (x[0] * co - x[1] * si) +
					     eR[(size_t)m * ld + h * eHd + 2 * p + 1] * (x[0] * si + x[1] * co);
				}
	} else if (eKind == 1) { /* o += tanh(gate[h])·y */
		const double *y = P, *g = P + (size_t)eM * eH * eHd;
		for (int m = 0; m < eM; m++)
			for (int h = 0; h < eH; h++)
				for (int d = 0; d < eHd; d++)
					L += eR[(m * eH + h) * eHd + d] * tanh(g[h]) * y[(m * eH + h) * eHd + d];
	} else {
		for (size_t i = 0; i < eN; i++) {
			double x = P[i], a;
			switch (eAct) {
			case OD_ACT_SILU: a = x / (1 + exp(-x)); break;
			case OD_ACT_GELU_TANH: a = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); break;
			case OD_ACT_GELU: a = 0.5 * x * (1 + erf(x / sqrt(2.0))); break;
			case OD_ACT_RELU: a = x > 0 ? x : 0; break;
			default: a = x; break;
			}
			L += eR[i] * (eKind == 3 ? a * P[eN + i] : a);
		}
	}
	return L;
}

static void test_elementwise(struct od_ctx *c)
{
	/* RoPE */
	eM = 5, eH = 3, eHd = 8;
	int ld = eH * eHd + 2;
	size_t nx = (size_t)eM * ld;
	float *x = rnd(nx, 1), *R = rnd(nx, 1), *cs = malloc(sizeof(float) * eM * eHd);
	for (int i = 0; i < eM * eHd / 2; i++) {
		float a = frand() * 3;
		cs[2 * i] = cosf(a), cs[2 * i + 1] = sinf(a);
	}
	eR = R, eCS = cs, eKind = 0;
	P = malloc(nx * sizeof *P);
	to_double(x, nx, P);
	ref_loss = loss_elem;
	float *g = dup(R, nx);
	ok(od_rope_backward(c, g, eM, eH, eHd, ld, cs) == OD_OK, "rope_backward runs");
	/* the padding columns are not rotated: their gradient is R itself, but they are not inputs of the loss */
	for (int m = 0; m < eM; m++)
		g[(size_t)m * ld + eH * eHd] = g[(size_t)m * ld + eH * eHd + 1] = 0;
	fd_check("rope_backward: dx (rotation by -phi)", g, NULL, 0, nx, 200);
	free(x), free(R), free(cs), free(g), free(P);

	/* head gate */
	eM = 6, eH = 3, eHd = 5, eKind = 1;
	size_t ny = (size_t)eM * eH * eHd;
	float *y = rnd(ny, 1), *gate = rnd(eH, 1.5f);
	R = rnd(ny, 1), eR = R;
	P = malloc((ny + eH) * sizeof *P);
	to_double(y, ny, P), to_double(gate, eH, P + ny);
	float *dy = malloc(ny * sizeof *dy), *dg = rnd(eH, 1), *dg0 = dup(dg, eH);
	ok(od_head_gate_add_backward(c, dy, dg, R, y, eM, eH, eHd, gate) == OD_OK, "head_gate_add_backward runs");
	fd_check("head_gate_add: dy", dy, NULL, 0, ny, 200);
	fd_check("head_gate_add: dgate (accumulated)", dg, dg0, ny, eH, 10);
	free(y), free(gate), free(R), free(dy), free(dg), free(dg0), free(P);

	/* activations, and the gated product */
	const enum od_act acts[] = { OD_ACT_SILU, OD_ACT_GELU_TANH, OD_ACT_GELU, OD_ACT_RELU, OD_ACT_IDENTITY };
	const char *an[] = { "silu", "gelu_tanh", "gelu", "relu", "identity" };
	eN = 45; /* 5 blocks of 8 lanes and a tail */
	for (int ai = 0; ai < 5; ai++)
		for (eKind = 2; eKind <= 3; eKind++) {
			eAct = acts[ai];
			float *a = rnd(2 * eN, 3);
			for (size_t i = 0; i < eN; i++) /* keep ReLU's kink away from the FD step */
				if (fabsf(a[i]) < 1e-2f)
					a[i] = 0.5f;
			a[3] = -120.0f, a[4] = 95.0f; /* beyond exp's range either way */
			R = rnd(eN, 1), eR = R;
			P = malloc(2 * eN * sizeof *P);
			to_double(a, 2 * eN, P);
			ref_loss = loss_elem;
			float *da = malloc(eN * sizeof *da), *db = malloc(eN * sizeof *db);
			char what[80];
			if (eKind == 2) {
				ok(od_act_backward(c, da, R, a, eN, eAct) == OD_OK, "act_backward %s runs", an[ai]);
				snprintf(what, sizeof what, "act_backward %s", an[ai]);
				fd_check(what, da, NULL, 0, eN, eN);
			} else {
				float *yy = malloc(eN * sizeof *yy), *ye = malloc(eN * sizeof *ye);
				ok(od_act_mul_backward(c, da, db, yy, R, a, a + eN, eN, eAct) == OD_OK, "act_mul_backward %s runs",
				   an[ai]);
				od_act_mul(c, ye, a, a + eN, eN, eAct);
				snprintf(what, sizeof what, "act_mul_backward %s: y, the forward's product again", an[ai]);
				ok_close(yy, ye, eN, 1e-6, 1e-6, what);
				free(yy), free(ye);
				snprintf(what, sizeof what, "act_mul_backward %s: da", an[ai]);
				fd_check(what, da, NULL, 0, eN, eN);
				snprintf(what, sizeof what, "act_mul_backward %s: db", an[ai]);
				fd_check(what, db, NULL, eN, eN, eN);
				/* in place over dy */
				float *io = dup(R, eN);
				od_act_mul_backward(c, io, NULL, NULL, io, a, a + eN, eN, eAct);
				ok(!memcmp(io, da, eN * sizeof *io), "act_mul_backward %s: da in place over dy", an[ai]);
				float *ia = dup(a, eN), *ib = dup(a + eN, eN), *y2 = malloc(eN * sizeof *y2);
				od_act_mul_backward(c, ia, ib, y2, R, ia, ib, eN, eAct);
				ok(!memcmp(ia, da, eN * sizeof *ia) && !memcmp(ib, db, eN * sizeof *ib),
				   "act_mul_backward %s: da over a and db over b", an[ai]);
				free(ia), free(ib), free(y2);
				free(io);
			}
			free(a), free(R), free(da), free(db), free(P);
		}
}

/* ------------------------------------------------------------------ determinism */
static void run_all(struct od_ctx *c, float *out, size_t *n)
{
	const int M = 300, K = 64, N = 80, D = 96, G = 70;
	rs = 4242;
	float *x = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 1), *dy = rnd((size_t)M * N, 1);
	struct od_tensor tw = tensor("w", OD_F32, N, K, w);
	size_t o = 0;
	od_linear_backward_x(c, out + o, dy, M, &tw, 0), o += (size_t)M * K;
	memset(out + o, 0, sizeof(float) * (N * K + N));
	od_linear_backward_w(c, out + o, out + o + N * K, dy, x, M, N, K), o += (size_t)N * K + N;
	struct od_attention_desc d = { 2, 150, 150, 4, 2, 16, 64, 32, 64, OD_KV_GROUPED, 0.25f, 30, NULL, NULL };
	float *q = rnd((size_t)M * 64, 2), *kv = rnd((size_t)M * 32, 2), *ao = malloc(sizeof(float) * M * 64),
	      *lse = malloc(sizeof(float) * 2 * 4 * 150), *dout = rnd((size_t)M * 64, 1);
	od_attention_lse(c, ao, lse, q, kv, kv, &d);
	memset(out + o, 0, sizeof(float) * (M * 64 + 2 * M * 32));
	od_attention_backward(c, out + o, out + o + M * 64, out + o + M * 64 + M * 32, dout, q, kv, kv, ao, lse, &d);
	o += (size_t)M * 64 + 2 * (size_t)M * 32;
	float *nx = rnd((size_t)M * D, 1), *nw = rnd(D, 1), *ns = rnd((size_t)5 * 2 * D, 1), *ndy = rnd((size_t)M * D, 1);
	memset(out + o, 0, sizeof(float) * (M * D + D + 5 * 2 * D));
	od_rmsnorm_modulate_backward(c, out + o, out + o + M * D, out + o + M * D + D, ndy, nx, M, D, nw, 1e-5f, ns,
				     2 * D, G, 0);
	o += (size_t)M * D + D + 5 * 2 * D;
	*n = o;
	free(x), free(w), free(dy), free((void *)tw.data), free(q), free(kv), free(ao), free(lse), free(dout);
	free(nx), free(nw), free(ns), free(ndy);
}

static void test_determinism(void)
{
	size_t cap = 400000, n1, n2;
	float *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
	struct od_ctx *c1, *c2;
	od_ctx_create(&c1, OD_DEVICE_CPU, 1);
	run_all(c1, a, &n1);
	od_ctx_destroy(c1);
	od_ctx_create(&c2, OD_DEVICE_CPU, 2);
	run_all(c2, b, &n2);
	od_ctx_destroy(c2);
	ok(n1 == n2 && n1 <= cap && !memcmp(a, b, n1 * sizeof *a),
	   "linear, attention and norm backward: 1 and 2 threads give identical bytes (%zu values)", n1);
	free(a), free(b);
}

int main(void)
{
	struct od_ctx *c;
	if (od_ctx_create(&c, OD_DEVICE_CPU, 0)) {
		ok(0, "create a CPU context: %s", od_errmsg());
		return tap_done();
	}
	test_linear(c);
	test_attention(c);
	norm_case(c, 10, 12, 4, 200, "small:");
	norm_case(c, 200, 24, 70, 60, "groups straddling the row tiles:");
	test_elementwise(c);
	od_ctx_destroy(c);
	test_determinism();
	return tap_done();
}
