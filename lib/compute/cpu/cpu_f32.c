/*
 * cpu_f32.c: float32 matrix products on AVX-512, the engine under the fp32
 * precision's linear layers where the CPU has AVX-512 (cpu_kernels.h
 * describes the operand layouts; numerics.md §8.6 the order of the sums).
 *
 * Why not OpenBLAS's sgemm per tile, as below AVX-512: a linear layer x·Wᵀ
 * cut into tiles by od (for thread-independent bytes) made OpenBLAS pack the
 * activations again for every tile and the weights once, 12% of a NextDiT
 * step in packing alone. Here the weights are the A operand and are read in
 * place (row-major (out, in) float32 rows: each k step broadcasts one weight
 * of each of MR rows), and the activations are packed once per call into
 * 16-token panels (the B operand, one vector per k), which every tile shares.
 * BF16/F16 weights are widened a chunk of rows at a time into a buffer that
 * the tile's tokens then reuse, so they cost what float32 weights cost.
 *
 * Blocking: a call computes an ni × nj block of C (weight rows × tokens), K in
 * chunks of KC; per chunk, MR weight rows (MR·KC·4 bytes, in L1) against NP
 * panels at a time (streamed from L2), MR × NP accumulator vectors in
 * registers, added to a float32 buffer after each chunk.
 *
 * Determinism: each element of C is the chunks' sums added in chunk order,
 * each chunk one fused multiply-add chain over its k in order from zero,
 * whatever the tile it falls in, so the bytes depend on the shapes alone,
 * never on the thread count.
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "compute/cpu/cpu_avx512.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

/* K chunk; weight rows × 16-token panels per register block: 6 × 4 = 24
 * accumulators, 4 panel vectors and a broadcast in the 32 registers, 10 loads
 * per 24 FMAs. Against 12 × 2, 14 × 2, 8 × 3, 4 × 6 and chunks of 128, 384
 * and 512 (one thread of an Emerald Rapids Xeon, 512 tokens × 3840 × 3840):
 * all 150-160 GFLOP/s except 4 × 6 and chunks of 512, none clearly better;
 * the FMA units' own peak there is 176. */
#define KC 256
#define MR 6
#define NP 4

TGT void od_f32_pack_t(float *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1)
{
	for (int64_t jb = jb0; jb < jb1; jb++) {
		float *d = dst + (size_t)(jb * K) * 16;
		const int64_t nv = N - jb * 16 < 16 ? N - jb * 16 : 16;
		for (int64_t k0 = 0; k0 < K; k0 += 16) {
			const __mmask16 m = od_mask16(K - k0);
			__m512 r[16];
			for (int c = 0; c < 16; c++)
				r[c] = c < nv ? _mm512_maskz_loadu_ps(m, src + (jb * 16 + c) * ld + k0) : _mm512_setzero_ps();
			od_tr16((__m512i *)r);
			for (int w = 0; w < 16 && k0 + w < K; w++)
				_mm512_storeu_ps(d + (size_t)(k0 + w) * 16, r[w]);
		}
	}
}

/* A rows [i0, i0 + rows) × k [k0, k0 + kc) as float32 into dst (rows kc
 * apart), zero past the matrix. */
TGT static void stage_a(float *dst, const struct od_gemm_a *a, int64_t i0, int64_t rows, int64_t k0, int64_t kc)
{
	for (int64_t i = 0; i < rows; i++) {
		float *d = dst + i * kc;
		const int64_t row = i0 + i;
		if (row >= a->rows) {
			memset(d, 0, (size_t)kc * 4);
			continue;
		}
		for (int64_t k = 0; k < kc; k += 16) {
			const __mmask16 m = od_mask16(kc - k);
			__m512 v;
			if (a->dtype == OD_F32) {
				v = _mm512_maskz_loadu_ps(m, (const float *)a->data + row * a->ld + k0 + k);
			} else {
				__m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)a->data + row * a->ld + k0 + k);
				v = a->dtype == OD_F16 ? _mm512_cvtph_ps(h)
						       : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
			}
			_mm512_mask_storeu_ps(d + k, m, v);
		}
	}
}

/* mr rows of A (lda apart) × np 16-token panels (bstride apart, kc vectors
 * each) over one chunk, summed in fresh accumulators and then added to c
 * (rows ldc apart, panel p at c + 16p) unless first: per chunk a partial sum,
 * which keeps the rounding error of long K near that of a blocked sum. */
TGT __attribute__((always_inline)) static inline void block(float *c, int64_t ldc, const float *A, int64_t lda,
							    const float *B, int64_t bstride, int64_t kc, int first,
							    const int mr, const int np)
{
	__m512 acc[MR * NP];
#pragma GCC unroll 24
	for (int i = 0; i < mr * np; i++)
		acc[i] = _mm512_setzero_ps();
	for (int64_t k = 0; k < kc; k++) {
		__m512 v[NP];
#pragma GCC unroll 8
		for (int p = 0; p < np; p++)
			v[p] = _mm512_loadu_ps(B + p * bstride + k * 16);
#pragma GCC unroll 16
		for (int i = 0; i < mr; i++) {
			const __m512 a = _mm512_set1_ps(A[i * lda + k]);
#pragma GCC unroll 8
			for (int p = 0; p < np; p++)
				acc[i * np + p] = _mm512_fmadd_ps(a, v[p], acc[i * np + p]);
		}
	}
#pragma GCC unroll 16
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 8
		for (int p = 0; p < np; p++) {
			float *d = c + i * ldc + p * 16;
			_mm512_storeu_ps(d, first ? acc[i * np + p] : _mm512_add_ps(_mm512_loadu_ps(d), acc[i * np + p]));
		}
}

