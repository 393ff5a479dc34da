/*
 * test_vae_backward.c: every backward kernel the VAE trains with (backend.h:
 * conv2d_backward, groupnorm_backward, act_backward for SiLU, upsample2x_backward,
 * posterior, posterior_backward) against float64 central finite differences.
 *
 * For a kernel y = f(θ) and a random upstream gradient dy, the scalar
 * ℓ(θ) = Σ dy·f(θ) is evaluated by a naive float64 re-implementation of the
 * forward here, and ∂ℓ/∂θ_i ≈ (ℓ(θ + h·e_i) − ℓ(θ − h·e_i)) / 2h for every
 * element i of every input and weight (h = 1e-5·max(1, |θ_i|): truncation
 * O(h²) ≈ 1e-10 and cancellation ≈ 1e-16·|ℓ|/h ≈ 1e-10 relative, far below the
 * float32 kernels' own rounding). The kernels' float32 results must agree
 * within |g − fd| ≤ 1e-5·max|fd| + 1e-4·|fd|: float32 products summed over at
 * most a few hundred terms (in double where the kernel accumulates in double)
 * stay within ~1e-6 of the largest term; an indexing or formula error is of
 * the gradient's own size. Each shape is also run with 1 and 2 threads, which
 * must give identical bytes (backend.h: determinism).
 */
#include "od.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0x2545f4914f6cdd1dull;
static float frand(void) /* uniform in [-1, 1) */
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rs >> 11) * 0x1p-53 * 2.0 - 1.0);
}
static float *rnd(size_t n, float scale)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand() * scale;
	return p;
}
static double *to_d(const float *x, size_t n)
{
	double *d = malloc((n ? n : 1) * sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = x[i];
	return d;
}
static struct od_tensor tensor(const char *name, int ndim, const int64_t *shape, float *data)
{
	struct od_tensor t = { .name = name, .dtype = OD_F32, .ndim = ndim, .data = data };
	size_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= (size_t)(t.shape[i] = shape[i]);
	t.nbytes = n * sizeof(float);
	return t;
}

/* Compare a kernel's gradient with the finite differences (see the top). */
static int cmp_fd(const char *what, const float *g, const double *fd, size_t n)
{
	float *e = malloc((n ? n : 1) * sizeof *e);
	double mx = 0;
	for (size_t i = 0; i < n; i++) {
		e[i] = (float)fd[i];
		if (fabs(fd[i]) > mx)
			mx = fabs(fd[i]);
	}
	int r = ok_close(g, e, n, 1e-5 * (mx > 0 ? mx : 1), 1e-4, what);
	free(e);
	return r;
}

/* Central differences of loss() with respect to every element of p (n values), into fd. */
static void finite_diff(double (*loss)(void *), void *ctx, double *p, size_t n, double *fd)
{
	for (size_t i = 0; i < n; i++) {
		double keep = p[i], h = 1e-5 * (fabs(keep) > 1 ? fabs(keep) : 1);
		p[i] = keep + h;
		double lp = loss(ctx);
		p[i] = keep - h;
		double lm = loss(ctx);
		p[i] = keep;
		fd[i] = (lp - lm) / (2 * h);
	}
}

/* ---------------------------------------------------------------- conv2d */

struct conv_case {
	const char *what;
	int N, Cin, H, W, Cout, kh, kw, stride, pad[4];
};

struct conv_ctx {
	const struct conv_case *c;
	double *x, *w, *b, *dy;
	int Ho, Wo;
};

static double conv_loss(void *p)
{
	const struct conv_ctx *k = p;
	const struct conv_case *c = k->c;
	double l = 0;
	for (int n = 0; n < c->N; n++)
		for (int co = 0; co < c->Cout; co++)
			for (int oy = 0; oy < k->Ho; oy++)
				for (int ox = 0; ox < k->Wo; ox++) {
					double acc = k->b[co];
					for (int ci = 0; ci < c->Cin; ci++)
						for (int ky = 0; ky < c->kh; ky++)
							for (int kx = 0; kx < c->kw; kx++) {
								int iy = oy * c->stride + ky - c->pad[0], ix = ox * c->stride + kx - c->pad[2];
								if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W)
									continue;
								acc += k->w[((co * c->Cin + ci) * c->kh + ky) * c->kw + kx] *
								       k->x[((size_t)(n * c->Cin + ci) * c->H + iy) * c->W + ix];
							}
					l += acc * k->dy[((size_t)(n * c->Cout + co) * k->Ho + oy) * k->Wo + ox];
				}
	return l;
}

