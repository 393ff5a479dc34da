/*
 * cpu_bf16.c: BF16 matrix products with float32 accumulation on the AMX tile
 * unit or with AVX512-BF16, the engine under the CPU's bf16 precision
 * (cpu_kernels.h describes the operand layouts; backend.h the precision).
 *
 * Why our own kernels and not oneDNN's: bench/gemm-bf16.sh measures both on
 * the NextDiT's shapes. The decisive points: the weights are the A operand and
 * are read exactly as the checkpoint stores them (row-major (out, in) BF16 rows
 * are what a tile load of A wants), so nothing is repacked or copied per
 * call; the activations (the B operand) are rounded and packed once per call;
 * and the accumulation order is fixed by the shape alone, which keeps od's
 * promise that the thread count never changes the bytes.
 *
 * Every function here is compiled for AVX-512 + BF16 + AMX through target
 * attributes (the rest of the binary stays baseline x86-64) and is reached only
 * after od_cpu_isa() said the CPU has it (cpu_isa.c).
 *
 * Blocking: a call computes an ni × nj block of C (A rows × B columns), K in
 * chunks of KC; per chunk, pairs of 16-row A blocks against pairs of 16-column
 * B blocks (2 × 2 accumulator tiles, 2 A and 2 B tiles: the 8 AMX tiles), the
 * accumulators living in a float32 buffer between chunks (exact: TDPBF16PS
 * rounds to float32 after every step anyway). The AVX512-BF16 kernel walks the
 * same blocks in the same k order with 8 × 32 register accumulators.
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "compute/cpu/cpu_avx512.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16")))

/* K chunk: a pair of 16-row A blocks of it is 16 KB, which stays in L1 while
 * the B blocks stream past (measured against 128, 192, 384 and 512) */
#define KC 256

/* 32 consecutive floats from p (n valid), rounded to BF16 (RNE), as 16 pairs. */
TGT static inline __m512i bf16x32(const float *p, int64_t n)
{
	__m512 lo = _mm512_maskz_loadu_ps(od_mask16(n), p), hi = _mm512_maskz_loadu_ps(od_mask16(n - 16), p + 16);
	return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

TGT void od_bf16_pack_t(uint16_t *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1)
{
	const int64_t Kp = od_bf16_kpad(K);
	for (int64_t jb = jb0; jb < jb1; jb++) {
		uint16_t *d = dst + (size_t)(jb * (Kp / 2)) * 32;
		const int64_t nv = N - jb * 16 < 16 ? N - jb * 16 : 16;
		for (int64_t k0 = 0; k0 < Kp; k0 += 32) {
			__m512i r[16];
			for (int c = 0; c < 16; c++)
				r[c] = c < nv ? bf16x32(src + (jb * 16 + c) * ld + k0, K - k0) : _mm512_setzero_si512();
			od_tr16(r);
			for (int w = 0; w < 16; w++)
				_mm512_storeu_si512(d + (size_t)(k0 / 2 + w) * 32, r[w]);
		}
	}
}

TGT void od_bf16_pack_n(uint16_t *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1)
{
	const int64_t Kp = od_bf16_kpad(K);
	for (int64_t jb = jb0; jb < jb1; jb++) {
		uint16_t *d = dst + (size_t)(jb * (Kp / 2)) * 32;
		const __mmask16 m = od_mask16(N - jb * 16);
		const float *s = src + jb * 16;
		for (int64_t r = 0; r < Kp / 2; r++) {
			__m512 a = 2 * r < K ? _mm512_maskz_loadu_ps(m, s + 2 * r * ld) : _mm512_setzero_ps();
			__m512 b = 2 * r + 1 < K ? _mm512_maskz_loadu_ps(m, s + (2 * r + 1) * ld) : _mm512_setzero_ps();
			__m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(a));
			__m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(b));
			_mm512_storeu_si512(d + (size_t)r * 32, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
		}
	}
}

/* A rows [i0, i0 + rows16) × k [k0, k0 + kc) as BF16 into dst (rows kc apart),
 * zero past the matrix. */
