/*
 * cpu_attention.c: multi-head attention in blocks of query rows.
 *
 * Work items are (batch, head) pairs run on the pool's threads. For each pair
 * and each block of up to QBLOCK query rows: S = Q·Kᵀ by a single-threaded
 * sgemm, then per row scale, soft-cap, bias, key mask and a float32 softmax,
 * then O = P·V by sgemm straight into the output rows. Only one block ×
 * kv_len score matrix per thread exists at a time, never the full (L × L)
 * matrix for all heads (a 4-view 512² multiview sequence has L = 8192: the
 * full matrix for 32 heads would be 8.6 GB). The blocking depends only on the
 * shape, so results are the same for every thread count.
 */
#include "compute/cpu/cpu_kernels.h"
#include "compute/cpu/cpu_simd.h"
#include "base/fastmath.h"
#include "base/error.h"
#include "base/parallel.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QBLOCK 256

/*
 * The softmax row: scale, soft-cap, bias, key mask, max, exp, sum, normalise.
 * It dominates the attention's non-sgemm time (a 512² step of the released
 * model evaluates ~10⁹ of them), so it has an AVX2+FMA version, and an AVX-512
 * one of the same operations on 16 lanes where od_cpu_isa() is AVX512 or
 * above (half the instructions: even on an AMD Zen 4, which splits 512-bit
 * operations in two, the full model's self-attention over 2 × 2048 tokens
 * took 0.51-0.54 s instead of 0.64-0.69 s, 2 threads, BF16). Determinism:
 * exp and tanh are our own polynomials with explicit fused multiply-adds, and
 * the scalar path evaluates exactly the same operations with fmaf(), so both
 * paths give the same bits; the sum is accumulated in double in a fixed lane
 * order. The CPU is asked once whether AVX2 and FMA exist (OD_NO_SIMD=1 in the
 * environment says no).
 *
 *   exp: SLEEF's expf_u10 (≤ 1 ulp): q = rint(x·log2 e), Cody-Waite reduction,
 *        degree-6 polynomial, scaling by 2^q in two halves (handles underflow);
 *        x < -104 gives 0 (masked keys are -inf).
 *   tanh: Cephes tanhf (≤ 2 ulp): x + x·z·P(z) for |x| < 0.625, else
 *        1 − 2/(exp(2|x|) + 1) with the sign; |x| ≥ 20 is ±1.
 */
/* One logit before the softmax (shared by both paths for the tails). */
static inline float logit_f(float s, const struct od_attention_desc *d, float capmul, const float *bias,
			    const uint8_t *mask, int i)
{
	float v = s * d->scale;
	if (d->softcap > 0)
		v = d->softcap * od_tanhf(s * capmul);
	if (bias)
		v += bias[i];
	if (mask && !mask[i])
		v = -INFINITY;
	return v;
}

#ifdef HAVE_AVX2_PATH
/* Returns the row max; fills row with the logits. */
__attribute__((target("avx2,fma"))) static float logits_avx2(float *row, int L, const struct od_attention_desc *d,
							      float capmul, const float *bias, const uint8_t *mask)
{
	const __m256 vscale = _mm256_set1_ps(d->scale), vcap = _mm256_set1_ps(d->softcap), vcm = _mm256_set1_ps(capmul);
	const __m256 ninf = _mm256_set1_ps(-INFINITY);
	__m256 vmx = ninf;
	int i = 0;
	for (; i + 8 <= L; i += 8) {
		__m256 s = _mm256_loadu_ps(row + i), v;
		if (d->softcap > 0)
			v = _mm256_mul_ps(vcap, tanh8(_mm256_mul_ps(s, vcm)));
		else
			v = _mm256_mul_ps(s, vscale);
		if (bias)
			v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
		if (mask) {
			__m128i m8 = _mm_loadl_epi64((const __m128i *)(mask + i));
			__m256i m32 = _mm256_cvtepu8_epi32(m8);
			__m256 zero = _mm256_castsi256_ps(_mm256_cmpeq_epi32(m32, _mm256_setzero_si256()));
			v = _mm256_blendv_ps(v, ninf, zero);
		}
		_mm256_storeu_ps(row + i, v);
		vmx = _mm256_max_ps(vmx, v);
	}
	float lanes[8], mx = -INFINITY;
	_mm256_storeu_ps(lanes, vmx);
	for (int k = 0; k < 8; k++)
		mx = lanes[k] > mx ? lanes[k] : mx;
	for (; i < L; i++) {
		row[i] = logit_f(row[i], d, capmul, bias, mask, i);
		mx = row[i] > mx ? row[i] : mx;
	}
	return mx;
}

