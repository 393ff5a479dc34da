/*
 * cpu_avx512.h: AVX-512 helpers shared by the kernels compiled for AVX-512
 * function by function (cpu_bf16.c, cpu_f32.c): lane masks and the 16 × 16
 * transpose of 32-bit elements. Private to lib/; include only where x86-64
 * and GCC-style target attributes are available.
 */
#ifndef OD_CPU_AVX512_H
#define OD_CPU_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* The first n of 16 lanes (none for n <= 0, all for n >= 16). */
static inline __mmask16 od_mask16(int64_t n)
{
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* 16 × 16 transpose of 32-bit elements: r[i] holds row i; afterwards column i. */
__attribute__((target("avx512f"), always_inline)) static inline void od_tr16(__m512i *r)
{
	__m512i t[16], u[16];
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	for (int i = 0; i < 4; i++) {
		u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	/* u[4i + c], 128-bit lane L: column 4L + c of rows 4i..4i+3 */
	for (int c = 0; c < 4; c++) {
		__m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee);
		__m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
		__m512i v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
		r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
		r[4 + c] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
		r[8 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88);
		r[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
	}
}

#endif
