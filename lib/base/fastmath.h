/*
 * fastmath.h: float32 exp and tanh as explicit polynomials with fused
 * multiply-adds, so that they give the same bits on every machine and in the
 * scalar and AVX2 paths of the softmax (cpu_attention.c), and so that torch's
 * float32 exp (SLEEF) can be reproduced where upstream's numbers depend on it
 * (the timestep frequencies, nextdit.c).
 *
 *   od_expf: SLEEF's expf_u10 (<= 1 ulp): q = rint(x·log2 e), Cody-Waite
 *            reduction, degree-6 polynomial, scaling by 2^q in two halves
 *            (handles underflow); x < -104 gives 0.
 *   od_tanhf: Cephes tanhf (<= 2 ulp): x + x·z·P(z) for |x| < 0.625, else
 *            1 − 2/(exp(2|x|) + 1) with the sign; |x| >= 20 is ±1.
 */
#ifndef OD_FASTMATH_H
#define OD_FASTMATH_H

#include <math.h>
#include <stdint.h>

#define EXP_LN2U 0.693145751953125f
#define EXP_LN2L 1.428606765330187045e-06f

static inline float od_pow2i_f(int q)
{
	union { uint32_t u; float f; } v = { .u = (uint32_t)(q + 0x7f) << 23 };
	return v.f;
}

static inline float od_expf(float d)
{
	if (d < -104.0f)
		return 0.0f;
	float qf = rintf(d * 1.442695040888963407359924681001892137426645954152985934135449406931f);
	int q = (int)qf;
	float s = fmaf(qf, -EXP_LN2U, d);
	s = fmaf(qf, -EXP_LN2L, s);
	float u = 0.000198527617612853646278381f;
	u = fmaf(u, s, 0.00139304355252534151077271f);
	u = fmaf(u, s, 0.00833336077630519866943359f);
	u = fmaf(u, s, 0.0416664853692054748535156f);
	u = fmaf(u, s, 0.166666671633720397949219f);
	u = fmaf(u, s, 0.5f);
	u = 1.0f + fmaf(s * s, u, s);
	return (u * od_pow2i_f(q >> 1)) * od_pow2i_f(q - (q >> 1));
}

static inline float od_tanhf(float x)
{
	float a = fabsf(x);
	if (a >= 0.625f) {
		float e = od_expf(2.0f * (a < 20.0f ? a : 20.0f));
		float r = 1.0f - 2.0f / (e + 1.0f);
		return x < 0 ? -r : r;
	}
	float z = x * x;
	float p = fmaf(-5.70498872745e-3f, z, 2.06390887954e-2f);
	p = fmaf(p, z, -5.37397155531e-2f);
	p = fmaf(p, z, 1.33314422036e-1f);
	p = fmaf(p, z, -3.33332819422e-1f);
	return fmaf(p * z, x, x);
}

#endif