/* The kernel's dx, dw, db for a case; dw and db start from `acc` (checking the +=). */
static void conv_grads(int threads, const struct conv_case *c, float *x, float *w, const float *dy, float *dx,
		       float *dw, float *db, const float *acc_w, const float *acc_b)
{
	struct od_ctx *ctx;
	od_ctx_create(&ctx, OD_DEVICE_CPU, threads);
	int64_t ws[4] = { c->Cout, c->Cin, c->kh, c->kw };
	struct od_tensor tw = tensor("w", 4, ws, w);
	size_t nw = (size_t)c->Cout * c->Cin * c->kh * c->kw;
	memcpy(dw, acc_w, nw * sizeof *dw);
	memcpy(db, acc_b, (size_t)c->Cout * sizeof *db);
	int rc = od_conv2d_backward(ctx, dx, dw, db, dy, x, c->N, c->Cin, c->H, c->W, &tw, c->stride, c->pad);
	if (rc)
		printf("# conv2d_backward: %s\n", od_errmsg());
	od_ctx_destroy(ctx);
}

static void test_conv(void)
{
	const struct conv_case cases[] = {
		{ "3x3 pad 1 (ResBlock conv)", 2, 3, 7, 6, 4, 3, 3, 1, { 1, 1, 1, 1 } },
		{ "3x3 stride 2, pad (0,1,0,1) (Downsample2D)", 2, 3, 8, 6, 3, 3, 3, 2, { 0, 1, 0, 1 } },
		{ "3x3 stride 2, odd size 7x9", 1, 2, 7, 9, 3, 3, 3, 2, { 0, 1, 0, 1 } },
		{ "1x1 (conv_shortcut)", 2, 5, 4, 5, 3, 1, 1, 1, { 0, 0, 0, 0 } },
		{ "19 input channels (uneven tasks), 3x3", 1, 19, 5, 4, 6, 3, 3, 1, { 1, 1, 1, 1 } },
		{ "3x2 kernel, asymmetric pad (2,0,1,0), stride 3", 1, 2, 9, 8, 2, 3, 2, 3, { 2, 0, 1, 0 } },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		const struct conv_case *c = &cases[ci];
		int Ho = (c->H + c->pad[0] + c->pad[1] - c->kh) / c->stride + 1;
		int Wo = (c->W + c->pad[2] + c->pad[3] - c->kw) / c->stride + 1;
		size_t nx = (size_t)c->N * c->Cin * c->H * c->W, nw = (size_t)c->Cout * c->Cin * c->kh * c->kw;
		size_t ny = (size_t)c->N * c->Cout * Ho * Wo;
		float *x = rnd(nx, 1), *w = rnd(nw, 0.5f), *b = rnd(c->Cout, 0.5f), *dy = rnd(ny, 1);
		float *acc_w = rnd(nw, 1), *acc_b = rnd(c->Cout, 1);
		float *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw), *db = malloc(c->Cout * sizeof *db);
		float *dx2 = malloc(nx * sizeof *dx), *dw2 = malloc(nw * sizeof *dw), *db2 = malloc(c->Cout * sizeof *db);
		for (size_t i = 0; i < nx; i++)
			dx[i] = dx2[i] = NAN; /* dx is overwritten, never accumulated */
		conv_grads(1, c, x, w, dy, dx, dw, db, acc_w, acc_b);
		conv_grads(2, c, x, w, dy, dx2, dw2, db2, acc_w, acc_b);
		struct conv_ctx k = { c, to_d(x, nx), to_d(w, nw), to_d(b, c->Cout), to_d(dy, ny), Ho, Wo };
		double *fx = malloc(nx * sizeof *fx), *fw = malloc(nw * sizeof *fw), *fb = malloc(c->Cout * sizeof *fb);
		finite_diff(conv_loss, &k, k.x, nx, fx);
		finite_diff(conv_loss, &k, k.w, nw, fw);
		finite_diff(conv_loss, &k, k.b, c->Cout, fb);
		for (size_t i = 0; i < nw; i++)
			fw[i] += acc_w[i];
		for (int i = 0; i < c->Cout; i++)
			fb[i] += acc_b[i];
		char what[160];
		snprintf(what, sizeof what, "conv2d backward dx, %s", c->what);
		cmp_fd(what, dx, fx, nx);
		snprintf(what, sizeof what, "conv2d backward dw (+=), %s", c->what);
		cmp_fd(what, dw, fw, nw);
		snprintf(what, sizeof what, "conv2d backward db (+=), %s", c->what);
		cmp_fd(what, db, fb, c->Cout);
		ok(!memcmp(dx, dx2, nx * sizeof *dx) && !memcmp(dw, dw2, nw * sizeof *dw) &&
			   !memcmp(db, db2, c->Cout * sizeof *db),
		   "conv2d backward, %s: 1 and 2 threads give identical bits", c->what);
		free(x), free(w), free(b), free(dy), free(acc_w), free(acc_b), free(dx), free(dw), free(db);
		free(dx2), free(dw2), free(db2), free(k.x), free(k.w), free(k.b), free(k.dy), free(fx), free(fw), free(fb);
	}
}

