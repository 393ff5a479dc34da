/*
 * cpu_simd.h: the AVX2+FMA versions of fastmath.h's exp and tanh (8 lanes,
 * and 16 with AVX-512F),
 * shared by the CPU kernels that vectorise with them (the softmax of
 * cpu_attention.c and its backward, the SwiGLU backward). They evaluate exactly
 * the operations of od_expf/od_tanhf, so the scalar tails and the scalar path
 * (OD_NO_SIMD=1, or a CPU without AVX2) give the same bits. Private to lib/.
 */
#ifndef OD_CPU_SIMD_H
#define OD_CPU_SIMD_H

#include "base/fastmath.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 d)
{
	const __m256 log2e = _mm256_set1_ps(1.442695040888963407359924681001892137426645954152985934135449406931f);
	__m256 qf = _mm256_round_ps(_mm256_mul_ps(d, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256i q = _mm256_cvtps_epi32(qf);
	__m256 s = _mm256_fmadd_ps(qf, _mm256_set1_ps(-EXP_LN2U), d);
	s = _mm256_fmadd_ps(qf, _mm256_set1_ps(-EXP_LN2L), s);
	__m256 u = _mm256_set1_ps(0.000198527617612853646278381f);
	u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.00139304355252534151077271f));
	u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.00833336077630519866943359f));
	u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.0416664853692054748535156f));
	u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.166666671633720397949219f));
	u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.5f));
	u = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(s, s), u, s));
	__m256i q1 = _mm256_srai_epi32(q, 1), q2 = _mm256_sub_epi32(q, q1), bias = _mm256_set1_epi32(0x7f);
	__m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(q1, bias), 23));
	__m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(q2, bias), 23));
	u = _mm256_mul_ps(_mm256_mul_ps(u, p1), p2);
	/* d < -104 (and -inf): 0 */
	return _mm256_andnot_ps(_mm256_cmp_ps(d, _mm256_set1_ps(-104.0f), _CMP_LT_OQ), u);
}

__attribute__((target("avx2,fma"))) static inline __m256 tanh8(__m256 x)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 a = _mm256_andnot_ps(sign, x);
	/* large branch: 1 − 2/(exp(2·min(|x|, 20)) + 1), with x's sign */
	__m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(2.0f), _mm256_min_ps(a, _mm256_set1_ps(20.0f))));
	__m256 r = _mm256_sub_ps(_mm256_set1_ps(1.0f),
				 _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
	r = _mm256_or_ps(r, _mm256_and_ps(sign, x));
	/* small branch: x + x·z·P(z) */
	__m256 z = _mm256_mul_ps(x, x);
	__m256 p = _mm256_fmadd_ps(_mm256_set1_ps(-5.70498872745e-3f), z, _mm256_set1_ps(2.06390887954e-2f));
	p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
	p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
	p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
	__m256 sm = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
	return _mm256_blendv_ps(sm, r, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_GE_OQ));
}

/* The same two functions on 16 lanes (AVX-512F), for CPUs where od_cpu_isa()
 * is AVX512 or above: lane for lane the operations of exp8/tanh8, so the same
 * bits. */
#define OD_AVX512F_TARGET __attribute__((target("avx512f")))

OD_AVX512F_TARGET static inline __m512 exp16(__m512 d)
{
	const __m512 log2e = _mm512_set1_ps(1.442695040888963407359924681001892137426645954152985934135449406931f);
	__m512 qf = _mm512_roundscale_ps(_mm512_mul_ps(d, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512i q = _mm512_cvtps_epi32(qf);
	__m512 s = _mm512_fmadd_ps(qf, _mm512_set1_ps(-EXP_LN2U), d);
	s = _mm512_fmadd_ps(qf, _mm512_set1_ps(-EXP_LN2L), s);
	__m512 u = _mm512_set1_ps(0.000198527617612853646278381f);
	u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.00139304355252534151077271f));
	u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.00833336077630519866943359f));
	u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.0416664853692054748535156f));
	u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.166666671633720397949219f));
	u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.5f));
	u = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_mul_ps(s, s), u, s));
	__m512i q1 = _mm512_srai_epi32(q, 1), q2 = _mm512_sub_epi32(q, q1), bias = _mm512_set1_epi32(0x7f);
	__m512 p1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(q1, bias), 23));
	__m512 p2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(q2, bias), 23));
	u = _mm512_mul_ps(_mm512_mul_ps(u, p1), p2);
	/* d < -104 (and -inf): 0 */
	return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, _mm512_set1_ps(-104.0f), _CMP_NLT_UQ), u);
}

OD_AVX512F_TARGET static inline __m512 tanh16(__m512 x)
{
	const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
	__m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
	/* large branch: 1 − 2/(exp(2·min(|x|, 20)) + 1), with x's sign */
	__m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(2.0f), _mm512_min_ps(a, _mm512_set1_ps(20.0f))));
	__m512 r = _mm512_sub_ps(_mm512_set1_ps(1.0f),
				 _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
	r = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), _mm512_and_si512(sign, _mm512_castps_si512(x))));
	/* small branch: x + x·z·P(z) */
	__m512 z = _mm512_mul_ps(x, x);
	__m512 p = _mm512_fmadd_ps(_mm512_set1_ps(-5.70498872745e-3f), z, _mm512_set1_ps(2.06390887954e-2f));
	p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
	p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
	p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
	__m512 sm = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
	return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_GE_OQ), sm, r);
}

/* OD_NO_SIMD=1 in the environment forces the scalar path (to check that both
 * give the same bits: tests/t0410-denoise-determinism.sh). */
static inline int have_avx2(void)
{
	static int v = -1;
	if (v < 0) {
		const char *e = getenv("OD_NO_SIMD");
		__builtin_cpu_init();
		v = !(e && *e && strcmp(e, "0")) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	}
	return v;
}
#endif

#endif