TGT static void stage_a(uint16_t *dst, const struct od_gemm_a *a, int64_t i0, int64_t rows16, int64_t k0, int64_t kc)
{
	for (int64_t i = 0; i < rows16; i++) {
		uint16_t *d = dst + i * kc;
		const int64_t row = i0 + i;
		if (row >= a->rows) {
			memset(d, 0, (size_t)kc * 2);
			continue;
		}
		for (int64_t k = 0; k < kc; k += 32) {
			const int64_t n = a->K - (k0 + k);
			__m512i v;
			if (a->dtype == OD_F32) {
				v = bf16x32((const float *)a->data + row * a->ld + k0 + k, n);
			} else {
				const uint16_t *s = (const uint16_t *)a->data + row * a->ld + k0 + k;
				__mmask32 m = n >= 32 ? 0xffffffffu : n <= 0 ? 0 : (__mmask32)((1u << n) - 1);
				v = _mm512_maskz_loadu_epi16(m, s);
				if (a->dtype == OD_F16) {
					__m512 lo = _mm512_cvtph_ps(_mm512_castsi512_si256(v));
					__m512 hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(v, 1));
					v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
				}
			}
			_mm512_storeu_si512(d + k, v);
		}
	}
}

/* The AMX tile configuration: tiles 0-3 accumulators (16 rows × 16 float32),
 * 4-5 A (16 rows × 32 BF16), 6-7 B (16 pair rows × 16 columns). */
struct tilecfg {
	uint8_t palette, start_row, reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
};

/* One K chunk of kc (a multiple of 32) over ni16 × nj16 tiles of cb (tile
 * (ia, jb) at cb + (ia·nj16 + jb)·256); A rows lda apart starting at the
 * chunk; B blocks bstride elements apart starting at the chunk. */
TGT static void chunk_amx(float *cb, int64_t ni16, int64_t nj16, const uint16_t *A, int64_t lda, const uint16_t *B,
			  int64_t bstride, int64_t kc, int first, const uint16_t *next, int64_t next_kc)
{
	/* The next chunk's A rows, when A is read in place (weights in the mapped
	 * checkpoint: rows far apart, which the hardware prefetchers do not
	 * follow), are prefetched a few lines per block of this chunk. */
	const int64_t lines_per_row = next ? (next_kc * 2 + 63) / 64 : 0, lines = ni16 * 16 * lines_per_row;
	const int64_t blocks = ((ni16 + 1) / 2) * ((nj16 + 1) / 2), per = blocks ? (lines + blocks - 1) / blocks : 0;
	int64_t pf = 0;
	for (int64_t ia = 0; ia < ni16; ia += 2) {
		const int two_i = ia + 1 < ni16;
		const uint16_t *a0 = A + ia * 16 * lda, *a1 = a0 + 16 * lda;
		for (int64_t jb = 0; jb < nj16; jb += 2) {
			const int two_j = jb + 1 < nj16;
			float *c00 = cb + (ia * nj16 + jb) * 256, *c01 = c00 + 256, *c10 = c00 + nj16 * 256,
			      *c11 = c10 + 256;
			const uint16_t *b0 = B + jb * bstride, *b1 = b0 + bstride;
			for (int64_t e = pf + per; pf < e && pf < lines; pf++)
				_mm_prefetch((const char *)(next + (pf / lines_per_row) * lda) + (pf % lines_per_row) * 64, _MM_HINT_T1);
			if (first) {
				_tile_zero(0);
				_tile_zero(1);
				_tile_zero(2);
				_tile_zero(3);
			} else {
				_tile_loadd(0, c00, 64);
				if (two_j)
					_tile_loadd(1, c01, 64);
				if (two_i)
					_tile_loadd(2, c10, 64);
				if (two_i && two_j)
					_tile_loadd(3, c11, 64);
			}
			if (two_i && two_j) {
				for (int64_t k = 0; k < kc; k += 32) {
					_tile_loadd(4, a0 + k, lda * 2);
					_tile_loadd(6, b0 + k * 16, 64);
					_tile_loadd(7, b1 + k * 16, 64);
					_tile_loadd(5, a1 + k, lda * 2);
					_tile_dpbf16ps(0, 4, 6);
					_tile_dpbf16ps(1, 4, 7);
					_tile_dpbf16ps(2, 5, 6);
					_tile_dpbf16ps(3, 5, 7);
				}
			} else {
				for (int64_t k = 0; k < kc; k += 32) {
					_tile_loadd(4, a0 + k, lda * 2);
					_tile_loadd(6, b0 + k * 16, 64);
					_tile_dpbf16ps(0, 4, 6);
					if (two_j) {
						_tile_loadd(7, b1 + k * 16, 64);
						_tile_dpbf16ps(1, 4, 7);
					}
					if (two_i) {
						_tile_loadd(5, a1 + k, lda * 2);
						_tile_dpbf16ps(2, 5, 6);
					}
				}
			}
			_tile_stored(0, c00, 64);
			if (two_j)
				_tile_stored(1, c01, 64);
			if (two_i)
				_tile_stored(2, c10, 64);
			if (two_i && two_j)
				_tile_stored(3, c11, 64);
		}
	}
}