/* A shape whose column buffers take several bands of output rows: the gradient at
 * elements next to the band boundary, by local finite differences (the conv is
 * linear in x and w, so only the outputs an element reaches need evaluating). */
static void test_conv_bands(void)
{
	const int Cin = 16, H = 400, W = 600, Cout = 2, pad[4] = { 1, 1, 1, 1 };
	const size_t nx = (size_t)Cin * H * W, nw = (size_t)Cout * Cin * 9, ny = (size_t)Cout * H * W;
	float *x = rnd(nx, 1), *w = rnd(nw, 0.5f), *dy = rnd(ny, 1);
	float *dx = malloc(nx * sizeof *dx), *dx2 = malloc(nx * sizeof *dx), *dw = calloc(nw, sizeof *dw),
	      *dw2 = calloc(nw, sizeof *dw);
	int64_t ws[4] = { Cout, Cin, 3, 3 };
	struct od_tensor tw = tensor("w", 4, ws, w);
	struct od_ctx *c;
	od_ctx_create(&c, OD_DEVICE_CPU, 1);
	int rc = od_conv2d_backward(c, dx, dw, NULL, dy, x, 1, Cin, H, W, &tw, 1, pad);
	od_ctx_destroy(c);
	od_ctx_create(&c, OD_DEVICE_CPU, 2);
	rc |= od_conv2d_backward(c, dx2, dw2, NULL, dy, x, 1, Cin, H, W, &tw, 1, pad);
	od_ctx_destroy(c);
	ok(!rc, "conv2d backward, 16x400x600: runs");
	/* ∂ℓ/∂x[ci][iy][ix] = Σ_co,ky,kx w[co][ci][ky][kx]·dy[co][iy−ky+1][ix−kx+1], in double */
	const int pts[][3] = { { 0, 0, 0 }, { 3, 386, 17 }, { 5, 387, 599 }, { 15, 388, 300 }, { 7, 389, 1 }, { 2, 399, 598 } };
	float got[6], want[6];
	for (int p = 0; p < 6; p++) {
		int ci = pts[p][0], iy = pts[p][1], ix = pts[p][2];
		double s = 0;
		for (int co = 0; co < Cout; co++)
			for (int ky = 0; ky < 3; ky++)
				for (int kx = 0; kx < 3; kx++) {
					int oy = iy - ky + 1, ox = ix - kx + 1;
					if (oy >= 0 && oy < H && ox >= 0 && ox < W)
						s += (double)w[((co * Cin + ci) * 3 + ky) * 3 + kx] * dy[((size_t)co * H + oy) * W + ox];
				}
		got[p] = dx[((size_t)ci * H + iy) * W + ix];
		want[p] = (float)s;
	}
	ok_close(got, want, 6, 1e-5, 1e-4, "conv2d backward dx across column bands (16x400x600)");
	/* dw[co][ci][ky][kx] = Σ_pixels dy[co][oy][ox]·x[ci][oy+ky−1][ox+kx−1] */
	const int wp[][4] = { { 0, 0, 0, 0 }, { 1, 15, 2, 2 }, { 0, 7, 1, 0 }, { 1, 3, 0, 2 } };
	float gw[4], ew[4];
	for (int p = 0; p < 4; p++) {
		int co = wp[p][0], ci = wp[p][1], ky = wp[p][2], kx = wp[p][3];
		double s = 0;
		for (int oy = 0; oy < H; oy++)
			for (int ox = 0; ox < W; ox++) {
				int iy = oy + ky - 1, ix = ox + kx - 1;
				if (iy >= 0 && iy < H && ix >= 0 && ix < W)
					s += (double)dy[((size_t)co * H + oy) * W + ox] * x[((size_t)ci * H + iy) * W + ix];
			}
		gw[p] = dw[((co * Cin + ci) * 3 + ky) * 3 + kx];
		ew[p] = (float)s;
	}
	/* 240000-term float32 sums (sgemm accumulation): a few 1e-5 of the sum's typical size (√n·|term| ≈ 500) */
	ok_close(gw, ew, 4, 2e-2, 1e-4, "conv2d backward dw across column bands (16x400x600)");
	ok(!memcmp(dx, dx2, nx * sizeof *dx) && !memcmp(dw, dw2, nw * sizeof *dw),
	   "conv2d backward across column bands: 1 and 2 threads give identical bits");
	free(x), free(w), free(dy), free(dx), free(dx2), free(dw), free(dw2);
}