/* row = exp(row − mx); returns the sum, accumulated in double: lanes of 4 per
 * half vector in a fixed order, then the tail. */
__attribute__((target("avx2,fma"))) static double exp_sum_avx2(float *row, int L, float mx)
{
	const __m256 vmx = _mm256_set1_ps(mx);
	__m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
	int i = 0;
	for (; i + 8 <= L; i += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + i), vmx));
		_mm256_storeu_ps(row + i, e);
		acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
		acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
	}
	double a[8];
	_mm256_storeu_pd(a, acc0);
	_mm256_storeu_pd(a + 4, acc1);
	double sum = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
	for (; i < L; i++) {
		row[i] = od_expf(row[i] - mx);
		sum += row[i];
	}
	return sum;
}


/* logits_avx2 on 16 lanes (CPUs with AVX-512): the 16-lane blocks here, the
 * rest by logits_avx2; every logit is the same operations, and a max does not
 * depend on the order it is taken in. */
__attribute__((target("avx512f,avx512bw,avx2,fma"))) static float logits_avx512(float *row, int L,
										   const struct od_attention_desc *d,
										   float capmul, const float *bias,
										   const uint8_t *mask)
{
	const __m512 vscale = _mm512_set1_ps(d->scale), vcap = _mm512_set1_ps(d->softcap), vcm = _mm512_set1_ps(capmul);
	const __m512 ninf = _mm512_set1_ps(-INFINITY);
	__m512 vmx = ninf;
	int i = 0;
	for (; i + 16 <= L; i += 16) {
		__m512 s = _mm512_loadu_ps(row + i), v;
		if (d->softcap > 0)
			v = _mm512_mul_ps(vcap, tanh16(_mm512_mul_ps(s, vcm)));
		else
			v = _mm512_mul_ps(s, vscale);
		if (bias)
			v = _mm512_add_ps(v, _mm512_loadu_ps(bias + i));
		if (mask) {
			__mmask16 zero = _mm512_cmpeq_epi32_mask(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(mask + i))),
								 _mm512_setzero_si512());
			v = _mm512_mask_blend_ps(zero, v, ninf);
		}
		_mm512_storeu_ps(row + i, v);
		vmx = _mm512_max_ps(vmx, v);
	}
	float mx = _mm512_reduce_max_ps(vmx);
	if (i < L) {
		float t = logits_avx2(row + i, L - i, d, capmul, bias ? bias + i : NULL, mask ? mask + i : NULL);
		mx = t > mx ? t : mx;
	}
	return mx;
}

/* exp_sum_avx2 on 16 lanes: the same exp, and the same double sums in the
 * same order (the low and high 4 lanes of every 8 into the two halves of
 * acc, 8 after 8), then the same tail. */
