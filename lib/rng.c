/* rng.c: torch-compatible CPU normal noise (see rng.h). */
#include "rng.h"

#include <math.h>
#include <string.h>

void od_mt_seed(struct od_mt19937 *g, uint64_t seed)
{
	/* torch's mt19937 keeps the low 32 bits of the seed (init_with_uint32) */
	g->s[0] = (uint32_t)seed;
	for (int j = 1; j < 624; j++)
		g->s[j] = 1812433253u * (g->s[j - 1] ^ (g->s[j - 1] >> 30)) + (uint32_t)j;
	g->i = 624;
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

/* torch normal_fill_16: u1 = 1 - data[j], u2 = data[j + 8], in float. */
static void box_muller16(float *d)
{
	for (int j = 0; j < 8; j++) {
		float u1 = 1.0f - d[j], u2 = d[j + 8];
		float radius = sqrtf(-2.0f * logf(u1));
		float theta = (float)(2.0 * 3.141592653589793 * (double)u2);
		d[j] = radius * cosf(theta);
		d[j + 8] = radius * sinf(theta);
	}
}

uint64_t od_randn_words(size_t n)
{
	return n >= 16 && n % 16 ? (uint64_t)n + 16 : (uint64_t)n;
}

void od_randn(uint64_t seed, uint64_t skip, size_t n, float *out)
{
	struct od_mt19937 g;
	od_mt_seed(&g, seed);
	for (uint64_t i = 0; i < skip; i++)
		od_mt_next(&g);
	if (n < 16) {
		/* torch's scalar path for tiny tensors: double Box-Muller on 53-bit
		 * uniforms, one cached sample per pair. */
		double cached = 0;
		int have = 0;
		for (size_t i = 0; i < n; i++) {
			if (have) {
				out[i] = (float)cached;
				have = 0;
				continue;
			}
			uint64_t a = od_mt_next(&g), b = od_mt_next(&g);
			double u1 = (double)(((a << 32) | b) & ((1ull << 53) - 1)) * 0x1p-53;
			a = od_mt_next(&g), b = od_mt_next(&g);
			double u2 = (double)(((a << 32) | b) & ((1ull << 53) - 1)) * 0x1p-53;
			double r = sqrt(-2.0 * log1p(-u2));
			double th = 2.0 * 3.141592653589793 * u1;
			cached = r * sin(th);
			have = 1;
			out[i] = (float)(r * cos(th));
		}
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
}