/* ---------------------------------------------------------------- group norm */

struct gn_ctx {
	int N, C, groups, silu, affine;
	int64_t HW;
	double *x, *w, *b, *dy;
};

static double gn_loss(void *p)
{
	const struct gn_ctx *k = p;
	const int cpg = k->C / k->groups;
	const int64_t cnt = cpg * k->HW;
	double l = 0;
	for (int n = 0; n < k->N; n++)
		for (int g = 0; g < k->groups; g++) {
			const double *x = k->x + ((int64_t)n * k->C + g * cpg) * k->HW;
			double s = 0, ss = 0;
			for (int64_t i = 0; i < cnt; i++)
				s += x[i];
			double m = s / cnt;
			for (int64_t i = 0; i < cnt; i++)
				ss += (x[i] - m) * (x[i] - m);
			double r = 1 / sqrt(ss / cnt + 1e-6);
			for (int64_t i = 0; i < cnt; i++) {
				int ch = g * cpg + (int)(i / k->HW);
				double v = (x[i] - m) * r;
				if (k->affine)
					v = v * k->w[ch] + k->b[ch];
				if (k->silu)
					v = v / (1 + exp(-v));
				l += v * k->dy[((int64_t)n * k->C + g * cpg) * k->HW + i];
			}
		}
	return l;
}