__attribute__((target("avx512f,avx2,fma"))) static double exp_sum_avx512(float *row, int L, float mx)
{
	const __m512 vmx = _mm512_set1_ps(mx);
	__m512d acc = _mm512_setzero_pd();
	int i = 0;
	for (; i + 16 <= L; i += 16) {
		__m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(row + i), vmx));
		_mm512_storeu_ps(row + i, e);
		acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
		acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
	}
	if (i + 8 <= L) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + i), _mm256_set1_ps(mx)));
		_mm256_storeu_ps(row + i, e);
		acc = _mm512_add_pd(acc, _mm512_cvtps_pd(e));
		i += 8;
	}
	double a[8];
	_mm512_storeu_pd(a, acc);
	double sum = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
	for (; i < L; i++) {
		row[i] = od_expf(row[i] - mx);
		sum += row[i];
	}
	return sum;
}
#endif

/* row ·= inv, 16 lanes at a time (the tail masked) */
__attribute__((target("avx512f"))) static void scale_avx512(float *row, int L, float inv)
{
	const __m512 v = _mm512_set1_ps(inv);
	for (int i = 0; i < L; i += 16) {
		__mmask16 m = L - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (L - i)) - 1);
		_mm512_mask_storeu_ps(row + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + i), v));
	}
}

/* The scalar twin of exp_sum_avx2: the same values and the same summation order. */
static double exp_sum_scalar(float *row, int L, float mx)
{
	double a[8] = { 0 };
	int i = 0;
	for (; i + 8 <= L; i += 8)
		for (int k = 0; k < 8; k++) {
			row[i + k] = od_expf(row[i + k] - mx);
			a[k] += row[i + k];
		}
	double sum = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
	for (; i < L; i++) {
		row[i] = od_expf(row[i] - mx);
		sum += row[i];
	}
	return sum;
}

static void softmax_rows(float *s, int rows, int L, int64_t q0, const struct od_attention_desc *d, int h, int b,
			 float *lse)
{
	const float *bias_h = d->bias ? d->bias + (size_t)h * d->q_len * d->kv_len : NULL;
	const uint8_t *mask = d->key_mask ? d->key_mask + (size_t)b * d->kv_len : NULL;
	/* soft-capped logits: softcap·tanh(s·(scale/softcap)), flash-attn's form (numerics.md §2.6) */
	const float capmul = d->softcap > 0 ? d->scale / d->softcap : 0;
#ifdef HAVE_AVX2_PATH
	/* 1: AVX2, 2: AVX-512 (16 lanes: the same bits, fewer instructions) */
	const int vec = have_avx2() ? od_cpu_isa() >= OD_ISA_AVX512 ? 2 : 1 : 0;
#endif
	for (int r = 0; r < rows; r++) {
		float *row = s + (size_t)r * L;
		const float *bias = bias_h ? bias_h + (q0 + r) * L : NULL;
		float mx = -INFINITY;
		double sum;
#ifdef HAVE_AVX2_PATH
		if (vec) {
			mx = vec == 2 ? logits_avx512(row, L, d, capmul, bias, mask) : logits_avx2(row, L, d, capmul, bias, mask);
		} else
#endif
		{
			for (int i = 0; i < L; i++) {
				row[i] = logit_f(row[i], d, capmul, bias, mask, i);
				mx = row[i] > mx ? row[i] : mx;
			}
		}
		if (mx == -INFINITY) { /* every key masked: defined as zero output */
			memset(row, 0, (size_t)L * sizeof *row);
			if (lse)
				lse[r] = -INFINITY;
			continue;
		}
#ifdef HAVE_AVX2_PATH
		if (vec)
			sum = vec == 2 ? exp_sum_avx512(row, L, mx) : exp_sum_avx2(row, L, mx);
		else
#endif
			sum = exp_sum_scalar(row, L, mx);
		if (lse) /* the row statistic the backward recomputes the probabilities from (§11.10) */
			lse[r] = (float)((double)mx + log(sum));
		float inv = (float)(1.0 / sum);
#ifdef HAVE_AVX2_PATH
		if (vec == 2)
			scale_avx512(row, L, inv);
		else
#endif
			for (int i = 0; i < L; i++)
				row[i] *= inv;
	}
}