TGT int od_f32_gemm(const struct od_gemm_a *a, const float *bp, int64_t N, int64_t i0, int64_t ni, int64_t j0,
		    int64_t nj, float *c, int64_t ldc, const float *bias)
{
	const int64_t K = a->K, nir = (ni + MR - 1) / MR * MR, nj16 = (nj + 15) / 16, ldcb = nj16 * 16;
	float *cb = od_cpu_thread_scratch(OD_SCRATCH_CTILE, (size_t)((nir + 15) / 16 * 16 * ldcb));
	if (!cb)
		return OD_ENOMEM;
	/* float32 A used in place when every row of the block exists */
	const int direct = a->dtype == OD_F32 && i0 + nir <= a->rows;
	float *stage = NULL;
	if (!direct && !(stage = od_cpu_thread_scratch(OD_SCRATCH_ASTAGE, (size_t)(nir * KC))))
		return OD_ENOMEM;
	for (int64_t k0 = 0; k0 < K; k0 += KC) {
		const int64_t kc = K - k0 < KC ? K - k0 : KC;
		const float *A;
		int64_t lda;
		if (direct) {
			A = (const float *)a->data + i0 * a->ld + k0;
			lda = a->ld;
		} else {
			stage_a(stage, a, i0, nir, k0, kc);
			A = stage;
			lda = kc;
		}
		const float *B = bp + (j0 / 16) * K * 16 + k0 * 16;
		for (int64_t ib = 0; ib < nir; ib += MR) {
			/* Weights read in place are rows far apart, which the hardware
			 * prefetchers do not follow: the next block's rows (the next
			 * chunk's first ones after the last block) are prefetched a few
			 * lines per call of this block. */
			const float *next = NULL;
			int64_t next_kc = 0;
			if (direct && ib + MR < nir)
				next = A + (ib + MR) * lda, next_kc = kc;
			else if (direct && k0 + KC < K)
				next = A + KC, next_kc = K - k0 - KC < KC ? K - k0 - KC : KC;
			const int64_t lpr = (next_kc * 4 + 63) / 64 + 1, lines = next ? MR * lpr : 0;
			const int64_t calls = (nj16 + NP - 1) / NP, per = (lines + calls - 1) / calls;
			int64_t pf = 0;
			for (int64_t jb = 0; jb < nj16; jb += NP) {
				for (int64_t e = pf + per; pf < e && pf < lines; pf++)
					_mm_prefetch((const char *)(next + (pf / lpr) * lda) + (pf % lpr) * 64, _MM_HINT_T0);
				float *cc = cb + ib * ldcb + jb * 16;
				const float *aa = A + ib * lda, *bb = B + jb * K * 16;
				if (jb + NP <= nj16)
					block(cc, ldcb, aa, lda, bb, K * 16, kc, k0 == 0, MR, NP);
				else
					for (int64_t p = 0; jb + p < nj16; p++)
						block(cc + p * 16, ldcb, aa, lda, bb + p * K * 16, K * 16, kc, k0 == 0, MR, 1);
			}
		}
	}
	/* C block (ni rows × nj tokens) transposed into c[token·ldc + row], plus the bias */
	const int64_t iv = (a->rows - i0 < ni ? a->rows - i0 : ni), jv = (N - j0 < nj ? N - j0 : nj);
	for (int64_t ia = 0; ia < iv; ia += 16) {
		const __mmask16 m = od_mask16(iv - ia);
		const __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias + i0 + ia) : _mm512_setzero_ps();
		for (int64_t jb = 0; jb < jv; jb += 16) {
			__m512 r[16];
			for (int i = 0; i < 16; i++)
				r[i] = ia + i < nir ? _mm512_loadu_ps(cb + (ia + i) * ldcb + jb) : _mm512_setzero_ps();
			od_tr16((__m512i *)r);
			for (int64_t j = 0; j < 16 && jb + j < jv; j++)
				_mm512_mask_storeu_ps(c + (j0 + jb + j) * ldc + i0 + ia, m, bias ? _mm512_add_ps(r[j], bv) : r[j]);
		}
	}
	return OD_OK;
}

#else /* not x86-64: never called (od_cpu_isa() is GENERIC) */

void od_f32_pack_t(float *dst, const float *src, int64_t ld, int64_t K, int64_t N, int64_t jb0, int64_t jb1)
{
}

int od_f32_gemm(const struct od_gemm_a *a, const float *bp, int64_t N, int64_t i0, int64_t ni, int64_t j0,
		int64_t nj, float *c, int64_t ldc, const float *bias)
{
	return od_error(OD_EFAIL, "AVX-512 float32 products need an x86-64 CPU with AVX-512");
}
#endif