static void test_groupnorm(void)
{
	const struct {
		int N, C, groups, silu, affine;
		int64_t HW;
	} cases[] = {
		{ 2, 6, 3, 0, 1, 20 }, { 2, 6, 3, 1, 1, 20 }, { 1, 4, 4, 1, 1, 9 },
		{ 3, 8, 2, 1, 1, 5 },  { 2, 6, 2, 0, 0, 7 },  { 1, 32, 8, 1, 1, 16 },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		const int N = cases[ci].N, C = cases[ci].C, G = cases[ci].groups, silu = cases[ci].silu;
		const int affine = cases[ci].affine;
		const int64_t HW = cases[ci].HW;
		const size_t nx = (size_t)N * C * HW;
		float *x = rnd(nx, 2), *w = rnd(C, 1), *b = rnd(C, 1), *dy = rnd(nx, 1);
		for (size_t i = 0; i < nx; i++)
			x[i] += 0.5f; /* a non-zero mean */
		float *acc_w = rnd(C, 1), *acc_b = rnd(C, 1);
		float *dx[2], *dw[2], *db[2];
		for (int t = 0; t < 2; t++) {
			dx[t] = malloc(nx * sizeof(float));
			dw[t] = malloc(C * sizeof(float));
			db[t] = malloc(C * sizeof(float));
			memcpy(dw[t], acc_w, C * sizeof(float));
			memcpy(db[t], acc_b, C * sizeof(float));
			struct od_ctx *c;
			od_ctx_create(&c, OD_DEVICE_CPU, t + 1);
			int rc = od_groupnorm_backward(c, dx[t], affine ? dw[t] : NULL, affine ? db[t] : NULL, dy, x, N, C,
						       HW, G, affine ? w : NULL, affine ? b : NULL, 1e-6f, silu);
			if (rc)
				printf("# %s\n", od_errmsg());
			od_ctx_destroy(c);
		}
		struct gn_ctx k = { N, C, G, silu, affine, HW, to_d(x, nx), to_d(w, C), to_d(b, C), to_d(dy, nx) };
		double *fx = malloc(nx * sizeof *fx), *fw = malloc(C * sizeof *fw), *fb = malloc(C * sizeof *fb);
		finite_diff(gn_loss, &k, k.x, nx, fx);
		finite_diff(gn_loss, &k, k.w, C, fw);
		finite_diff(gn_loss, &k, k.b, C, fb);
		for (int i = 0; i < C; i++)
			fw[i] += acc_w[i], fb[i] += acc_b[i];
		char what[160], tag[96];
		snprintf(tag, sizeof tag, "N %d, C %d, %d groups, HW %lld%s%s", N, C, G, (long long)HW,
			 affine ? "" : ", no affine", silu ? ", + SiLU" : "");
		snprintf(what, sizeof what, "groupnorm backward dx, %s", tag);
		cmp_fd(what, dx[0], fx, nx);
		if (affine) {
			snprintf(what, sizeof what, "groupnorm backward dw (+=), %s", tag);
			cmp_fd(what, dw[0], fw, C);
			snprintf(what, sizeof what, "groupnorm backward db (+=), %s", tag);
			cmp_fd(what, db[0], fb, C);
		}
		ok(!memcmp(dx[0], dx[1], nx * sizeof(float)) && !memcmp(dw[0], dw[1], C * sizeof(float)) &&
			   !memcmp(db[0], db[1], C * sizeof(float)),
		   "groupnorm backward, %s: 1 and 2 threads give identical bits", tag);
		/* dx may alias dy */
		float *alias = malloc(nx * sizeof *alias);
		memcpy(alias, dy, nx * sizeof *alias);
		struct od_ctx *c;
		od_ctx_create(&c, OD_DEVICE_CPU, 2);
		od_groupnorm_backward(c, alias, NULL, NULL, alias, x, N, C, HW, G, affine ? w : NULL, affine ? b : NULL,
				      1e-6f, silu);
		od_ctx_destroy(c);
		ok(!memcmp(alias, dx[0], nx * sizeof *alias), "groupnorm backward, %s: in place (dx = dy) is the same", tag);
		free(alias);
		for (int t = 0; t < 2; t++)
			free(dx[t]), free(dw[t]), free(db[t]);
		free(x), free(w), free(b), free(dy), free(acc_w), free(acc_b), free(k.x), free(k.w), free(k.b), free(k.dy);
		free(fx), free(fw), free(fb);
	}
	struct od_ctx *c;
	od_ctx_create(&c, OD_DEVICE_CPU, 1);
	float z[12] = { 0 };
	ok(od_groupnorm_backward(c, z, NULL, NULL, z, z, 1, 6, 2, 4, NULL, NULL, 1e-6f, 0) == OD_EINVAL,
	   "groupnorm backward: 6 channels in 4 groups is refused: %s", od_errmsg());
	od_ctx_destroy(c);
}