struct attn_job {
	float *o, *lse;
	const float *q, *k, *v;
	const struct od_attention_desc *d;
	int failed;
};

static void attn_pairs(void *p, int64_t i0, int64_t i1)
{
	struct attn_job *j = p;
	const struct od_attention_desc *d = j->d;
	const int rep = d->q_heads / d->kv_heads, qb = d->q_len < QBLOCK ? d->q_len : QBLOCK;
	float *s = od_cpu_thread_scratch(OD_SCRATCH_SCORES, (size_t)qb * (size_t)d->kv_len);
	if (!s) {
		__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	for (int64_t i = i0; i < i1; i++) {
		int b = (int)(i / d->q_heads), h = (int)(i % d->q_heads);
		int kh = d->kv_map == OD_KV_GROUPED ? h / rep : h % d->kv_heads;
		const float *Q = j->q + (size_t)b * d->q_len * d->q_stride + (size_t)h * d->head_dim;
		const float *K = j->k + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
		const float *V = j->v + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
		float *O = j->o + (size_t)b * d->q_len * d->o_stride + (size_t)h * d->head_dim;
		for (int q0 = 0; q0 < d->q_len; q0 += qb) {
			int n = d->q_len - q0 < qb ? d->q_len - q0 : qb;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d->kv_len, d->head_dim, 1.0f,
				    Q + (size_t)q0 * d->q_stride, d->q_stride, K, d->kv_stride, 0.0f, s, d->kv_len);
			softmax_rows(s, n, d->kv_len, q0, d, h, b,
				     j->lse ? j->lse + ((size_t)b * d->q_heads + h) * d->q_len + q0 : NULL);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d->head_dim, d->kv_len, 1.0f, s, d->kv_len,
				    V, d->kv_stride, 0.0f, O + (size_t)q0 * d->o_stride, d->o_stride);
		}
	}
}

/* Score columns per BF16 product call: bounds the float32 accumulators. */
#define KV_CHUNK 512

