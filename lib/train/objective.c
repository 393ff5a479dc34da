/*
 * objective.c: the flow-matching noising of a training batch and the step's
 * random draws (objective.h, numerics.md §11.1).
 *
 * Built with -ffp-contract=off (Makefile), and each float32 rounding the
 * reference makes is a statement of its own, so x_σ is two rounded products
 * and one rounded sum whatever the compiler or its flags: a fused
 * multiply-add would change the last bit of x_σ, and with it every gradient.
 */
#include "train/objective.h"

#include "base/error.h"

#include <math.h>
#include <string.h>

void od_train_rng_seed(struct od_train_rng *g, uint64_t seed)
{
	od_mt_seed(&g->mt, seed);
}

static double uniform53(struct od_mt19937 *mt)
{
	uint64_t a = od_mt_next(mt), b = od_mt_next(mt);
	return (double)(((a << 32) | b) & ((1ull << 53) - 1)) * 0x1p-53;
}

double od_train_rand_double(struct od_train_rng *g)
{
	return uniform53(&g->mt);
}

void od_train_randn(struct od_train_rng *g, size_t n, float *out)
{
	od_randn_next(&g->mt, n, out); /* below 16 values, the scalar path and its cache */
}

float od_train_rand(struct od_train_rng *g)
{
	return (float)((double)(od_mt_next(&g->mt) & 0xffffffu) * (1.0 / 16777216.0));
}

uint32_t od_train_rand_below(struct od_train_rng *g, uint32_t n)
{
	if (n <= 1)
		return 0;
	/* the largest multiple of n that fits in 2^32: words at or above it are redrawn */
	uint64_t limit = (((uint64_t)1 << 32) / n) * n;
	for (;;) {
		uint32_t u = od_mt_next(&g->mt);
		if (u < limit)
			return u % n;
	}
}

void od_train_rng_export(const struct od_train_rng *g, int64_t *out)
{
	for (int i = 0; i < 624; i++)
		out[i] = g->mt.s[i];
	out[624] = g->mt.i;
	out[625] = g->mt.have_normal;
	uint64_t bits;
	memcpy(&bits, &g->mt.normal, sizeof bits);
	out[626] = (int64_t)bits;
}

int od_train_rng_import(struct od_train_rng *g, const int64_t *in)
{
	for (int i = 0; i < 624; i++)
		if (in[i] < 0 || in[i] > 0xffffffffll)
			return od_error(OD_EFORMAT, "generator word %d is %lld, not a 32-bit value", i, (long long)in[i]);
	if (in[624] < 0 || in[624] > 624)
		return od_error(OD_EFORMAT, "generator position %lld is not in 0..624", (long long)in[624]);
	if (in[625] != 0 && in[625] != 1)
		return od_error(OD_EFORMAT, "generator cache flag %lld is not 0 or 1", (long long)in[625]);
	double v;
	uint64_t bits = (uint64_t)in[626];
	memcpy(&v, &bits, sizeof v);
	if (!isfinite(v))
		return od_error(OD_EFORMAT, "generator cached normal is not finite");
	for (int i = 0; i < 624; i++)
		g->mt.s[i] = (uint32_t)in[i];
	g->mt.i = (int)in[624];
	g->mt.have_normal = (int)in[625];
	g->mt.normal = v;
	return OD_OK;
}

float od_train_sigma(float n)
{
	/* torch.sigmoid on a float32 tensor of fewer than 8 values: its scalar
	 * lambda 1 / (1 + std::exp(-a)), each operation in float32. It gives every
	 * golden case's sigma bit for bit (objective.h). */
	float e = expf(-n);
	float d = 1.0f + e;
	return 1.0f / d;
}

void od_train_noise(size_t n_frames, size_t fsz, const float *n, float *sigma, float *t, const float *x0,
		    const float *eps, float *x_sigma, float *target)
{
	for (size_t f = 0; f < n_frames; f++) {
		if (n)
			sigma[f] = od_train_sigma(n[f]);
		const float s = sigma[f];
		const float one_minus = 1.0f - s; /* fp32(1 − σ) */
		t[f] = s * 1000.0f;               /* fp32(σ·1000) */
		const float *a = x0 + f * fsz, *e = eps + f * fsz;
		float *xs = x_sigma + f * fsz, *v = target + f * fsz;
		for (size_t i = 0; i < fsz; i++) {
			float p = one_minus * a[i]; /* fp32((1 − σ)·x0) */
			float q = s * e[i];         /* fp32(σ·ε) */
			xs[i] = p + q;              /* fp32(p + q): no fused multiply-add */
			v[i] = e[i] - a[i];         /* fp32(ε − x0) */
		}
	}
}

void od_train_draw(struct od_train_rng *g, int B, int F, size_t fsz, double p_drop, const float *x0, uint8_t *drop,
		   float *n, float *sigma, float *t, float *eps, float *x_sigma, float *target)
{
	for (int b = 0; b < B; b++)
		drop[b] = p_drop > 0 && (double)od_train_rand(g) < p_drop;
	const size_t frames = (size_t)B * (size_t)F;
	od_train_randn(g, frames, n);
	od_train_randn(g, frames * fsz, eps);
	od_train_noise(frames, fsz, n, sigma, t, x0, eps, x_sigma, target);
}

void od_train_clean(struct od_train_rng *g, int B, int F, size_t fsz, double p_clean, double t_max, const float *x0,
		    float *sigma, float *t, float *x_sigma, uint8_t *in_loss)
{
	memset(in_loss, 1, (size_t)B * (size_t)F);
	if (p_clean <= 0 || F < 2)
		return;
	for (int b = 0; b < B; b++) {
		if ((double)od_train_rand(g) >= p_clean)
			continue;
		/* a uniform non-empty proper subset: a fair coin per frame, drawn
		 * again while the coins say all or none */
		uint8_t *clean = in_loss + (size_t)b * F;
		int n_clean;
		do {
			n_clean = 0;
			for (int f = 0; f < F; f++)
				n_clean += clean[f] = od_train_rand(g) < 0.5f;
		} while (n_clean == 0 || n_clean == F);
		for (int f = 0; f < F; f++) {
			const size_t i = (size_t)b * F + f;
			if (!clean[f]) {
				clean[f] = 1; /* in the loss */
				continue;
			}
			sigma[i] = 0;
			t[i] = (float)((double)od_train_rand(g) * t_max);
			memcpy(x_sigma + i * fsz, x0 + i * fsz, fsz * sizeof *x_sigma);
			clean[f] = 0;
		}
	}
}
