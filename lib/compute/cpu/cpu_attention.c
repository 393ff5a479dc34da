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
 * model evaluates ~10⁹ of them), so it has an AVX2+FMA version. Determinism:
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

/* OD_NO_SIMD=1 in the environment forces the scalar path (to check that both
 * give the same bits: tests/t0410-denoise-batch.sh). */
static int have_avx2(void)
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

static void softmax_rows(float *s, int rows, int L, int64_t q0, const struct od_attention_desc *d, int h, int b)
{
	const float *bias_h = d->bias ? d->bias + (size_t)h * d->q_len * d->kv_len : NULL;
	const uint8_t *mask = d->key_mask ? d->key_mask + (size_t)b * d->kv_len : NULL;
	/* soft-capped logits: softcap·tanh(s·(scale/softcap)), flash-attn's form (numerics.md §2.6) */
	const float capmul = d->softcap > 0 ? d->scale / d->softcap : 0;
#ifdef HAVE_AVX2_PATH
	const int vec = have_avx2();
#endif
	for (int r = 0; r < rows; r++) {
		float *row = s + (size_t)r * L;
		const float *bias = bias_h ? bias_h + (q0 + r) * L : NULL;
		float mx = -INFINITY;
		double sum;
#ifdef HAVE_AVX2_PATH
		if (vec) {
			mx = logits_avx2(row, L, d, capmul, bias, mask);
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
			continue;
		}
#ifdef HAVE_AVX2_PATH
		if (vec)
			sum = exp_sum_avx2(row, L, mx);
		else
#endif
			sum = exp_sum_scalar(row, L, mx);
		float inv = (float)(1.0 / sum);
		for (int i = 0; i < L; i++)
			row[i] *= inv;
	}
}

struct attn_job {
	float *o;
	const float *q, *k, *v;
	const struct od_attention_desc *d;
	int failed;
};

static void attn_pairs(void *p, int64_t i0, int64_t i1)
{
	struct attn_job *j = p;
	const struct od_attention_desc *d = j->d;
	const int rep = d->q_heads / d->kv_heads, qb = d->q_len < QBLOCK ? d->q_len : QBLOCK;
	float *s = od_cpu_thread_scratch(1, (size_t)qb * (size_t)d->kv_len);
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
			softmax_rows(s, n, d->kv_len, q0, d, h, b);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d->head_dim, d->kv_len, 1.0f, s, d->kv_len,
				    V, d->kv_stride, 0.0f, O + (size_t)q0 * d->o_stride, d->o_stride);
		}
	}
}

int od_cpu_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
		     const struct od_attention_desc *d)
{
	if (d->q_heads <= 0 || d->kv_heads <= 0 || d->q_heads % d->kv_heads)
		return od_error(OD_EINVAL, "attention: %d query heads for %d kv heads", d->q_heads, d->kv_heads);
	if (d->q_len <= 0 || d->kv_len <= 0 || d->batch <= 0)
		return OD_OK;
	struct attn_job j = { o, q, k, v, d, 0 };
	od_parallel_for((int64_t)d->batch * d->q_heads, attn_pairs, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "attention: out of memory for the score block");
	return OD_OK;
}