static void attn_pairs_bf16(void *p, int64_t i0, int64_t i1)
{
	struct attn_job *j = p;
	const struct od_attention_desc *d = j->d;
	const int rep = d->q_heads / d->kv_heads, qb = d->q_len < QBLOCK ? d->q_len : QBLOCK;
	float *s = od_cpu_thread_scratch(OD_SCRATCH_SCORES, (size_t)qb * (size_t)d->kv_len);
	uint16_t *kp = (uint16_t *)od_cpu_thread_scratch(OD_SCRATCH_PACKED, (od_bf16_packed_len(d->head_dim, d->kv_len) + 1) / 2);
	uint16_t *vp = (uint16_t *)od_cpu_thread_scratch(OD_SCRATCH_PACKED2, (od_bf16_packed_len(d->kv_len, d->head_dim) + 1) / 2);
	if (!s || !kp || !vp) {
		__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	int packed_b = -1, packed_kh = -1;
	for (int64_t i = i0; i < i1; i++) {
		int b = (int)(i / d->q_heads), h = (int)(i % d->q_heads);
		int kh = d->kv_map == OD_KV_GROUPED ? h / rep : h % d->kv_heads;
		const float *Q = j->q + (size_t)b * d->q_len * d->q_stride + (size_t)h * d->head_dim;
		float *O = j->o + (size_t)b * d->q_len * d->o_stride + (size_t)h * d->head_dim;
		if (b != packed_b || kh != packed_kh) {
			const float *K = j->k + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
			const float *V = j->v + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
			od_bf16_pack_t(kp, K, d->kv_stride, d->head_dim, d->kv_len, 0, (d->kv_len + 15) / 16);
			od_bf16_pack_n(vp, V, d->kv_stride, d->kv_len, d->head_dim, 0, (d->head_dim + 15) / 16);
			packed_b = b, packed_kh = kh;
		}
		for (int q0 = 0; q0 < d->q_len; q0 += qb) {
			int n = d->q_len - q0 < qb ? d->q_len - q0 : qb;
			/* S (n, kv_len) = Q·Kᵀ */
			struct od_gemm_a qa = { Q + (size_t)q0 * d->q_stride, OD_F32, d->q_stride, n, d->head_dim };
			for (int c0 = 0; c0 < d->kv_len; c0 += KV_CHUNK) {
				int nc = d->kv_len - c0 < KV_CHUNK ? d->kv_len - c0 : KV_CHUNK;
				if (od_bf16_gemm(&qa, kp, d->kv_len, 0, n, c0, nc, s, d->kv_len, 0))
					goto oom;
			}
			softmax_rows(s, n, d->kv_len, q0, d, h, b,
				     j->lse ? j->lse + ((size_t)b * d->q_heads + h) * d->q_len + q0 : NULL);
			/* O (n, head_dim) = P·V */
			struct od_gemm_a pa = { s, OD_F32, d->kv_len, n, d->kv_len };
			if (od_bf16_gemm(&pa, vp, d->head_dim, 0, n, 0, d->head_dim, O + (size_t)q0 * d->o_stride, d->o_stride,
					 0))
				goto oom;
		}
	}
	return;
oom:
	__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
}

int od_cpu_attention_lse(struct od_ctx *c, float *o, float *lse, const float *q, const float *k, const float *v,
			 const struct od_attention_desc *d)
{
	if (d->q_heads <= 0 || d->kv_heads <= 0 || d->q_heads % d->kv_heads)
		return od_error(OD_EINVAL, "attention: %d query heads for %d kv heads", d->q_heads, d->kv_heads);
	if (d->q_len <= 0 || d->kv_len <= 0 || d->batch <= 0)
		return OD_OK;
	struct attn_job j = { o, lse, q, k, v, d, 0 };
	od_parallel_for((int64_t)d->batch * d->q_heads, od_cpu_bf16(c) ? attn_pairs_bf16 : attn_pairs, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "attention: out of memory for the score block");
	return OD_OK;
}

int od_cpu_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
		     const struct od_attention_desc *d)
{
	return od_cpu_attention_lse(c, o, NULL, q, k, v, d);
}

/*
 * The backward pass (numerics.md §11.10), flash style. For one query row i of
 * head h, with raw scores s_ij = q_i·k_j, logits l_ij (scale, cap, bias, mask as
 * above), p_ij = exp(l_ij − lse_i) recomputed from the forward's row statistic
 * and D_i = Σ_e dO_ie·O_ie:
 *
 *   dV_j += Σ_i p_ij dO_i
 *   dl_ij = p_ij (dO_i·V_j − D_i)
 *   ds_ij = dl_ij · scale · (1 − tanh²(s_ij·scale/cap))   (soft-cap; without: · scale)
 *   dQ_i += Σ_j ds_ij K_j,   dK_j += Σ_i ds_ij Q_i
 *
 * Work items are (batch, kv head) pairs: an item owns its kv head's dK and dV
 * and the dQ of every query head that reads that kv head, and visits those heads
 * in increasing order, query rows in blocks of QBLOCK (the forward's blocking),
 * so every sum has the same order for any thread count. Per block of rows two
 * block × kv_len matrices exist (P and dS), never an L × L one.
 */

/* Per row: p = exp(l − lse) into row (from the raw scores), dS into dp (from dO·Vᵀ). */
static void grad_row_scalar(float *row, float *dp, int L, const struct od_attention_desc *d, float capmul,
			    const float *bias, const uint8_t *mask, float lse, float Di)
{
	for (int j = 0; j < L; j++) {
		float s = row[j], fac = d->scale, l;
		if (d->softcap > 0) {
			float t = od_tanhf(s * capmul);
			l = d->softcap * t;
			fac = d->scale * (1.0f - t * t);
		} else {
			l = s * d->scale;
		}
		if (bias)
			l += bias[j];
		float p = (mask && !mask[j]) ? 0.0f : od_expf(l - lse);
		row[j] = p;
		dp[j] = p * (dp[j] - Di) * fac;
	}
}

