/*
 * rng.h: seeds to noise, matching PyTorch's CPU generator.
 *
 * od draws N(0,1) noise the way torch.randn does on the CPU with
 * torch.Generator("cpu").manual_seed(seed): an MT19937 stream of 32-bit words,
 * one word per element turned into a uniform in [0, 1) with 24 bits, and
 * Box-Muller over blocks of 16 (elements j and j+8 of a block share a pair);
 * when the count is not a multiple of 16 the last 16 elements are drawn again.
 * log, sin and cos are those of torch 1.13's AVX2 path (avx_mathfun, with the
 * fused multiply-adds GCC makes of it), so a seed gives the same noise as the
 * Python float32 pipeline bit for bit (all of the golden runs' draws), which
 * lets `--seed` reproduce upstream runs (numerics.md §5.5).
 *
 * A pipeline draws several tensors from one generator in turn; od_randn()
 * takes the number of 32-bit words drawn before (skip) so each tool can
 * start where upstream's call would.
 */
#ifndef OD_RNG_H
#define OD_RNG_H

#include <stddef.h>
#include <stdint.h>

/* out[0..n) = torch.randn(n) after `skip` 32-bit words of the seed's stream. */
void od_randn(uint64_t seed, uint64_t skip, size_t n, float *out);

/* out[0..n) = torch.randn(n) drawn from g where it stands; g then stands after
 * the words it consumed (od_randn_words(n) from a generator with no cached
 * sample). Lets a tool that draws many tensors in turn (one per condition
 * image) keep one generator instead of skipping from the seed each time.
 * Fewer than 16 values take torch's scalar path: Box-Muller pairs on 53-bit
 * uniforms (four words a pair), the second value of a pair cached in the
 * generator for the next scalar draw, as torch's CPU generator caches it
 * (numerics.md §5.5); 16 or more leave that cache alone. */
struct od_mt19937;
void od_randn_next(struct od_mt19937 *g, size_t n, float *out);

/* The number of 32-bit words torch.randn(n) consumes from a generator with no
 * cached sample: n, or n + 16 when n > 16 and n % 16 != 0 (the redraw of the
 * last block); 4·ceil(n/2) below 16 (the scalar path). */
uint64_t od_randn_words(size_t n);

/* A raw MT19937 stream, for callers that need uniform words. */
struct od_mt19937 {
	uint32_t s[624];
	int i;
	int have_normal; /* the scalar path's cached second sample (torch's next_double_normal_sample) */
	double normal;
};
void od_mt_seed(struct od_mt19937 *g, uint64_t seed);
uint32_t od_mt_next(struct od_mt19937 *g);

#endif
