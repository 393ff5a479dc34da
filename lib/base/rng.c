/* rng.c: torch-compatible CPU normal noise (see rng.h). */
#include "base/rng.h"

#include <math.h>
#include <string.h>

void od_mt_seed(struct od_mt19937 *g, uint64_t seed)
{
	/* torch's mt19937 keeps the low 32 bits of the seed (init_with_uint32) */
	g->s[0] = (uint32_t)seed;
	for (int j = 1; j < 624; j++)
		g->s[j] = 1812433253u * (g->s[j - 1] ^ (g->s[j - 1] >> 30)) + (uint32_t)j;
	g->i = 624;
	g->have_normal = 0;
	g->normal = 0;
}

static void twist(struct od_mt19937 *g)
{
	for (int k = 0; k < 624; k++) {
		uint32_t y = (g->s[k] & 0x80000000u) | (g->s[(k + 1) % 624] & 0x7fffffffu);
		g->s[k] = g->s[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) ? 0x9908b0dfu : 0);
	}
	g->i = 0;
}

uint32_t od_mt_next(struct od_mt19937 *g)
{
	if (g->i >= 624)
		twist(g);
	uint32_t y = g->s[g->i++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

static float uniform24(struct od_mt19937 *g)
{
	return (float)((double)(od_mt_next(g) & 0xffffffu) * (1.0 / 16777216.0));
}

/*
 * Box-Muller as torch 1.13 computes it on an AVX2 CPU (normal_fill_16_AVX2):
 * log and sincos are avx_mathfun's log256_ps and sincos256_ps (Cephes
 * polynomials), compiled by GCC with -mfma, which fuses each multiply that
 * feeds an add into one fused multiply-add. The scalar functions below do
 * those exact operations, fused where GCC fuses them (fmaf is correctly
 * rounded everywhere), so the noise is bit for bit torch's: all 17,408 values
 * of the golden pipeline runs' draws (seeds 1001-1004, tests/unit/test_rng.c).
 * The unfused reading of the same code differs in ~1% of the values by 1-2 ulp.
 */
static float log256(float x0)
{
	union { float f; uint32_t u; } v = { .f = x0 < 1.17549435e-38f ? 1.17549435e-38f : x0 };
	float e = (float)((int)(v.u >> 23) - 0x7f) + 1.0f;
	v.u = (v.u & ~0x7f800000u) | 0x3f000000u; /* mantissa in [0.5, 1) */
	float x = v.f;
	float tmp = x < 0.707106781186547524f ? x : 0.0f; /* x < sqrt(1/2): e -= 1, x = 2x - 1 */
	e = e - (x < 0.707106781186547524f ? 1.0f : 0.0f);
	x = x - 1.0f;
	x = x + tmp;
	float z = x * x;
	static const float p[9] = { 7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f,
				    1.4249322787E-1f, -1.6668057665E-1f, 2.0000714765E-1f, -2.4999993993E-1f,
				    3.3333331174E-1f };
	float y = p[0];
	for (int k = 1; k < 9; k++)
		y = fmaf(y, x, p[k]);
	y = y * x;
	y = fmaf(y, z, e * -2.12194440e-4f);
	y = y - z * 0.5f;
	x = x + y;
	return fmaf(e, 0.693359375f, x);
}

static void sincos256(float xin, float *s, float *c)
{
	float x = fabsf(xin);
	int j = (int)(x * 1.27323954473516f); /* 4/π, truncated */
	j = (j + 1) & ~1;
	float y = (float)j;
	int sign_sin = (xin < 0) ^ ((j & 4) != 0), sign_cos = ((j - 2) & 4) == 0, poly = (j & 2) == 0;
	x = fmaf(y, -0.78515625f, x); /* extended-precision reduction by π/4 */
	x = fmaf(y, -2.4187564849853515625e-4f, x);
	x = fmaf(y, -3.77489497744594108e-8f, x);
	float z = x * x;
	float yc = fmaf(2.443315711809948E-005f, z, -1.388731625493765E-003f);
	yc = fmaf(yc, z, 4.166664568298827E-002f);
	yc = yc * z;
	yc = fmaf(yc, z, -(z * 0.5f)) + 1.0f;
	float ys = fmaf(-1.9515295891E-4f, z, 8.3321608736E-3f);
	ys = fmaf(ys, z, -1.6666654611E-1f);
	ys = ys * z;
	ys = fmaf(ys, x, x);
	float ss = poly ? ys : yc, cc = poly ? yc : ys;
	*s = sign_sin ? -ss : ss;
	*c = sign_cos ? -cc : cc;
}

/* torch normal_fill_16: u1 = 1 - data[j], u2 = data[j + 8], in float. */
static void box_muller16(float *d)
{
	for (int j = 0; j < 8; j++) {
		float u1 = 1.0f - d[j], u2 = d[j + 8];
		float radius = sqrtf(-2.0f * log256(u1));
		float theta = (float)(2.0 * 3.141592653589793) * u2;
		float sn, cs;
		sincos256(theta, &sn, &cs);
		d[j] = radius * cs;
		d[j + 8] = radius * sn;
	}
}

uint64_t od_randn_words(size_t n)
{
	if (n < 16)
		return 4 * (((uint64_t)n + 1) / 2);
	return n % 16 ? (uint64_t)n + 16 : (uint64_t)n;
}

void od_randn(uint64_t seed, uint64_t skip, size_t n, float *out)
{
	struct od_mt19937 g;
	od_mt_seed(&g, seed);
	for (uint64_t i = 0; i < skip; i++)
		od_mt_next(&g);
	od_randn_next(&g, n, out);
}

void od_randn_next(struct od_mt19937 *gen, size_t n, float *out)
{
	struct od_mt19937 g = *gen;
	if (n < 16) {
		/* torch's scalar path for tiny tensors (at::normal_distribution<double>):
		 * Box-Muller on 53-bit uniforms, cos returned, sin cached in the generator
		 * for the next scalar draw, which may belong to a later call. */
		for (size_t i = 0; i < n; i++) {
			if (g.have_normal) {
				g.have_normal = 0;
				out[i] = (float)g.normal;
				continue;
			}
			uint64_t a = od_mt_next(&g), b = od_mt_next(&g);
			double u1 = (double)(((a << 32) | b) & ((1ull << 53) - 1)) * 0x1p-53;
			a = od_mt_next(&g), b = od_mt_next(&g);
			double u2 = (double)(((a << 32) | b) & ((1ull << 53) - 1)) * 0x1p-53;
			double r = sqrt(-2.0 * log1p(-u2));
			double th = 2.0 * 3.141592653589793 * u1;
			g.normal = r * sin(th);
			g.have_normal = 1;
			out[i] = (float)(r * cos(th));
		}
		*gen = g;
		return;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = uniform24(&g);
	for (size_t i = 0; i + 16 <= n; i += 16)
		box_muller16(out + i);
	if (n % 16) {
		float *d = out + n - 16;
		for (int i = 0; i < 16; i++)
			d[i] = uniform24(&g);
		box_muller16(d);
	}
	*gen = g;
}