/* The same chunk with VDPBF16PS: 8 A rows × 32 B columns in registers. */
TGT static void chunk_avx512(float *cb, int64_t ni16, int64_t nj16, const uint16_t *A, int64_t lda,
			     const uint16_t *B, int64_t bstride, int64_t kc, int first)
{
	for (int64_t jb = 0; jb < nj16; jb += 2)
		for (int64_t ia = 0; ia < ni16; ia++)
			for (int h = 0; h < 16; h += 8) {
				const uint16_t *a = A + (ia * 16 + h) * lda;
				const int two_j = jb + 1 < nj16;
				float *c0 = cb + (ia * nj16 + jb) * 256 + h * 16, *c1 = c0 + 256;
				const uint16_t *b0 = B + jb * bstride, *b1 = b0 + bstride;
				__m512 acc0[8], acc1[8];
#pragma GCC unroll 8
				for (int i = 0; i < 8; i++) {
					acc0[i] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c0 + i * 16);
					acc1[i] = first || !two_j ? _mm512_setzero_ps() : _mm512_loadu_ps(c1 + i * 16);
				}
				if (two_j) {
					for (int64_t r = 0; r < kc / 2; r++) {
						__m512bh v0 = (__m512bh)_mm512_loadu_si512(b0 + r * 32);
						__m512bh v1 = (__m512bh)_mm512_loadu_si512(b1 + r * 32);
#pragma GCC unroll 8
						for (int i = 0; i < 8; i++) {
							uint32_t pair;
							memcpy(&pair, a + i * lda + 2 * r, 4);
							__m512bh av = (__m512bh)_mm512_set1_epi32((int)pair);
							acc0[i] = _mm512_dpbf16_ps(acc0[i], av, v0);
							acc1[i] = _mm512_dpbf16_ps(acc1[i], av, v1);
						}
					}
				} else {
					for (int64_t r = 0; r < kc / 2; r++) {
						__m512bh v0 = (__m512bh)_mm512_loadu_si512(b0 + r * 32);
#pragma GCC unroll 8
						for (int i = 0; i < 8; i++) {
							uint32_t pair;
							memcpy(&pair, a + i * lda + 2 * r, 4);
							acc0[i] = _mm512_dpbf16_ps(acc0[i], (__m512bh)_mm512_set1_epi32((int)pair), v0);
						}
					}
				}
#pragma GCC unroll 8
				for (int i = 0; i < 8; i++) {
					_mm512_storeu_ps(c0 + i * 16, acc0[i]);
					if (two_j)
						_mm512_storeu_ps(c1 + i * 16, acc1[i]);
				}
			}
}