/* ---------------------------------------------------------------- activations, up-sampling */

/* The activations are elementwise, so element i's difference quotient needs only element i:
 * the loss is evaluated over a one-element window. */
struct act_ctx {
	enum od_act a;
	size_t i0, n;
	double *x, *dy;
};

static double act_loss(void *p)
{
	const struct act_ctx *k = p;
	double l = 0;
	for (size_t i = k->i0; i < k->i0 + k->n; i++) {
		double x = k->x[i], y;
		switch (k->a) {
		case OD_ACT_SILU:
			y = x / (1 + exp(-x));
			break;
		case OD_ACT_GELU_TANH:
			y = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
			break;
		case OD_ACT_GELU:
			y = 0.5 * x * (1 + erf(x * 0.7071067811865476));
			break;
		case OD_ACT_RELU:
			y = x > 0 ? x : 0;
			break;
		default:
			y = x;
		}
		l += y * k->dy[i];
	}
	return l;
}

static void test_act(void)
{
	static const char *const names[] = { "SiLU", "GELU (tanh)", "GELU (erf)", "ReLU", "identity" };
	const size_t n = 40000; /* more than one block of the kernel's split */
	float *x = rnd(n, 6), *dy = rnd(n, 1);
	for (size_t i = 0; i < n; i++)
		if (fabsf(x[i]) < 1e-3f)
			x[i] = 0.5f; /* keep ReLU's kink out of the differences */
	for (int a = OD_ACT_SILU; a <= OD_ACT_SILU; a++) { /* the VAE's activation (the others: test_kernels_backward) */
		float *dx = malloc(n * sizeof *dx), *dx2 = malloc(n * sizeof *dx);
		struct od_ctx *c;
		od_ctx_create(&c, OD_DEVICE_CPU, 1);
		od_act_backward(c, dx, dy, x, (int64_t)n, (enum od_act)a);
		od_ctx_destroy(c);
		od_ctx_create(&c, OD_DEVICE_CPU, 2);
		memcpy(dx2, dy, n * sizeof *dx2);
		od_act_backward(c, dx2, dx2, x, (int64_t)n, (enum od_act)a); /* in place */
		od_ctx_destroy(c);
		struct act_ctx k = { (enum od_act)a, 0, 1, to_d(x, n), to_d(dy, n) };
		double *fx = malloc(n * sizeof *fx);
		for (k.i0 = 0; k.i0 < n; k.i0++)
			finite_diff(act_loss, &k, k.x + k.i0, 1, fx + k.i0);
		char what[96];
		snprintf(what, sizeof what, "act backward %s", names[a]);
		cmp_fd(what, dx, fx, n);
		ok(!memcmp(dx, dx2, n * sizeof *dx), "act backward %s: in place with 2 threads gives identical bits",
		   names[a]);
		free(dx), free(dx2), free(k.x), free(k.dy), free(fx);
	}
	free(x), free(dy);
}

struct up_ctx {
	int planes, H, W;
	double *x, *dy;
};

static double up_loss(void *p)
{
	const struct up_ctx *k = p;
	double l = 0;
	for (int pl = 0; pl < k->planes; pl++)
		for (int r = 0; r < 2 * k->H; r++)
			for (int c = 0; c < 2 * k->W; c++)
				l += k->x[((size_t)pl * k->H + r / 2) * k->W + c / 2] *
				     k->dy[((size_t)pl * 2 * k->H + r) * 2 * k->W + c];
	return l;
}

static void test_upsample(void)
{
	const int planes = 6, H = 5, W = 7;
	const size_t nx = (size_t)planes * H * W;
	float *x = rnd(nx, 1), *dy = rnd(4 * nx, 1), *dx = malloc(nx * sizeof *dx);
	struct od_ctx *c;
	od_ctx_create(&c, OD_DEVICE_CPU, 2);
	od_upsample2x_backward(c, dx, dy, planes, H, W);
	od_ctx_destroy(c);
	struct up_ctx k = { planes, H, W, to_d(x, nx), to_d(dy, 4 * nx) };
	double *fx = malloc(nx * sizeof *fx);
	finite_diff(up_loss, &k, k.x, nx, fx);
	cmp_fd("upsample2x backward (6 planes of 5x7)", dx, fx, nx);
	free(x), free(dy), free(dx), free(k.x), free(k.dy), free(fx);
}