#ifdef HAVE_AVX2_PATH
__attribute__((target("avx2,fma"))) static void grad_row_avx2(float *row, float *dp, int L,
							       const struct od_attention_desc *d, float capmul,
							       const float *bias, const uint8_t *mask, float lse,
							       float Di)
{
	const __m256 vscale = _mm256_set1_ps(d->scale), vcap = _mm256_set1_ps(d->softcap),
		     vcm = _mm256_set1_ps(capmul), vlse = _mm256_set1_ps(lse), vdi = _mm256_set1_ps(Di),
		     one = _mm256_set1_ps(1.0f);
	int j = 0;
	for (; j + 8 <= L; j += 8) {
		__m256 s = _mm256_loadu_ps(row + j), l, fac;
		if (d->softcap > 0) {
			__m256 t = tanh8(_mm256_mul_ps(s, vcm));
			l = _mm256_mul_ps(vcap, t);
			fac = _mm256_mul_ps(vscale, _mm256_sub_ps(one, _mm256_mul_ps(t, t)));
		} else {
			l = _mm256_mul_ps(s, vscale);
			fac = vscale;
		}
		if (bias)
			l = _mm256_add_ps(l, _mm256_loadu_ps(bias + j));
		__m256 p = exp8(_mm256_sub_ps(l, vlse));
		if (mask) {
			__m128i m8 = _mm_loadl_epi64((const __m128i *)(mask + j));
			__m256i m32 = _mm256_cvtepu8_epi32(m8);
			__m256 zero = _mm256_castsi256_ps(_mm256_cmpeq_epi32(m32, _mm256_setzero_si256()));
			p = _mm256_andnot_ps(zero, p);
		}
		_mm256_storeu_ps(row + j, p);
		__m256 g = _mm256_mul_ps(_mm256_mul_ps(p, _mm256_sub_ps(_mm256_loadu_ps(dp + j), vdi)), fac);
		_mm256_storeu_ps(dp + j, g);
	}
	if (j < L)
		grad_row_scalar(row + j, dp + j, L - j, d, capmul, bias ? bias + j : NULL, mask ? mask + j : NULL, lse,
				Di);
}
#endif

struct attnb_job {
	float *dq, *dk, *dv;
	const float *dout, *q, *k, *v, *o, *lse;
	const struct od_attention_desc *d;
	int failed;
};