TGT int od_bf16_gemm(const struct od_gemm_a *a, const uint16_t *bp, int64_t N, int64_t i0, int64_t ni, int64_t j0,
		     int64_t nj, float *c, int64_t ldc, int trans)
{
	const int64_t K = a->K, Kp = od_bf16_kpad(K), ni16 = (ni + 15) / 16, nj16 = (nj + 15) / 16;
	const int64_t bstride = Kp / 2 * 32;
	const int amx = od_cpu_isa() >= OD_ISA_AMX;
	float *cb = od_cpu_thread_scratch(OD_SCRATCH_CTILE, (size_t)(ni16 * nj16 * 256));
	if (!cb)
		return OD_ENOMEM;
	uint16_t *stage = NULL;
	/* BF16 A used in place when every row of the block exists and K needs no padding */
	const int direct = a->dtype == OD_BF16 && i0 + ni16 * 16 <= a->rows && K == Kp;
	if (!direct && !(stage = (uint16_t *)od_cpu_thread_scratch(OD_SCRATCH_ASTAGE, (size_t)(ni16 * 16 * KC) / 2)))
		return OD_ENOMEM;
	if (amx) {
		struct tilecfg cfg;
		memset(&cfg, 0, sizeof cfg);
		cfg.palette = 1;
		for (int t = 0; t < 8; t++) {
			cfg.colsb[t] = 64;
			cfg.rows[t] = 16;
		}
		_tile_loadconfig(&cfg);
	}
	for (int64_t k0 = 0; k0 < Kp; k0 += KC) {
		const int64_t kc = Kp - k0 < KC ? Kp - k0 : KC;
		const uint16_t *A;
		int64_t lda;
		if (direct) {
			A = (const uint16_t *)a->data + i0 * a->ld + k0;
			lda = a->ld;
		} else {
			stage_a(stage, a, i0, ni16 * 16, k0, kc);
			A = stage;
			lda = kc;
		}
		const uint16_t *B = bp + (j0 / 16) * bstride + k0 * 16;
		const int64_t k1 = k0 + KC, kc1 = Kp - k1 < KC ? Kp - k1 : KC;
		if (amx)
			chunk_amx(cb, ni16, nj16, A, lda, B, bstride, kc, k0 == 0, direct && k1 < Kp ? A + KC : NULL, kc1);
		else
			chunk_avx512(cb, ni16, nj16, A, lda, B, bstride, kc, k0 == 0);
	}
	if (amx)
		_tile_release();
	/* store the valid part */
	const int64_t iv = (a->rows - i0 < ni ? a->rows - i0 : ni), jv = (N - j0 < nj ? N - j0 : nj);
	for (int64_t ia = 0; ia < ni16; ia++)
		for (int64_t jb = 0; jb < nj16; jb++) {
			const float *t = cb + (ia * nj16 + jb) * 256;
			const int64_t ir = iv - ia * 16, jr = jv - jb * 16;
			if (ir <= 0 || jr <= 0)
				continue;
			if (!trans) {
				const __mmask16 m = od_mask16(jr);
				for (int64_t i = 0; i < 16 && i < ir; i++)
					_mm512_mask_storeu_ps(c + (i0 + ia * 16 + i) * ldc + j0 + jb * 16, m, _mm512_loadu_ps(t + i * 16));
			} else {
				__m512i r[16];
				for (int i = 0; i < 16; i++)
					r[i] = _mm512_loadu_si512(t + i * 16);
				od_tr16(r);
				const __mmask16 m = od_mask16(ir);
				for (int64_t j = 0; j < 16 && j < jr; j++)
					_mm512_mask_storeu_ps(c + (j0 + jb * 16 + j) * ldc + i0 + ia * 16, m, (__m512)r[j]);
			}
		}
	return OD_OK;
}

#else /* not x86-64: never called (od_cpu_isa() is GENERIC) */

void od_bf16_pack_t(uint16_t *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1)
{
}

void od_bf16_pack_n(uint16_t *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1)
{
}

int od_bf16_gemm(const struct od_gemm_a *a, const uint16_t *bp, int64_t N, int64_t i0, int64_t ni, int64_t j0,
		 int64_t nj, float *c, int64_t ldc, int trans)
{
	return od_error(OD_EFAIL, "BF16 products need an x86-64 CPU with AVX512-BF16");
}
#endif