/* ---------------------------------------------------------------- posterior */

struct post_ctx {
	int N, L;
	int64_t hw;
	double *m, *eps, *dz;
	double kw;
};

static double post_loss(void *p)
{
	const struct post_ctx *k = p;
	const int64_t nl = k->L * k->hw;
	double l = 0;
	for (int n = 0; n < k->N; n++)
		for (int64_t i = 0; i < nl; i++) {
			double mean = k->m[n * 2 * nl + i], lv = k->m[n * 2 * nl + nl + i];
			lv = lv < -30 ? -30 : lv > 20 ? 20 : lv;
			double z = mean + exp(0.5 * lv) * k->eps[n * nl + i];
			l += k->dz[n * nl + i] * z + k->kw * 0.5 * (mean * mean + exp(lv) - 1 - lv);
		}
	return l;
}

static void test_posterior(void)
{
	const int N = 2, L = 3;
	const int64_t hw = 10, nl = L * hw;
	const size_t nm = (size_t)N * 2 * nl, nz = (size_t)N * nl;
	float *m = rnd(nm, 2), *eps = rnd(nz, 1.5f), *dz = rnd(nz, 1);
	/* logvars beyond the clamp on both sides: their gradient is 0 */
	m[nl + 1] = -35.0f, m[nl + 4] = 24.0f, m[2 * nl + nl + 7] = -31.0f, m[nl + 9] = 12.0f;
	const float kw = 0.37f;
	float *z = malloc(nz * sizeof *z), *kl = malloc(nz * sizeof *kl), *dm = malloc(nm * sizeof *dm);
	struct od_ctx *c;
	od_ctx_create(&c, OD_DEVICE_CPU, 2);
	od_posterior(c, z, kl, m, eps, N, L, hw);
	od_posterior_backward(c, dm, dz, m, eps, N, L, hw, kw);
	od_ctx_destroy(c);
	/* forward: z as pipeline/encode.c samples it, kl the KL terms */
	float *ze = malloc(nz * sizeof *ze), *kle = malloc(nz * sizeof *kle);
	for (int n = 0; n < N; n++) {
		od_vae_posterior(m + n * 2 * nl, L, hw, eps + n * nl, 1.0f, ze + n * nl);
		for (int64_t i = 0; i < nl; i++) {
			double mean = m[n * 2 * nl + i], lv = m[n * 2 * nl + nl + i];
			lv = lv < -30 ? -30 : lv > 20 ? 20 : lv;
			kle[n * nl + i] = (float)(0.5 * (mean * mean + exp(lv) - 1 - lv));
		}
	}
	ok(!memcmp(z, ze, nz * sizeof *z), "posterior: z is od_vae_posterior's sample, bit for bit");
	ok_close(kl, kle, nz, 0, 1e-6, "posterior: KL terms 0.5·(mean² + var − 1 − logvar)");
	struct post_ctx k = { N, L, hw, to_d(m, nm), to_d(eps, nz), to_d(dz, nz), kw };
	double *fm = malloc(nm * sizeof *fm);
	finite_diff(post_loss, &k, k.m, nm, fm);
	cmp_fd("posterior backward d(moments), logvars inside and outside the clamp", dm, fm, nm);
	ok(dm[nl + 1] == 0 && dm[nl + 4] == 0 && dm[2 * nl + nl + 7] == 0 && dm[nl + 9] != 0,
	   "posterior backward: no gradient through a clamped logvar");
	free(m), free(eps), free(dz), free(z), free(kl), free(dm), free(ze), free(kle), free(k.m), free(k.eps), free(k.dz);
	free(fm);
}

int main(void)
{
	test_conv();
	test_conv_bands();
	test_groupnorm();
	test_act();
	test_upsample();
	test_posterior();
	return tap_done();
}