static void attnb_items(void *p, int64_t i0, int64_t i1)
{
	struct attnb_job *j = p;
	const struct od_attention_desc *d = j->d;
	const int rep = d->q_heads / d->kv_heads, qb = d->q_len < QBLOCK ? d->q_len : QBLOCK, L = d->kv_len,
		  hd = d->head_dim;
	float *s = od_cpu_thread_scratch(1, (size_t)2 * qb * (size_t)L), *dp = s + (size_t)qb * L;
	if (!s) {
		__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	const float capmul = d->softcap > 0 ? d->scale / d->softcap : 0;
#ifdef HAVE_AVX2_PATH
	const int vec = have_avx2();
#endif
	for (int64_t it = i0; it < i1; it++) {
		const int b = (int)(it / d->kv_heads), kh = (int)(it % d->kv_heads);
		const size_t kvoff = (size_t)b * L * d->kv_stride + (size_t)kh * hd;
		const float *K = j->k + kvoff, *V = j->v + kvoff;
		float *dK = j->dk ? j->dk + kvoff : NULL, *dV = j->dv ? j->dv + kvoff : NULL;
		const uint8_t *mask = d->key_mask ? d->key_mask + (size_t)b * L : NULL;
		for (int r = 0; r < rep; r++) {
			const int h = d->kv_map == OD_KV_GROUPED ? kh * rep + r : kh + r * d->kv_heads;
			const float *Q = j->q + (size_t)b * d->q_len * d->q_stride + (size_t)h * hd;
			const float *O = j->o + (size_t)b * d->q_len * d->o_stride + (size_t)h * hd;
			const float *dO = j->dout + (size_t)b * d->q_len * d->o_stride + (size_t)h * hd;
			float *dQ = j->dq ? j->dq + (size_t)b * d->q_len * d->q_stride + (size_t)h * hd : NULL;
			const float *lse = j->lse + ((size_t)b * d->q_heads + h) * d->q_len;
			const float *bias_h = d->bias ? d->bias + (size_t)h * d->q_len * L : NULL;
			for (int q0 = 0; q0 < d->q_len; q0 += qb) {
				const int n = d->q_len - q0 < qb ? d->q_len - q0 : qb;
				/* S = Q·Kᵀ, dP = dO·Vᵀ for this block of rows */
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L, hd, 1.0f,
					    Q + (size_t)q0 * d->q_stride, d->q_stride, K, d->kv_stride, 0.0f, s, L);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L, hd, 1.0f,
					    dO + (size_t)q0 * d->o_stride, d->o_stride, V, d->kv_stride, 0.0f, dp, L);
				for (int r2 = 0; r2 < n; r2++) {
					float *row = s + (size_t)r2 * L, *dpr = dp + (size_t)r2 * L;
					const float ls = lse[q0 + r2];
					if (ls == -INFINITY) { /* every key masked: the output was 0, no gradient */
						memset(row, 0, (size_t)L * sizeof *row);
						memset(dpr, 0, (size_t)L * sizeof *dpr);
						continue;
					}
					const float *orow = O + (size_t)(q0 + r2) * d->o_stride,
						    *drow = dO + (size_t)(q0 + r2) * d->o_stride;
					double di = 0;
					for (int e = 0; e < hd; e++)
						di += (double)drow[e] * orow[e];
					const float *bias = bias_h ? bias_h + (size_t)(q0 + r2) * L : NULL;
#ifdef HAVE_AVX2_PATH
					if (vec)
						grad_row_avx2(row, dpr, L, d, capmul, bias, mask, ls, (float)di);
					else
#endif
						grad_row_scalar(row, dpr, L, d, capmul, bias, mask, ls, (float)di);
				}
				if (dQ) /* dQ += dS·K */
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, L, 1.0f, dp, L, K,
						    d->kv_stride, 1.0f, dQ + (size_t)q0 * d->q_stride, d->q_stride);
				if (dK) /* dK += dSᵀ·Q */
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, n, 1.0f, dp, L,
						    Q + (size_t)q0 * d->q_stride, d->q_stride, 1.0f, dK, d->kv_stride);
				if (dV) /* dV += Pᵀ·dO */
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, n, 1.0f, s, L,
						    dO + (size_t)q0 * d->o_stride, d->o_stride, 1.0f, dV, d->kv_stride);
			}
		}
	}
}

int od_cpu_attention_backward(struct od_ctx *c, float *dq, float *dk, float *dv, const float *dout, const float *q,
			      const float *k, const float *v, const float *o, const float *lse,
			      const struct od_attention_desc *d)
{
	if (d->q_heads <= 0 || d->kv_heads <= 0 || d->q_heads % d->kv_heads)
		return od_error(OD_EINVAL, "attention backward: %d query heads for %d kv heads", d->q_heads,
				d->kv_heads);
	if (d->q_len <= 0 || d->kv_len <= 0 || d->batch <= 0)
		return OD_OK;
	struct attnb_job j = { dq, dk, dv, dout, q, k, v, o, lse, d, 0 };
	od_parallel_for((int64_t)d->batch * d->kv_heads, attnb_items, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "attention backward: out of memory for the score blocks");
	return OD_OK;
}
